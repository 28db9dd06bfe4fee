/*
 * ugc.h: the emulator's model of VOD's "upload from client" control plane
 * (vod2.qcloud.com/v3/index.php?Action=PrepareUploadUGC|ApplyUploadUGC|
 * CommitUploadUGC) and of the events VOD pushes after an upload.
 *
 * Pure: no I/O, no clock (every function that needs time takes `now`), and
 * randomness only through struct ugc_rng so tests are byte-exact. Signature
 * checking is NOT here (src/sig does it); the caller passes the verified
 * policy fields as struct ugc_policy.
 *
 * Statelessly checkable tokens, all MAC'd with ugc_config.key:
 *   vodSessionKey  "vsk1" hex(session id, 16 B) hex8(expiry) hex(MAC)[0..40]
 *   temp secretId  "AKIDvg" hex(session id) hex8(cert expiry) hex(nonce, 4 B)
 *   temp secretKey hex(HMAC-SHA256(key, "vodgate-cos-sk\n" secretId))[0..40]
 *   temp token     hex(HMAC-SHA256(key, "vodgate-cos-token\n" secretId))
 * so a COS request is checked from its q-ak alone (ugc_cert_check), and the
 * session id inside maps to the stored struct ugc_session.
 *
 * struct ugc_session is a plain value (no pointers): the caller owns and
 * stores it; ugc_session_to_json/from_json persist it.
 *
 * JSON results are new references the caller must json_decref(); jansson
 * keeps insertion order, so dumps are byte-stable.
 */
#ifndef VG_EMU_UGC_H
#define VG_EMU_UGC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/limits.h"

/* Source of random bytes. fill == NULL means the OpenSSL CSPRNG. */
struct ugc_rng {
  void (*fill)(void *ctx, void *buf, size_t n);
  void *ctx;
};

#define UGC_KEY_LEN         32
#define UGC_SESSION_KEY_LEN 84 /* "vsk1" + 32 + 8 + 40 */
#define UGC_AK_LEN          54 /* "AKIDvg" + 32 + 8 + 8 */
#define UGC_SK_LEN          40
#define UGC_TOKEN_LEN       64
#define UGC_FILE_ID_LEN     19
#define UGC_MAX_PATH        128 /* "/" bucket "/" 8+19 "/" 12 "." type: < 128 */
#define UGC_MAX_BUCKET      40
#define UGC_MAX_REGION      31

struct ugc_config {
  uint64_t app_id;                       /* the customer's VOD appId (data.appId, media host) */
  uint64_t storage_app_id;               /* COS APPID that owns the bucket (storageAppId) */
  char bucket[UGC_MAX_BUCKET + 1];       /* storageBucket, without "-appid" */
  char region[UGC_MAX_REGION + 1];       /* storageRegionV5, e.g. "ap-guangzhou" */
  char region_short[UGC_MAX_REGION + 1]; /* legacy storageRegion, e.g. "gzp" */
  char domain[64];                       /* data.domain, "vod2.qcloud.com" */
  char media_base[128];                  /* media URL prefix, no trailing '/' */
  unsigned char key[UGC_KEY_LEN];        /* MAC key: set it (random per run is fine) */
  unsigned char verify_key[64];          /* verify_content key (spec 3.5) */
  size_t verify_key_len;
  int64_t cert_ttl;    /* tempCertificate lifetime, seconds */
  int64_t session_ttl; /* vodSessionKey validity (SDK resume validity: 1 day) */
  int64_t verify_ttl;  /* verify_content ExpTime = commit time + this */
};

/* Defaults matching upload-protocol.md's fixture: app 1500000000, storage
 * app 1250000000, bucket b1a2c3d4vodgzp1500000000, ap-guangzhou, 1 h certs,
 * 1 day sessions. key and verify_key are zero: the caller must set them. */
void ugc_config_init(struct ugc_config *c);

/* Envelope codes (tencent-vod.md 2.4). */
enum ugc_code {
  UGC_OK = 0,
  UGC_E_REQUEST = 10001,   /* "ugc upload | invalid request": malformed body */
  UGC_E_SIGNATURE = 10004, /* "ugc upload | invalid signature" (also expired) */
  UGC_E_SESSION = 10005,   /* bad, expired or unknown vodSessionKey */
};

/* The kinds of error answer; DUPLICATE is 10004 "duplicate vod signature". */
enum ugc_error {
  UGC_ERR_REQUEST,
  UGC_ERR_SIGNATURE,
  UGC_ERR_DUPLICATE,
  UGC_ERR_SESSION,
};

/* {"code":code,"message":message,"data":data}; data is stolen (NULL -> {}). */
json_t *ugc_envelope(int code, const char *message, json_t *data);
/* The error envelope of one kind, with the fixed message and "data":{}. */
json_t *ugc_error_envelope(enum ugc_error kind);

/* ---- requests ---- */

enum ugc_action { UGC_PREPARE, UGC_APPLY, UGC_COMMIT };

