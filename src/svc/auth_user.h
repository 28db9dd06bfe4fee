/*
 * auth_user.h: who is calling, for every user-facing endpoint
 * (POST /v1/upload-signatures, GET /v1/uploads/...): a JWT from the app's
 * identity provider, or an API token (vodgate token add), or, only with
 * [auth] allow_anonymous, nobody ("anonymous", [policy default]).
 *
 * Ownership: struct svc_identity is a plain value filled by
 * svc_authenticate(); it owns nothing.
 */
#ifndef VG_SVC_AUTH_USER_H
#define VG_SVC_AUTH_USER_H

#include "core/limits.h"

struct app;
struct svc_state;
struct http_req;
struct http_res;

/* The user id of requests without credentials (allow_anonymous). Reserved:
 * a JWT sub or API token user of that name is refused (401), so no token
 * shares the anonymous callers' quota and uploads. */
#define SVC_ANONYMOUS_USER "anonymous"

struct svc_identity {
  char user[STORE_MAX_USER + 1];
  char policy[STORE_MAX_POLICY + 1]; /* the JWT's policy claim, the token's policy, or "default" */
  const char *via;                   /* "jwt", "api_token", "anonymous" (static strings) */
};

/* Authenticate req with the keys of st. Returns 0 and fills *who, or -1
 * after answering res: 401 (4010 missing credentials, 4011 bad token, 4012
 * expired or not yet valid; with WWW-Authenticate), 503 (token store
 * unavailable) or 500. Counts failures in vodgate_auth_failures_total. */
int svc_authenticate(struct app *app, struct svc_state *st, struct http_req *req,
                     struct http_res *res, struct svc_identity *who);

#endif
