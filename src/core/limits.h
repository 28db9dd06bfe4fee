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

/* Emulator (src/emu). COS q-sign Authorization: SDK access keys are ~40-70
 * characters; times are two 10..20 digit numbers; the lists name only the
 * few headers/params of one request (about 30 bytes in practice). */
#define COS_AUTH_MAX_AK     128
#define COS_AUTH_MAX_TIME   48
#define COS_AUTH_MAX_LIST   1024
#define COS_AUTH_MAX_VALUE  4096  /* whole Authorization value */
#define COS_AUTH_MAX_PARAMS 32    /* query parameters of one COS request (SDKs send <= 3) */
#define COS_MAX_HTTPSTRING  16384 /* path + params + headers, all bounded above */
/* CompleteMultipartUpload: COS allows 10000 parts; one <Part> as the SDKs
 * write it is ~100 bytes, so 2 MiB admits 10000 parts with room for spaces. */
#define COS_MAX_PARTS         10000
#define COS_MAX_COMPLETE_BODY (2 * 1024 * 1024)
#define COS_MAX_KEY           1024 /* object key bytes (COS documents 850) */
/* UGC control plane. */
#define UGC_MAX_NAME        512   /* videoName/coverName bytes; VOD keeps <= 64 chars */
#define UGC_MAX_TYPE        16    /* file extension */
#define UGC_MAX_SESSION_KEY 128   /* our own vodSessionKey format is 99 bytes */
#define UGC_MAX_BODY        32768 /* Apply/Commit JSON: a signature + a few fields */

#endif
