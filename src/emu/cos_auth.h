/*
 * cos_auth.h: the COS XML API request signature (q-sign-algorithm=sha1), as
 * cos-js-sdk-v5 (browser) and cos-nodejs-sdk-v5 compute it, verified the way
 * a COS endpoint would.
 *
 *   SignKey      = hex(HMAC-SHA1(secretKey, q-key-time))
 *   HttpString   = lower(method) "\n" decoded-path "\n" params "\n" headers "\n"
 *   StringToSign = "sha1\n" q-sign-time "\n" hex(SHA1(HttpString)) "\n"
 *   q-signature  = hex(HMAC-SHA1(SignKey, StringToSign))
 *
 * params/headers are "k=v&k=v": only the names listed in q-url-param-list /
 * q-header-list, keys percent-encoded then lower-cased, values percent-
 * encoded (everything but A-Z a-z 0-9 - _ . ~, upper-case hex, as the SDK's
 * camSafeUrlEncode), sorted by encoded key.
 *
 * Pure: no I/O, no clock (callers pass `now`). struct cos_auth borrows
 * nothing: every field is a copy, so the Authorization value may be freed
 * after cos_auth_parse(). Policy (stricter than COS, on purpose): every query
 * parameter of the request must be signed (all SDKs sign all of them), every
 * signed name must be present, and names must be unique.
 */
#ifndef VG_EMU_COS_AUTH_H
#define VG_EMU_COS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"

enum cos_auth_result {
  COS_AUTH_OK = 0,
  COS_AUTH_MALFORMED,      /* Authorization unparseable or times invalid */
  COS_AUTH_EXPIRED,        /* now is after q-sign-time / q-key-time end */
  COS_AUTH_NOT_YET,        /* now is before the window start (beyond skew) */
  COS_AUTH_UNSIGNED_PARAM, /* a query parameter is not in q-url-param-list */
  COS_AUTH_MISSING,        /* a signed header or parameter is absent */
  COS_AUTH_BAD_REQUEST,    /* the request itself is malformed (path, query) */
  COS_AUTH_MISMATCH,       /* the signature does not match */
};

struct cos_auth {
  char ak[COS_AUTH_MAX_AK + 1];
  char sign_time[COS_AUTH_MAX_TIME + 1]; /* verbatim "start;end" */
  char key_time[COS_AUTH_MAX_TIME + 1];
  int64_t sign_start, sign_end, key_start, key_end;
  char header_list[COS_AUTH_MAX_LIST + 1]; /* verbatim, e.g. "content-length;host" */
  char param_list[COS_AUTH_MAX_LIST + 1];
  unsigned char signature[20];
};

/* One request header as received (name in any case, value with OWS trimmed). */
struct cos_header {
  const char *name;
  const char *value;
};

/* The parts of a request the signature covers. path is the raw request path
 * as on the wire (percent-encoded, no query, no scheme/host); query is the raw
 * text after '?' (NULL or "" if none). */
struct cos_request {
  const char *method;
  const char *path;
  size_t path_len;
  const char *query;
  size_t query_len;
  const struct cos_header *headers;
  size_t n_headers;
};

/* Parse an Authorization header value. Requires every q- field once, in any
 * order, q-sign-algorithm=sha1, times "digits;digits" with start <= end, a
 * 40-hex signature, and lists of [a-z0-9%._~-] names joined by ';'.
 * Returns COS_AUTH_OK or COS_AUTH_MALFORMED; *out is zeroed on failure. */
enum cos_auth_result cos_auth_parse(const char *value, size_t len, struct cos_auth *out);

/* Append the HttpString for req under a's lists to out (which bounds it).
 * Returns COS_AUTH_OK, COS_AUTH_BAD_REQUEST, COS_AUTH_UNSIGNED_PARAM,
 * COS_AUTH_MISSING; COS_AUTH_BAD_REQUEST also when out's limit is hit. */
enum cos_auth_result cos_auth_http_string(const struct cos_auth *a, const struct cos_request *req,
                                          struct buf *out);

/* Full check: the time windows against now (start may be up to skew seconds in
 * the future, the end is exact), then the HttpString, then the MAC compared in
 * constant time. The caller checks a->ak and the security token itself. */
enum cos_auth_result cos_auth_verify(const struct cos_auth *a, const struct cos_request *req,
                                     const char *secret_key, size_t key_len, int64_t now,
                                     int64_t skew);

/* Compute the hex q-signature (41 bytes with NUL) for a request, as a client
 * would: used by tests and by `vodgate upload`. Same errors as
 * cos_auth_http_string. */
enum cos_auth_result cos_auth_sign(const struct cos_auth *a, const struct cos_request *req,
                                   const char *secret_key, size_t key_len, char hex_out[41]);

/* The COS XML error for a result: HTTP status and <Code>, e.g. 403
 * "SignatureDoesNotMatch"; a fixed, secret-free <Message>. */
int cos_auth_http_status(enum cos_auth_result r);
const char *cos_auth_error_code(enum cos_auth_result r);
const char *cos_auth_error_message(enum cos_auth_result r);

#endif
