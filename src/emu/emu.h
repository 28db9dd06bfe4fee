/*
 * emu.h: the running VOD emulator behind `vodgate emulate`: one HTTP route
 * table (a catch-all prefix route, any method) that tells the services apart
 * by Host and path as the real hosts are (ugc_classify_host):
 *   vod2.qcloud.com      POST /v3/index.php?Action=Prepare|Apply|CommitUploadUGC
 *   <bucket>.cos.*       COS XML: PUT object, multipart, list, abort
 *   vod.tencentcloudapi.com, an IP literal or localhost, or any host with
 *                        POST / and X-TC-Action: API 3.0 (TC3-verified)
 *   vodreport.qcloud.com beacons, accepted and dropped
 *   /__emu/...           test control (fault injection, state), loopback
 *                        clients only
 *
 * State (sessions, multipart uploads, one-time signature digests, the
 * event queues) lives in memory for the life of the process; objects and
 * parts are files under data_dir (objects/<storage path>, parts/<id>/<n>).
 * Events are pushed by one worker thread (never a request thread) and kept
 * for PullEvents; a second thread answers long polls (http_defer).
 *
 * Ownership: emu_new copies every string of opts; secret_key and sign_key
 * are copied and wiped on emu_free. Thread-safe: handlers run on many
 * worker threads; one mutex guards the state.
 */
#ifndef VG_EMU_EMU_H
#define VG_EMU_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "http/http.h"

struct emu_opts {
  const char *secret_id;    /* the VOD API SecretId signatures must name */
  const char *secret_key;   /* its SecretKey (signatures, TC3) */
  const char *callback_url; /* push target; NULL or "": pull only */
  const char *sign_key;     /* callback Sign/T key; NULL: no Sign/T */
  const char *data_dir;     /* created if missing */
  /* Initial fault injection (also settable at /__emu/faults). */
  unsigned drop, duplicate, reorder;
  unsigned delay_ms;
  /* PullEvents handle lease in seconds; 0: VOD's 30 s (tests shorten it). */
  unsigned lease_s;
};

struct emu;

/* Returns VG_OK and *out, or VG_INVALID (missing option) / VG_IO (data dir
 * unusable, logged). Starts the push and long-poll threads. */
int emu_new(const struct emu_opts *opts, struct emu **out) WARN_UNUSED;
/* The route table to pass to http_server_start (user pointer: the emu). */
const struct http_route *emu_routes(size_t *n);
/* Answer waiting long polls (empty) and stop the threads; pending pushes
 * are dropped. Call before stopping the HTTP servers. */
void emu_stop(struct emu *e);
/* Free everything (after emu_stop and the HTTP servers' stop). NULL is fine. */
void emu_free(struct emu *e);

#endif
