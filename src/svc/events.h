/*
 * events.h: the push receiver POST /v1/vod/events[/<path-token>] and the
 * uploads API GET /v1/uploads[/<uploadId>] (svc/events.c, svc/uploads.c).
 *
 * Receiver authentication (docs/api.md):
 *   - [events] path_token_file set: the path must end in /<token> (compared
 *     in constant time); a missing or wrong token answers exactly like an
 *     unknown route (404 "not found") so the endpoint is not discoverable.
 *   - [vod] sign_key_file set: Sign/T are required (top-level body fields,
 *     else the Sign and T headers); 401 (4011) when missing, malformed,
 *     wrong or expired (T + [events] sign_skew < now).
 *   - neither, and [events] allow_unauthenticated not true: the receiver
 *     is not started: the daemon logs an error at start-up (and on each
 *     reload) and the route answers 503 (5030) saying why; signatures are
 *     still served. With [events] mode = pull the route answers 404.
 */
#ifndef VG_SVC_EVENTS_H
#define VG_SVC_EVENTS_H

#include <stdbool.h>

struct app;
struct cfg;
struct http_req;
struct http_res;

/* POST /v1/vod/events (prefix route). */
void svc_vod_events(struct http_req *req, struct http_res *res, void *user);
/* GET /v1/uploads and GET /v1/uploads/<uploadId> (prefix route). */
void svc_uploads(struct http_req *req, struct http_res *res, void *user);

/* Whether c lets the push receiver run; when it does not, *why (static)
 * says what to configure. */
bool svc_events_receiver_ok(const struct cfg *c, const char **why);

/* Long polls (GET /v1/uploads/<id>?wait=): svc_uploads_init starts the
 * watcher thread (0, or -1 if it cannot start); svc_uploads_release
 * answers the remaining waiters and stops it (call it after the HTTP
 * server drained: the watcher answers every waiter once app->draining is
 * set). svc_uploads_notify makes the watcher re-read the waiters of
 * upload_id (intake's ledger_upload; "" or NULL: the file is no upload's,
 * nobody to wake): call it after committing a ledger state change (push
 * receiver, puller, replay in the same process); changes from other
 * processes are seen within a second anyway. Thread-safe; notify never
 * blocks on the store. */
int svc_uploads_init(struct app *app);
void svc_uploads_release(void);
void svc_uploads_notify(const char *upload_id);

#endif
