/*
 * errors.h: the service-wide error codes of JSON error bodies
 * {"code":N,"message":"...","requestId":"..."}.
 *
 * Invariant: a code never changes meaning once released; clients switch on
 * it. The thousands and hundreds mirror the HTTP status normally sent with
 * it. docs/api.md lists every code; add new ones at the end of a group.
 */
#ifndef VG_HTTP_ERRORS_H
#define VG_HTTP_ERRORS_H

enum vg_code {
  VG_CODE_OK = 0,
  VG_CODE_BAD_REQUEST = 4000,         /* 400: malformed request, framing, JSON, types */
  VG_CODE_MISSING_CREDENTIALS = 4010, /* 401: no Authorization header / bearer token */
  VG_CODE_BAD_TOKEN = 4011,           /* 401: token malformed, bad signature, unknown, revoked */
  VG_CODE_EXPIRED_TOKEN = 4012,       /* 401: token expired or not yet valid */
  VG_CODE_FORBIDDEN = 4030,           /* 403: authenticated but not allowed; CORS refused */
  VG_CODE_POLICY_VIOLATION = 4031,    /* 403: request asks what the user's policy forbids */
  VG_CODE_NOT_FOUND = 4040,           /* 404 */
  VG_CODE_METHOD_NOT_ALLOWED = 4050,  /* 405 */
  VG_CODE_PAYLOAD_TOO_LARGE = 4130,   /* 413: body over the route's limit */
  VG_CODE_QUOTA_EXCEEDED = 4290,      /* 429: daily upload quota used up */
  VG_CODE_RATE_LIMITED = 4291,        /* 429: too many signatures per minute / per upload */
  VG_CODE_INTERNAL = 5000,            /* 500: a bug or a failed dependency; see the log */
  VG_CODE_UNAVAILABLE = 5030,         /* 503: draining, not ready, store busy */
};

/* Short stable name of a code ("bad_request"), for logs and metrics
 * labels; "unknown" for others. */
const char *vg_code_name(int code);

#endif
