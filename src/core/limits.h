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
/* Outbound (net/http_client.h): the header lines of one response we keep.
 * VOD, COS and webhook receivers send well under 4 KiB; the rest is room. */
#define HTTP_CLIENT_MAX_HEADERS 32768
#define HTTP_CLIENT_MAX_METHOD  16 /* "OPTIONS" is the longest standard one */

/* JSON bodies from outside. */
#define JSON_MAX_DEPTH 32

/* Bearer tokens: a JWT with an RS256 signature and a few claims is well
 * under 2 KiB; 8 KiB leaves room for large claim sets and refuses abuse. */
#define AUTH_MAX_TOKEN 8192

/* Configuration. */
#define CFG_MAX_LINE        4096
#define CFG_MAX_FILE        (1024 * 1024)
#define CFG_MAX_SECRET_FILE 65536

/* JWT verification (src/auth). */
/* User ids are short; this bounds logs and store rows. */
#define JWT_MAX_SUB 256
/* Policy names are config section names. */
#define JWT_MAX_POLICY 128
/* IdP kids are thumbprints or UUIDs (< 100 characters). */
#define JWT_MAX_KID 256
/* Length of the jwt_policy_claim name. */
#define JWT_MAX_CLAIM_NAME 64
/* PEM + JWKS keys; a kid-less token may be tried against each of its alg. */
#define JWT_MAX_KEYS 64
/* A PEM bundle or JWKS of JWT_MAX_KEYS RSA-4096 keys fits. */
#define JWT_MAX_KEY_FILE (256 * 1024)
/* RFC 7518 3.2: an HMAC key at least as long as the hash output. */
#define JWT_MIN_HS256_SECRET 32
/* NIST SP 800-131A: smaller RSA keys are within reach of forgery. */
#define JWT_MIN_RSA_BITS 2048
/* Verification cost grows with the modulus; keys come from config only. */
#define JWT_MAX_RSA_BITS 8192
/* Seconds of clock skew tolerated on exp/nbf/iat by default, and at most:
 * more would make exp meaningless. */
#define JWT_DEFAULT_LEEWAY 60
#define JWT_MAX_LEEWAY     600
/* 9999-12-31T23:59:59Z: bounds NumericDate arithmetic far from overflow. */
#define JWT_MAX_NUMERIC_DATE 253402300799LL

/* Static API tokens: "vg_" + base64url of 32 random bytes (256 bits:
 * unguessable, so a plain SHA-256 is a safe stored hash). */
#define APITOKEN_RAW_BYTES 32
/* Store (src/store). Ids are ours (128-bit random, base64url/hex: 22-32
 * chars) or VOD's (FileId: 19 digits; TaskId: ~40); 64 leaves headroom. */
#define STORE_MAX_ID     64
#define STORE_MAX_USER   255 /* JWT `sub`: OIDC allows 255 ASCII characters */
#define STORE_MAX_POLICY 64  /* [policy NAME] section names */
#define STORE_MAX_LABEL  128 /* operator's free text for an API token */
#define STORE_MAX_STATE  16  /* longest ledger state is "processing" */
#define STORE_MAX_REASON 256 /* quarantine reason: our own fixed messages */
#define STORE_HASH_HEX   64  /* SHA-256 in hex */
/* Events: EventType, FileId, TaskId, Status as received (VOD's are < 80;
 * the event parser allows 128), and the idempotency key built from three
 * of them (spec 5.4): 3 x 128 + separators fits in 512. */
#define STORE_MAX_EVENT_ID  128
#define STORE_MAX_EVENT_KEY 512
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
/* SQLite WAL pages before a checkpoint copies them into the database
 * (SQLite's default: 1000). Measured with 64 event senders when the
 * checkpoint still ran on the writer (every waiting request waited for
 * it): p99 22 ms at 1000, 41 ms at 10000, 8 ms at 256 and 128. It now
 * runs on the checkpoint thread (store_sqlite.c); small, frequent
 * checkpoints still keep each one short. */
#define STORE_WAL_AUTOCHECKPOINT 256
/* Past this many WAL pages (16 MiB) the SQLite writer checkpoints itself
 * instead of leaving it to the checkpoint thread (store_sqlite.c,
 * sq_wal_hook): under unbroken load a passive checkpoint may never find
 * the WAL fully copied, and the WAL must not grow without bound. */
#define STORE_WAL_CHECKPOINT_HARD 4096
/* SQLite busy_timeout: only other processes (a CLI `token add` while the
 * daemon runs) can hold the write lock; they hold it for milliseconds. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* Rows one list call may return (operator listings, outbox batches):
 * enough for a screen or a batch, small enough to hold in one result. */
#define STORE_MAX_LIST 1000
/* PostgreSQL connections per store: the HTTP pool has 2-4 threads plus a
 * few workers; 8 covers them without queueing. */
#define STORE_PG_POOL_DEFAULT 8
/* libpq network defaults for PostgreSQL connections, used unless the URL
 * sets them (store_pg.c): a database host that stops answering (a network
 * partition, a dead VM) fails a statement in about a minute instead of
 * TCP's ~15: PostgreSQL statements run on the request threads. */
#define STORE_PG_CONNECT_TIMEOUT_S   "10"    /* connect_timeout */
#define STORE_PG_KEEPALIVES_IDLE_S   "30"    /* keepalives_idle */
#define STORE_PG_KEEPALIVES_INTERVAL "10"    /* keepalives_interval, seconds */
#define STORE_PG_KEEPALIVES_COUNT    "3"     /* keepalives_count */
#define STORE_PG_TCP_USER_TIMEOUT_MS "60000" /* tcp_user_timeout: unacknowledged data */
/* Signature service state in memory (src/svc/issuing.c). Entries kept for
 * reuse: clean ones beyond this are dropped (a miss re-reads the store).
 * 4096 sessions of ~0.6 KiB = 2.5 MiB: a session is reused within minutes. */
#define ISSUING_MAX_CACHED 4096
/* Records (signatures) waiting for the store before new signatures are
 * refused with 503: ~2 s of the fastest issuing, or a store that fails. */
#define ISSUING_MAX_PENDING 65536
/* After a failed flush the next one waits this long, doubling per failure
 * up to the max: a failing store is retried without a request to trigger
 * it, and is not hit (nor the log filled) 200 times a second meanwhile. */
#define ISSUING_RETRY_MIN_MS 100
#define ISSUING_RETRY_MAX_MS 5000
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
#define EVENT_MAX_BODY        (1024 * 1024)
#define EVENT_MAX_PULL_BODY   (16 * EVENT_MAX_BODY)  /* 16 events at the push limit */
#define EVENT_MAX_PULL_EVENTS 64                     /* PullEvents returns at most 16 */
#define EVENT_MAX_ID          128                    /* FileId/TaskId/EventType: ids are < 80 */
#define EVENT_MAX_KEY         (3 * EVENT_MAX_ID + 2) /* type/id/status, never truncated */
/* AiContentReviewResultSet subtasks: 10 review types exist. */
#define EVENT_MAX_REVIEW_TASKS 32
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