struct ugc_request {
  enum ugc_action action;
  char *signature; /* malloc'd, owned; never logged */
  char vod_session_key[UGC_MAX_SESSION_KEY + 1];
  bool has_video, has_cover;
  char video_name[UGC_MAX_NAME + 1];
  char video_type[UGC_MAX_TYPE + 1];
  int64_t video_size; /* -1: not sent (mini program) */
  char cover_name[UGC_MAX_NAME + 1];
  char cover_type[UGC_MAX_TYPE + 1];
  int64_t cover_size;
  char file_id[UGC_FILE_ID_LEN + 1]; /* cover replacement; "" if absent */
  char storage_region[UGC_MAX_REGION + 1];
  char expire_time[64]; /* the ExpireTime option, verbatim (ISO 8601) */
};

/* Parse the JSON body of one action. Bounded by UGC_MAX_BODY and
 * JSON_MAX_DEPTH; unknown fields are ignored (clientReportId, uploadFromWeb).
 * Rules: signature a non-empty string (all actions); Commit needs
 * vodSessionKey; Apply needs vodSessionKey (resume), or videoType, or
 * fileId + coverType; names are UTF-8 without \ / : * ? " < > | or control
 * characters; types are [a-z0-9]{1,16}; sizes non-negative integers.
 * Returns UGC_OK or UGC_E_REQUEST (then *out holds nothing to release).
 * ugc_request_release() frees the signature and wipes it. */
int ugc_request_parse(enum ugc_action action, const char *body, size_t len,
                      struct ugc_request *out);
void ugc_request_release(struct ugc_request *r);

/* ---- sessions ---- */

/* What the verified upload signature allowed (from src/sig). Strings may be
 * NULL or "" for absent. */
struct ugc_policy {
  const char *procedure;
  const char *task_notify_mode; /* "Finish" (default), "Change", "None" */
  const char *source_context;
  const char *session_context;
  int64_t class_id;
  int64_t task_priority;
  uint64_t sub_app_id; /* 0: the main application (config app_id) */
};

struct ugc_session {
  unsigned char id[16];
  int64_t created, expires;
  char session_key[UGC_SESSION_KEY_LEN + 1];
  uint64_t app_id;
  char file_id[UGC_FILE_ID_LEN + 1];
  char media_name[UGC_MAX_NAME + 1];
  char media_type[UGC_MAX_TYPE + 1];
  int64_t media_size;                /* as announced, -1 unknown */
  char media_path[UGC_MAX_PATH + 1]; /* "" for a cover-only session */
  char cover_type[UGC_MAX_TYPE + 1];
  char cover_path[UGC_MAX_PATH + 1]; /* "" without a cover */
  char secret_id[UGC_AK_LEN + 1];
  char secret_key[UGC_SK_LEN + 1];
  char token[UGC_TOKEN_LEN + 1];
  int64_t cert_start, cert_exp;
  char procedure[SIG_MAX_PROCEDURE + 1];
  char notify_mode[8];
  char source_context[4 * SIG_MAX_SOURCE_CONTEXT + 1]; /* chars -> UTF-8 bytes */
  char session_context[4 * SIG_MAX_SESSION_CONTEXT + 1];
  int64_t class_id, task_priority;
  bool committed;
  int64_t committed_at;
  char task_id[96]; /* "" without a procedure */
};

/* A new session for an Apply without vodSessionKey: fileId (19 digits),
 * storage paths "/{bucket}/{8hex}{fileId}/{12 alnum}.{type}", the session
 * key and a first temporary credential. Returns UGC_OK, or UGC_E_REQUEST if
 * a policy string is over its limit or the notify mode is unknown. */
int ugc_session_new(const struct ugc_config *c, const struct ugc_rng *rng,
                    const struct ugc_request *req, const struct ugc_policy *pol, int64_t now,
                    struct ugc_session *out);

/* A fresh temporary credential (each Apply, including resume). */
void ugc_session_issue_cert(const struct ugc_config *c, const struct ugc_rng *rng,
                            struct ugc_session *s, int64_t now);

/* Check a vodSessionKey: format, MAC (constant time), expiry. On UGC_OK the
 * session id is written to id; else UGC_E_SESSION. */
int ugc_session_key_check(const struct ugc_config *c, const char *key, size_t len, int64_t now,
                          unsigned char id[16]);

enum ugc_cert_result {
  UGC_CERT_OK,
  UGC_CERT_MALFORMED, /* not one of our secretIds: COS "InvalidAccessKeyId" */
  UGC_CERT_EXPIRED,   /* COS "AccessDenied" "Request has expired" */
  UGC_CERT_BAD_TOKEN, /* COS "InvalidToken" */
};

/* Check a COS request's q-ak and x-cos-security-token (token may be NULL).
 * On UGC_CERT_OK the session id and the derived secret key are written. */
