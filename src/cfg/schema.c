/*
 * schema.c: every configuration key vodgate knows, with its type, range,
 * default and meaning. docs/configuration.md is generated from this table
 * (`vodgate config --schema`); add a key here and it is parsed, validated,
 * overridable from the environment and documented.
 */
#include "cfg/cfg.h"
#include "core/limits.h"
#include "core/util.h"

#define I64(x) ((int64_t)(x))

/* clang-format off */
static const struct cfg_key_info schema[] = {
  /* [server] */
  {"server", "listen", CFG_ADDR, "127.0.0.1:8080", 0, 0, NULL,
   "Address to listen on: host:port, :port (means 127.0.0.1), [v6]:port. Port 0 picks a free port (logged)."},
  {"server", "db", CFG_PATH, "./var/vodgate.db", 0, 0, NULL,
   "Database: an SQLite file path (WAL, created with its directory), or a postgresql:// URL (password from PGPASSFILE or the environment, not here)."},
  {"server", "data_dir", CFG_PATH, "./var", 0, 0, NULL,
   "Directory for state files (generated keys). Created by the modules that need it."},
  {"server", "threads", CFG_INT, "2", 1, 64, NULL,
   "HTTP threads: one libmicrohttpd daemon each, with its own listening socket on the address (SO_REUSEPORT) so that the kernel spreads connections over them. Handlers may block briefly (SQLite), so 2-4."},
  {"server", "cpu_affinity", CFG_ENUM, "auto", 0, 0, "auto|on|off",
   "Pin HTTP thread i to the i-th CPU vodgate may run on. auto: only when there are at least as many threads as CPUs (the scheduler otherwise stacks a busy client and a thread on one CPU while another idles); on: always; off: never. Other threads are not pinned."},
  {"server", "max_connections", CFG_INT, "1024", 1, 65536, NULL,
   "Open connections at most; more are refused at accept. Split evenly between the worker threads."},
  {"server", "per_ip_connections", CFG_INT, "128", 0, 65536, NULL,
   "Open connections per client IP at most (0: no limit). On a loopback listen address (the default) it applies only when set: every client is this host, a proxy in front. A proxy on another host is one client IP too: set 0 there and limit clients in the proxy."},
  {"server", "timeout", CFG_DURATION, "30", 1, 3600, NULL,
   "Idle connection timeout: a connection silent this long is closed."},
  {"server", "header_timeout", CFG_DURATION, "10", 1, 600, NULL,
   "A connection's first request must have its headers complete this long after the connection opened (slow-header defence); later requests on a kept-alive connection get [server] timeout."},
  {"server", "drain_timeout", CFG_DURATION, "10", 0, 3600, NULL,
   "On SIGTERM/SIGINT, wait at most this long for in-flight requests before exiting."},
  {"server", "memory_limit", CFG_SIZE, "32k", 8192, I64(16) * 1024 * 1024, NULL,
   "Memory per connection for the request line, headers and response headers; every open connection holds it (1024 connections at 32k: 32 MB)."},
  {"server", "cors_origins", CFG_LIST, NULL, 0, 0, NULL,
   "Browser origins allowed by CORS, as browsers send them: http:// or https://, the host in lower case, an optional :port, no path or trailing slash (anything else is refused at start-up); \"*\" allows any. Empty: no CORS headers, preflights refused."},
  {"server", "cors_max_age", CFG_DURATION, "600", 0, 86400, NULL,
   "Access-Control-Max-Age of preflight answers."},
  {"server", "signature_records", CFG_ENUM, "async", 0, 0, "async|durable",
   "SQLite: async answers a signature at once and commits its records (session row with its first signature or audit row, quota unit) in the store's next group commit, milliseconds later; a crash loses at most that last batch. durable answers only after the commit. PostgreSQL always commits first."},
  {"server", "signature_flush_ms", CFG_INT, "5", 0, 1000, NULL,
   "signature_records = async: the records of the signatures issued within this many milliseconds are committed together (one commit instead of one per fsync); a crash loses at most that window plus one commit. 0: commit as soon as the writer is free."},
  {"server", "log_buffer_ms", CFG_INT, "10", 0, 1000, NULL,
   "serve writes its log lines in batches, one write(2) per batch, each at most this many milliseconds after its first line (sooner past 128 KiB); a crash loses at most that window of lines. 0: one write per line, at once."},
  {"server", "log_level", CFG_ENUM, "info", 0, 0, "debug|info|warn|error", "Least severe log level written."},

  /* [vod] */
  {"vod", "secret_id", CFG_STR, NULL, 0, 128, NULL,
   "Tencent Cloud API SecretId used to sign upload signatures (the active key)."},
  {"vod", "secret_key_file", CFG_SECRET_FILE, NULL, 0, 0, NULL,
   "File holding the SecretKey of secret_id. VODGATE_VOD_SECRET_KEY may carry the value instead."},
  {"vod", "previous_secret_id", CFG_STR, NULL, 0, 128, NULL,
   "Rotation: the SecretId being retired, with its key (set as a pair). Signatures are issued with secret_id only; `vodgate inspect --config` verifies a signature with whichever of the two pairs its SecretId names."},
  {"vod", "previous_secret_key_file", CFG_SECRET_FILE, NULL, 0, 0, NULL,
   "File holding the SecretKey of previous_secret_id (or VODGATE_VOD_PREVIOUS_SECRET_KEY)."},
  {"vod", "sub_app_id", CFG_INT, "0", 0, I64(4294967295), NULL,
   "VOD sub-application id put in signatures (vodSubAppId); 0: the main application."},
  {"vod", "sign_key_file", CFG_SECRET_FILE, NULL, 0, 0, NULL,
   "File holding the event-notification SignKey (Sign = MD5(key + T)); or VODGATE_VOD_SIGN_KEY."},
  {"vod", "api_endpoint", CFG_STR, "https://vod.tencentcloudapi.com", 0, 512, NULL,
   "TencentCloud API 3.0 endpoint for PullEvents/ConfirmEvents (override for tests and the emulator)."},
  {"vod", "region", CFG_STR, NULL, 0, 64, NULL, "API region header, where an API call needs one."},

  /* [auth] */
  {"auth", "jwt_hs256_secret_file", CFG_SECRET_FILE, NULL, 0, 0, NULL,
   "File holding the HS256 shared secret for user tokens; or VODGATE_AUTH_JWT_HS256_SECRET."},
  {"auth", "jwt_public_key_file", CFG_PATH, NULL, 0, 0, NULL,
   "PEM public key (RSA for RS256, P-256 for ES256) for user tokens."},
  {"auth", "jwks_file", CFG_PATH, NULL, 0, 0, NULL, "JWKS file with RS256/ES256 public keys (by kid)."},
  {"auth", "jwt_issuer", CFG_STR, NULL, 0, 512, NULL, "Required iss claim; unset: iss not checked."},
  {"auth", "jwt_audience", CFG_LIST, NULL, 0, 0, NULL,
   "The audience vodgate accepts (one value, its own name): a token's aud (a string or an array of strings) must contain it. Unset: a token carrying any aud is refused (RFC 7519 4.1.3)."},
  {"auth", "jwt_policy_claim", CFG_STR, NULL, 0, 128, NULL,
   "Claim naming the user's policy; unset or absent: [policy default]."},
  {"auth", "jwt_leeway", CFG_DURATION, "30", 0, 300, NULL, "Clock skew allowed on exp, nbf and iat."},
  {"auth", "allow_anonymous", CFG_BOOL, "false", 0, 0, NULL,
   "Issue signatures without credentials (user \"anonymous\", [policy default]). Off by default."},
  {"auth", "admin_token_file", CFG_SECRET_FILE, NULL, 0, 0, NULL,
   "File holding the operators' bearer token for GET /v1/uploads (listing), at least 16 bytes; or VODGATE_AUTH_ADMIN_TOKEN. Unset: no admin API."},

  /* [attribution] */
  {"attribution", "key_file", CFG_PATH, NULL, 0, 0, NULL,
   "File with the attribution MAC key; unset: generated once into data_dir."},
  {"attribution", "previous_key_file", CFG_PATH, NULL, 0, 0, NULL,
   "Rotation: the retired attribution key, still accepted when verifying."},

  /* [events] */
  {"events", "mode", CFG_ENUM, "push", 0, 0, "push|pull|both", "How VOD events come in."},
  {"events", "path_token_file", CFG_SECRET_FILE, NULL, 0, 0, NULL,
   "File holding the secret path token of POST /v1/vod/events/<token>, at least 16 bytes; or VODGATE_EVENTS_PATH_TOKEN."},
  {"events", "allow_unauthenticated", CFG_BOOL, "false", 0, 0, NULL,
   "Run the push receiver with neither a sign key nor a path token. Off by default."},
  {"events", "pull_timeout", CFG_DURATION, "10", 1, 120, NULL,
   "Pull mode: client timeout of one PullEvents long poll (VOD holds it up to 5 s; Tencent suggests 10 s)."},
  {"events", "pull_interval", CFG_DURATION, "1", 0, 3600, NULL,
   "Pull mode: pause after a PullEvents that returned no event (the long poll already waited)."},
  {"events", "pull_backoff_max", CFG_DURATION, "60", 1, 3600, NULL,
   "Pull mode: longest pause between retries after errors (1 s doubling, with +-20% jitter)."},
  {"events", "sign_skew", CFG_DURATION, "60", 0, 600, NULL,
   "Clock skew allowed past the callback's expiry T (Sign/T authentication)."},
  {"events", "review_block_at", CFG_INT, "0", 0, 100, NULL,
   "Review confidence at or above which a subtask counts as block, whatever VOD suggested (0: VOD's suggestion only)."},
  {"events", "review_review_at", CFG_INT, "0", 0, 100, NULL,
   "Review confidence at or above which a pass counts as review (0: VOD's suggestion only)."},
  {"events", "quarantine_per_minute", CFG_INT, "600", 0, I64(1000000000), NULL,
   "Malformed bodies written to the quarantine table per minute at most: a burst of that many, then one every 60/N s (a body that does not parse cannot be authenticated by Sign, so anyone could otherwise make the store write one row per request); past it a malformed body still gets 400 but is not kept. 0: no limit."},
  {"events", "max_wait", CFG_DURATION, "30", 0, 300, NULL,
   "Longest ?wait= of GET /v1/uploads/{uploadId} (long poll); larger values are clamped. 0: every ?wait= is answered at once (no long polls)."},
  {"events", "max_waiters", CFG_INT, "256", 0, 65536, NULL,
   "Long polls waiting at once (suspended connections: no worker thread each); beyond: 503 with Retry-After: 1. 0: every long poll gets that 503 (to turn long polls off, set max_wait = 0 instead)."},
  {"events", "max_waiters_per_user", CFG_INT, "64", 0, 65536, NULL,
   "Long polls one user may have waiting at once, so that one user cannot take every max_waiters slot; beyond: 429. A backend that long-polls for many end users under one API token's user needs it raised (or 0: no per-user limit)."},

  /* [webhook] */
  {"webhook", "url", CFG_STR, NULL, 0, 2048, NULL, "The app's webhook URL; unset: no webhooks."},
  {"webhook", "secret_file", CFG_SECRET_FILE, NULL, 0, 0, NULL,
   "File holding the Standard Webhooks secret (whsec_<base64> is decoded, anything else is used as raw bytes); or VODGATE_WEBHOOK_SECRET. Without it no webhook is sent."},
  {"webhook", "previous_secret_file", CFG_SECRET_FILE, NULL, 0, 0, NULL,
   "Rotation: the secret being retired (same forms as secret_file); or VODGATE_WEBHOOK_PREVIOUS_SECRET. While set, each webhook carries two signatures (webhook-signature: v1,<secret's> v1,<previous'>), so the receiver can move to the new secret at its own pace."},
  {"webhook", "timeout", CFG_DURATION, "10", 1, 300, NULL,
   "Time allowed for one delivery (connect, send, answer); longer counts as a failed attempt."},
  {"webhook", "retry_schedule", CFG_LIST, "5s, 30s, 2m, 10m, 30m, 1h", 0, 0, NULL,
   "Delays between attempts (each 1s..7d, +-20% jitter); the last one repeats until retry_for."},
  {"webhook", "retry_for", CFG_DURATION, "1d", 0, I64(30) * 86400, NULL,
   "A webhook whose next retry would come later than this after its first attempt (by the schedule) is dead-lettered."},
  {"webhook", "poll_interval", CFG_DURATION, "5", 1, 3600, NULL,
   "The forwarder looks for due rows at least this often (it is also woken by each new row)."},
  {"webhook", "concurrency", CFG_INT, "8", 1, 64, NULL,
   "Deliveries in flight at once, each on its own connection to the receiver; webhooks of one file go one at a time, in the order they were written."},

  /* [retention] */
  {"retention", "events", CFG_DURATION, "0", 0, I64(36500) * 86400, NULL,
   "Delete the record of each VOD event this long after it was received: 0 keeps them forever, otherwise at least 1d. The upload ledger, upload sessions, signature records and pending webhooks do not depend on it; an event delivered again after its record is gone is taken in again as new."},
  {"retention", "webhooks", CFG_DURATION, "0", 0, I64(36500) * 86400, NULL,
   "Delete each delivered webhook (outbox row) this long after its delivery: 0 keeps them forever, otherwise at least 1d. Pending and dead-lettered webhooks are never deleted."},
  {"retention", "interval", CFG_DURATION, "1h", 1, 86400, NULL,
   "How often the retention sweep runs (the first one a minute after start, or after interval if shorter). It deletes in transactions of 256 rows."},

  /* [policy NAME] */
  {"policy", "validity", CFG_DURATION, "3600", 1, SIG_MAX_VALIDITY, NULL,
   "Signature lifetime (expireTime - currentTimeStamp)."},
  {"policy", "procedure", CFG_STR, NULL, 0, SIG_MAX_PROCEDURE, NULL,
   "Task flow run after upload (procedure); unset: none."},
  {"policy", "class_id", CFG_INT, "0", 0, I64(4294967295), NULL, "Media category (classId); 0: none."},
  {"policy", "storage_region", CFG_STR, NULL, 0, 64, NULL, "Storage region (storageRegion); unset: the account default."},
  {"policy", "sub_app_id", CFG_INT, "0", 0, I64(4294967295), NULL,
   "vodSubAppId for this policy; 0: [vod] sub_app_id."},
  {"policy", "task_priority", CFG_INT, "0", -10, 10, NULL, "taskPriority of the procedure."},
  {"policy", "task_notify_mode", CFG_ENUM, "Finish", 0, 0, "Finish|Change|None",
   "taskNotifyMode of the procedure."},
  {"policy", "one_time", CFG_BOOL, "false", 0, 0, NULL, "oneTimeValid: each signature usable once."},
  {"policy", "uploads_per_day", CFG_INT, "0", 0, I64(1000000000), NULL,
   "Upload sessions a user may open per UTC day (0: no limit)."},
  {"policy", "signatures_per_minute", CFG_INT, "0", 0, I64(1000000000), NULL,
   "Signatures a user may get per minute (0: no limit): a burst of that many, then one every 60/N s. Counted in memory, per instance (a restart forgets; K instances on one PostgreSQL database allow up to K times as many), for up to 1,000,000 users at a time; memory grows with the users seen, up to a few hundred bytes each."},
  {"policy", "signatures_per_upload", CFG_INT, "0", 0, I64(1000000000), NULL,
   "Signatures per upload session (the web SDK asks 3+ times; 0: no limit)."},
  {"policy", "client_may_set", CFG_LIST, NULL, 0, 0,
   "procedure|classId|storageRegion|sourceContext|sessionContext|taskPriority|taskNotifyMode",
   "Signature fields the client may choose in its request; anything else is refused."},
  {"policy", "max_size", CFG_SIZE, "0", 0, I64(1) << 50, NULL, "Largest accepted file (checked on the upload event; 0: no limit)."},
  {"policy", "max_duration", CFG_DURATION, "0", 0, I64(1) << 32, NULL,
   "Longest accepted media duration (0: no limit)."},
  {"policy", "containers", CFG_LIST, NULL, 0, 0, NULL,
   "Accepted containers/extensions (e.g. mp4, mov); unset: any."},
};
/* clang-format on */

const struct cfg_key_info *cfg_schema(size_t *n)
{
  *n = ARRAY_SIZE(schema);
  return schema;
}
