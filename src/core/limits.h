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
#define SIG_MAX_SECRET_ID                                                                          \
  128                             /* CAM SecretIds are 36 characters (AKID +                       \
                                     32); room for other issuers' formats */
#define SIG_MAX_STORAGE_REGION 64 /* region short names: "ap-chongqing" */
#define SIG_MAX_CLOCK_SKEW                                                                         \
  300                    /* s a currentTimeStamp may lie in our                                    \
                            future: NTP-less clients drift */
#define SIG_MAX_LINTS 24 /* warnings kept per inspected signature */

/* Query strings (core/query.h). QUERY_MAX_INPUT bounds any one string we
 * parse (a signature's original is at most SIG_MAX_ORIGINAL); the pair count
 * bounds the quadratic duplicate check. */
#define QUERY_MAX_INPUT 65536
#define QUERY_MAX_PAIRS 64

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

#endif
