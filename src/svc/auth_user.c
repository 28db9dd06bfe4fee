/*
 * auth_user.c: svc_authenticate() (see auth_user.h), shared by the
 * signature endpoint and the uploads API.
 */
#include "svc/auth_user.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/apitoken.h"
#include "auth/jwt.h"
#include "http/http.h"
#include "http/metrics.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/jwks.h"
#include "svc/state.h"

static int64_t now_s(void)
{
  return (int64_t)time(NULL);
}

static void deny_auth(struct http_res *res, enum auth_error e)
{
  int code = e == AUTH_MISSING                                ? VG_CODE_MISSING_CREDENTIALS
             : (e == AUTH_EXPIRED || e == AUTH_NOT_YET_VALID) ? VG_CODE_EXPIRED_TOKEN
                                                              : VG_CODE_BAD_TOKEN;
  char msg[128];

  metrics_inc("vodgate_auth_failures_total", "reason", auth_error_str(e));
  if (e == AUTH_INTERNAL) {
    http_error(res, 500, VG_CODE_INTERNAL, "internal error while checking the token");
    return;
  }
  if (code == VG_CODE_MISSING_CREDENTIALS)
    snprintf(msg, sizeof(msg), "missing credentials: send Authorization: Bearer <token>");
  else
    snprintf(msg, sizeof(msg), "%s (%s)",
             code == VG_CODE_EXPIRED_TOKEN ? "token not valid at this time" : "bad token",
             auth_error_str(e));
  http_error(res, 401, code, msg);
  (void)http_res_header(res, "WWW-Authenticate",
                        code == VG_CODE_MISSING_CREDENTIALS ? "Bearer"
                                                            : "Bearer error=\"invalid_token\"");
}

int svc_authenticate(struct app *app, struct svc_state *st, struct http_req *req,
                     struct http_res *res, struct svc_identity *who)
{
  const char *hdr = http_req_header(req, "Authorization");
  const char *tok;
  size_t len;
  enum auth_error e;

  memset(who, 0, sizeof(*who));
  if (!hdr && st->allow_anonymous) {
    snprintf(who->user, sizeof(who->user), "%s", SVC_ANONYMOUS_USER);
    snprintf(who->policy, sizeof(who->policy), "default");
    who->via = "anonymous";
    return 0;
  }
  e = auth_bearer_parse(hdr, AUTH_MAX_TOKEN, &tok, &len);
  if (e != AUTH_OK) {
    deny_auth(res, e);
    return -1;
  }
  if (apitoken_looks_like(tok, len)) {
    char hash[APITOKEN_HASH_LEN + 1];
    struct store_token t;
    int rc;
    if (!apitoken_valid(tok, len) || apitoken_hash(tok, len, hash)) {
      deny_auth(res, AUTH_MALFORMED);
      return -1;
    }
    rc = store_token_find(app->store, hash, &t);
    if (rc == VG_NOTFOUND) {
      deny_auth(res, AUTH_UNKNOWN_TOKEN);
      return -1;
    }
    if (rc) {
      http_error(res, 503, VG_CODE_UNAVAILABLE, "token store unavailable");
      return -1;
    }
    if (strcmp(t.user_id, SVC_ANONYMOUS_USER) == 0) {
      deny_auth(res, AUTH_MALFORMED); /* reserved: see below */
      return -1;
    }
    snprintf(who->user, sizeof(who->user), "%s", t.user_id);
    snprintf(who->policy, sizeof(who->policy), "%s", t.policy[0] ? t.policy : "default");
    who->via = "api_token";
    return 0;
  }
  if (!st->jwt) {
    deny_auth(res, AUTH_ALG_NOT_ALLOWED); /* no JWT key configured: no JWT accepted */
    return -1;
  }
  {
    struct jwt_identity id;
    e = jwt_verify(st->jwt, tok, len, now_s(), &id);
    if (e == AUTH_UNKNOWN_KID)
      jwks_kick(); /* [auth] jwks_url: the provider may have a new key */
    if (e != AUTH_OK) {
      deny_auth(res, e);
      return -1;
    }
    /* The user id of requests without credentials ([auth] allow_anonymous)
     * is no one else's: a token naming it would share their quota and see
     * their uploads. */
    if (strlen(id.sub) > STORE_MAX_USER || strcmp(id.sub, SVC_ANONYMOUS_USER) == 0 ||
        (id.policy && (strlen(id.policy) > STORE_MAX_POLICY || !*id.policy))) {
      jwt_identity_release(&id);
      deny_auth(res, AUTH_MALFORMED);
      return -1;
    }
    snprintf(who->user, sizeof(who->user), "%s", id.sub);
    snprintf(who->policy, sizeof(who->policy), "%s", id.policy ? id.policy : "default");
    jwt_identity_release(&id);
    who->via = "jwt";
  }
  return 0;
}