enum ugc_cert_result ugc_cert_check(const struct ugc_config *c, const char *ak, const char *token,
                                    int64_t now, unsigned char id[16],
                                    char secret_key[UGC_SK_LEN + 1]);

/* COS <Code> and <Message> for a failed ugc_cert_check (HTTP 403). */
const char *ugc_cert_error_code(enum ugc_cert_result r);
const char *ugc_cert_error_message(enum ugc_cert_result r);

/* Which object of the session a decoded COS path ("/bucket/...") names:
 * 1 media, 2 cover, 0 none (outside the session: deny). For
 * ListMultipartUploads pass "/" + the decoded prefix parameter (the SDKs list
 * with prefix = the key without its leading '/'). */
int ugc_session_object(const struct ugc_session *s, const char *path);

/* Mark committed (idempotent: a second call changes nothing) and mint the
 * procedure TaskId when the policy named a procedure. */
void ugc_session_commit(const struct ugc_config *c, const struct ugc_rng *rng,
                        struct ugc_session *s, int64_t now);

json_t *ugc_session_to_json(const struct ugc_session *s);
/* Returns 0, or -1 if a field is missing, mistyped or over its size. */
int ugc_session_from_json(const json_t *j, struct ugc_session *out);

/* ---- response data ---- */

/* {appId, cosRegionList:[{region, domain}]} with one region: no race. */
json_t *ugc_prepare_data(const struct ugc_config *c);
/* The ApplyUploadUGC data of upload-protocol.md 2.2 (both storageRegionV5
 * and StorageRegionV5, 10-digit expiredTime). */
json_t *ugc_apply_data(const struct ugc_config *c, const struct ugc_session *s);
/* {fileId, video:{url, verify_content}, cover?:{url, verify_content}}. */
json_t *ugc_commit_data(const struct ugc_config *c, const struct ugc_session *s);

/* Media URL of an object path: media_base + path (out >= 256 bytes). */
void ugc_media_url(const struct ugc_config *c, const char *path, char *out, size_t outsz);

/* verify_content: Base64(HMAC-SHA1(key, p) || p), p = "ExpTime=<exp>&FileId=<id>".
 * Returns 0, or -1 if out is too small. */
int ugc_verify_content(const unsigned char *key, size_t keylen, const char *file_id,
                       int64_t exp_time, char *out, size_t outsz);

/* ---- events ---- */

enum ugc_review { UGC_REVIEW_PASS, UGC_REVIEW_REVIEW, UGC_REVIEW_BLOCK, UGC_REVIEW_FAIL };

/*
 * The deterministic review rule (documented in docs/emulator.md):
 *  1. If the media file starts with "VODGATE-REVIEW:" followed by "pass",
 *     "review", "block" or "fail", that is the result.
 *  2. Else if the media name contains "[review]", "[block]" or "[fail]"
 *     (checked in that order), that is the result.
 *  3. Else pass.
 * head is the first bytes of the stored media object (up to 64 are read).
 */
enum ugc_review ugc_review_decide(const char *name, const unsigned char *head, size_t head_len);
const char *ugc_review_name(enum ugc_review r);

/* The NewFileUpload event (3.0 push format, no EventHandle) for a committed
 * session; size is the stored media size in bytes. */
json_t *ugc_event_new_file_upload(const struct ugc_config *c, const struct ugc_session *s,
                                  uint64_t size, int64_t now);

/* The ProcedureStateChanged events for a committed session, honouring its
 * notify mode: none without a procedure or with "None"; "Finish": one FINISH;
 * "Change": PROCESSING then FINISH. Writes up to 2 new references to out
 * and returns how many. */
size_t ugc_event_procedure(const struct ugc_config *c, const struct ugc_session *s,
                           enum ugc_review review, uint64_t size, int64_t now, json_t *out[2]);

/* Add "Sign" = md5hex(sign_key + decimal t) and "T" = t to a push body. */
void ugc_event_sign(json_t *ev, const char *sign_key, int64_t t);

/* ---- routing ---- */

/* Which service a request's Host names (port and a trailing dot ignored,
 * case-insensitive). COS is only this emulator's bucket:
 * "<bucket>-<storage_app_id>.cos.<region>.myqcloud.com" or the same under
 * ".tencentcos.cn" (cos-js-sdk-v5's AutoSwitchHost fallback). */
enum ugc_host {
  UGC_HOST_OTHER,  /* unknown: answer 404 / deny */
  UGC_HOST_UGC,    /* vod2.qcloud.com, vod2.dnsv1.com */
  UGC_HOST_REPORT, /* vodreport.qcloud.com (beacons: accept and drop) */
  UGC_HOST_API,    /* vod.tencentcloudapi.com, or a literal IP / localhost
                    * (the API SDK with endpoint "127.0.0.1:PORT") */
  UGC_HOST_COS,    /* our bucket */
};
enum ugc_host ugc_classify_host(const struct ugc_config *c, const char *host);

#endif
