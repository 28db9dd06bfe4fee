/*
 * tc3.h: TencentCloud API 3.0 request signing, TC3-HMAC-SHA256 (spec
 * tencent-vod.md section 6), for our API client (PullEvents, ConfirmEvents)
 * and for the emulator that verifies such requests.
 *
 * Pure: no clock reads (the timestamp and `now` are inputs), no I/O. All
 * strings are borrowed and NUL-terminated unless a length is given; no
 * function keeps a pointer after it returns. Secret keys are used in place
 * and every derived key is wiped before return.
 *
 *   CanonicalRequest = METHOD "\n" "/" "\n" query "\n"
 *                      "content-type:" lower(trim(ct)) "\n"
 *                      "host:" lower(trim(host)) "\n" "\n"
 *                      "content-type;host" "\n" hex(sha256(payload))
 *   StringToSign     = "TC3-HMAC-SHA256\n" ts "\n" date "/" service
 *                      "/tc3_request\n" hex(sha256(CanonicalRequest))
 *   kDate = HMAC("TC3" + key, date), kService = HMAC(kDate, service),
 *   kSigning = HMAC(kService, "tc3_request"), sig = hex(HMAC(kSigning, sts))
 *
 * date is YYYY-MM-DD of the timestamp in UTC.
 */
#ifndef VG_TC3_H
#define VG_TC3_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"

#define TC3_ALGORITHM "TC3-HMAC-SHA256"
#define TC3_DATE_LEN  10             /* YYYY-MM-DD */
#define TC3_SIG_LEN   64             /* lower-case hex of SHA-256 */
#define TC3_TS_MAX    253402300799LL /* 9999-12-31T23:59:59Z */

/* One request to sign (or to check). */
struct tc3_request {
  const char *method;       /* "POST" or "GET", upper case */
  const char *host;         /* the Host header as signed, e.g. "vod.tencentcloudapi.com" */
  const char *query;        /* GET: the query string as sent; POST: NULL or "" */
  const char *content_type; /* the Content-Type header as sent */
  const char *payload;      /* request body (GET: NULL, hashed as empty) */
  size_t payload_len;
  const char *service; /* the credential scope service, e.g. "vod" */
  int64_t timestamp;   /* X-TC-Timestamp, 0..TC3_TS_MAX */
};

/* The UTC date of ts as "YYYY-MM-DD" into out[TC3_DATE_LEN + 1]. Returns 0,
 * or -1 if ts is outside 0..TC3_TS_MAX. */
int tc3_date(int64_t ts, char *out);

/* Append the canonical request / the string to sign to out (which bounds
 * them). Errors: VG_INVALID (method not POST/GET, empty host or service,
 * service not [A-Za-z0-9_.-], timestamp out of range), VG_TOOBIG. */
int tc3_canonical_request(const struct tc3_request *r, struct buf *out) WARN_UNUSED;
int tc3_string_to_sign(const struct tc3_request *r, struct buf *out) WARN_UNUSED;

/* The signature, lower-case hex, into sig[TC3_SIG_LEN + 1]. Errors as
 * above, or VG_ERR if OpenSSL fails. */
int tc3_sign(const struct tc3_request *r, const char *secret_key, char *sig) WARN_UNUSED;

/* Append the whole Authorization header value to out:
 * "TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request,
 *  SignedHeaders=content-type;host, Signature=<sig>" (one line, ", ").
 * VG_INVALID also for an empty secret_id or one with '/', ',' or spaces. */
int tc3_authorization(const struct tc3_request *r, const char *secret_id, const char *secret_key,
                      struct buf *out) WARN_UNUSED;

/* ---- verification (the emulator side) ---- */

/* Each status maps to one API 3.0 error code (tc3_status_code). */
enum tc3_status {
  TC3_OK = 0,
  TC3_INVALID_AUTHORIZATION, /* AuthFailure.InvalidAuthorization: missing or unparseable */
  TC3_MISSING_TIMESTAMP,     /* MissingParameter: no X-TC-Timestamp */
  TC3_BAD_TIMESTAMP,         /* InvalidParameterValue: not a decimal in range */
  TC3_SIGNATURE_EXPIRE,      /* AuthFailure.SignatureExpire: more than TC3_MAX_SKEW off */
  TC3_DATE_MISMATCH,         /* AuthFailure.SignatureFailure: scope date != UTC date of ts */
  TC3_SECRET_ID_NOT_FOUND,   /* AuthFailure.SecretIdNotFound: lookup said no */
  TC3_SIGNATURE_FAILURE,     /* AuthFailure.SignatureFailure: the signature differs */
};

/* The API 3.0 Error.Code for s (e.g. "AuthFailure.SignatureFailure"), and
 * a fixed English message naming the precise cause. Never NULL. */
const char *tc3_status_code(enum tc3_status s);
const char *tc3_status_message(enum tc3_status s);

/* A parsed Authorization header. */
struct tc3_auth {
  char secret_id[TC3_MAX_SECRET_ID + 1];
  char date[TC3_DATE_LEN + 1];
  char service[TC3_MAX_SERVICE + 1];
  char signed_headers[48]; /* sorted subset of content-type;host;x-tc-action */
  char signature[TC3_SIG_LEN + 1];
};

/* Parse "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request,
 * SignedHeaders=..., Signature=<64 hex>" ([hdr, hdr+len), at most
 * TC3_MAX_AUTHORIZATION bytes; spaces after commas optional; each
 * parameter exactly once). The service is whatever the scope says (the
 * Node SDK derives it from the endpoint's first label, so "127" for an
 * endpoint 127.0.0.1:8080). SignedHeaders must list content-type and host,
 * optionally x-tc-action (newer Go SDKs), lower case, sorted. Returns TC3_OK
 * or TC3_INVALID_AUTHORIZATION; *out is zeroed on failure. */
enum tc3_status tc3_parse_authorization(const char *hdr, size_t len, struct tc3_auth *out);

/* Inputs of a verification: the received request as is. */
struct tc3_verify {
  const char *authorization; /* Authorization header; NULL = absent */
  const char *timestamp;     /* X-TC-Timestamp header; NULL = absent */
  const char *action;        /* X-TC-Action header; needed if signed */
  const char *method;        /* "POST" or "GET" */
  const char *host;          /* Host header as received, port included */
  const char *query;         /* GET query string as received, else NULL */
  const char *content_type;  /* Content-Type header as received */
  const char *payload;
  size_t payload_len;
  int64_t now; /* the caller's clock, Unix seconds */
  /* Returns the secret key of secret_id (borrowed until the next call),
   * or NULL if unknown. */
  const char *(*lookup)(void *ud, const char *secret_id);
  void *ud;
};

/* Verify a request in the order the API checks it: header syntax, the
 * timestamp and its skew (TC3_MAX_SKEW either way, against now), the scope
 * date against the timestamp's UTC date, the SecretId, and last the
 * signature (constant-time compare). The canonical request is rebuilt with
 * the host as received and, if that does not match and the host has a
 * port, with the host name alone (the Node SDK signs URL.hostname). If
 * auth is not NULL it receives the parsed header (even on later failures,
 * so the caller can log the SecretId and service; never the signature). */
enum tc3_status tc3_verify(const struct tc3_verify *v, struct tc3_auth *auth) WARN_UNUSED;

#endif
