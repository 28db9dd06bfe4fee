/*
 * limits.h: every hard limit of vodgate, named once, with the reason for the
 * number. Anything read from outside the process is bounded by one of these.
 */
#ifndef VG_LIMITS_H
#define VG_LIMITS_H

/* Upload signature (spec tencent-vod.md 1.1). */
#define SIG_MAX_VALIDITY        7776000L /* 90 days, VOD's documented maximum */
#define SIG_MAX_SOURCE_CONTEXT  250      /* characters; VOD truncates beyond it */
#define SIG_MAX_SESSION_CONTEXT 1000     /* characters */
#define SIG_MAX_PROCEDURE       128      /* template names are short identifiers */
#define SIG_MAX_ORIGINAL                                                                           \
  8192                        /* bytes of the decoded query string: all                            \
                                 documented fields at their maximum                                \
                                 length, percent-encoded (x3), fit */
#define SIG_MAX_ENCODED 12000 /* base64 of SIG_MAX_ORIGINAL + 20 */
#define SIG_MAX_PARAMS  32    /* keys in one original; 17 documented */

/* HTTP. */
#define HTTP_MAX_HEADER_BYTES 16384 /* per connection, all header lines */
#define HTTP_MAX_BODY_DEFAULT 65536 /* routes that do not set their own */
#define HTTP_MAX_URL          4096

/* JSON bodies from outside. */
#define JSON_MAX_DEPTH 32

/* Bearer tokens: a JWT with an RS256 signature and a few claims is well
 * under 2 KiB; 8 KiB leaves room for large claim sets and refuses abuse. */
#define AUTH_MAX_TOKEN 8192

/* Configuration. */
#define CFG_MAX_LINE        4096
#define CFG_MAX_FILE        (1024 * 1024)
#define CFG_MAX_SECRET_FILE 65536

/* Attribution token (src/attr, issue 3). The token travels as the upload
 * signature's sourceContext, whose limit is 250 characters. */
#define ATTR_MAX_TOKEN     SIG_MAX_SOURCE_CONTEXT
#define ATTR_MAX_KID       8     /* a short key id: rotation needs few keys */
#define ATTR_MAX_UPLOAD_ID 64    /* a UUID is 36, 32 random bytes hex is 64 */
#define ATTR_MAX_KEYS      16    /* current + 15 retired keys still verifying */
#define ATTR_KEY_MIN       32    /* bytes: HMAC-SHA256 key of full strength */
#define ATTR_KEY_MAX       64    /* bytes: the SHA-256 block size */
#define ATTR_MAC_BYTES     16    /* 128-bit truncated MAC: forgery odds 2^-128 */
#define ATTR_MAX_APP_CTX   164   /* bytes: 250 - len("vg1.k.u..") - 22 = 219 b64 chars */
#define ATTR_MAX_KEYFILE   65536 /* ATTR_MAX_KEYS lines of ~60 bytes, comments */

/* TencentCloud API 3.0 signing (src/tc3, spec tencent-vod.md 6). */
#define TC3_MAX_AUTHORIZATION 1024 /* the header is ~200 bytes in practice */
#define TC3_MAX_SECRET_ID     128  /* real SecretIds are 36 characters */
#define TC3_MAX_SERVICE       64   /* product names are short: vod, cvm */
#define TC3_MAX_SKEW          300  /* seconds: API 3.0 rejects beyond 5 min */
#define TC3_MAX_HOST          256  /* a DNS name is at most 253 + ":65535" */

/* VOD event notifications (src/event, spec tencent-vod.md 4, 5). A real
 * ProcedureStateChanged with 100 segments per review task is ~100 KiB. */
#define EVENT_MAX_BODY         (1024 * 1024)
#define EVENT_MAX_PULL_BODY    (16 * EVENT_MAX_BODY)  /* 16 events at the push limit */
#define EVENT_MAX_PULL_EVENTS  64                     /* PullEvents returns at most 16 */
#define EVENT_MAX_ID           128                    /* FileId/TaskId/EventType: ids are < 80 */
#define EVENT_MAX_KEY          (3 * EVENT_MAX_ID + 2) /* type/id/status, never truncated */
#define EVENT_MAX_REVIEW_TASKS 32 /* AiContentReviewResultSet: 10 review types exist */

#endif
