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

/* Store (src/store). Ids are ours (128-bit random, base64url/hex: 22-32
 * chars) or VOD's (FileId: 19 digits; TaskId: ~40); 64 leaves headroom. */
#define STORE_MAX_ID     64
#define STORE_MAX_USER   255 /* JWT `sub`: OIDC allows 255 ASCII characters */
#define STORE_MAX_POLICY 64  /* [policy NAME] section names */
#define STORE_MAX_LABEL  128 /* operator's free text for an API token */
#define STORE_MAX_STATE  16  /* longest ledger state is "processing" */
#define STORE_MAX_REASON 256 /* quarantine reason: our own fixed messages */
#define STORE_HASH_HEX   64  /* SHA-256 in hex */
/* Event idempotency key: EventType + (FileId | TaskId) + Status (spec 5.4),
 * each short (longest EventType ~40, TaskId ~40): 256 is ample. */
#define STORE_MAX_EVENT_KEY 256
/* JSON kept per row (session params, event bodies, ledger detail, outbox
 * payloads, quarantined bodies): never more than a request body may carry. */
#define STORE_MAX_BODY HTTP_MAX_BODY_DEFAULT
/* Quarantine keeps the newest rows only, so a flood of garbage cannot fill
 * the disk: 1000 x 64 KiB = at most 64 MiB. */
#define STORE_QUARANTINE_KEEP 1000
/* Writes per group commit. More queued writes simply wait for the next
 * group; 256 keeps one transaction's WAL growth and latency small while
 * already amortising the fsync ~100x (STACK.md 3.4). */
#define STORE_MAX_GROUP 256
/* SQLite busy_timeout: only other processes (a CLI `token add` while the
 * daemon runs) can hold the write lock; they hold it for milliseconds. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* Rows one list call may return (operator listings, outbox batches):
 * enough for a screen or a batch, small enough to hold in one result. */
#define STORE_MAX_LIST 1000
/* PostgreSQL connections per store: the HTTP pool has 2-4 threads plus a
 * few workers; 8 covers them without queueing. */
#define STORE_PG_POOL_DEFAULT 8

#endif
