/*
 * fuzz_jwks: the JWKS parser (jwt_verifier_new with jwks_json) over
 * arbitrary bytes: since [auth] jwks_url, a JWKS comes from the network.
 * Properties beyond "no crash, no leak": a verifier is built exactly when no
 * error is reported, holds 1..JWT_MAX_KEYS keys, and a built verifier
 * refuses a token no key signed (jwt_verify does not crash on any key
 * kind the JWKS produced).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/limits.h"
#include "core/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  log_set_level(LOG_ERROR); /* skipped entries are logged as warnings */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* An RS256 header naming kid "k", a payload, a signature no key made. */
  static const char tok[] =
      "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ1IiwiZXhwIjo5OTk5OTk5OTk5fQ."
      "AAAA";
  struct jwt_config c;
  struct jwt_identity id;
  struct jwt_verifier *v;
  char *text, err[512] = "";

  if (size > JWT_MAX_KEY_FILE)
    return 0;
  text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  jwt_config_init(&c);
  c.jwks_json = text;
  c.jwks_source = "jwks_url";
  v = jwt_verifier_new(&c, err, sizeof(err));
  if (v) {
    size_t n = jwt_verifier_key_count(v);
    if (err[0] != '\0' || n == 0 || n > JWT_MAX_KEYS)
      abort();
    if (jwt_verify(v, tok, strlen(tok), 1000, &id) == AUTH_OK)
      abort();
    jwt_verifier_free(v);
  } else if (err[0] == '\0') {
    abort();
  }
  free(text);
  return 0;
}
