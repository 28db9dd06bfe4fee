/*
 * log.h: one JSON object per line on stderr (journald and docker collect it).
 *
 * Lines from different threads never interleave and keep their order. By
 * default each line is one write(2); after log_async_start() lines are
 * batched and written by one thread (see there). Never pass a secret, a token or a signature MAC
 * to the logger: callers log ids and reasons, not credentials.
 */
#ifndef VG_LOG_H
#define VG_LOG_H

#include <jansson.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
int log_parse_level(const char *s, enum log_level *out);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* The "ts" of every line: UTC "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes until
 * the year 9999), NUL-terminated in out. Returns its length. Cheap: each
 * thread caches the part that changes once a second. */
#define LOG_TS_MAX 64
size_t log_timestamp(char out[LOG_TS_MAX]);

/* Log a structured record: adds "ts" and "level" to obj and steals the
 * reference. */
void log_json(enum log_level lvl, json_t *obj);

/* Writes one complete line (n bytes, ending in a newline) to stderr, or
 * into the batch when batching is on. */
void log_write(const char *s, size_t n);

/* Batch lines from now on: a thread (vg-log) writes whatever was logged at
 * most flush_ms milliseconds after the first line of a batch went in (at
 * once past 128 KiB), with one write(2) per batch instead of one per line.
 * A caller only waits when 256 KiB are waiting (stderr stalled); nothing
 * is dropped. A crash loses at most the last flush_ms of lines. flush_ms 0
 * does nothing. Returns 0, or -1 if the thread could not start (lines are
 * then written directly). */
int log_async_start(unsigned flush_ms);
/* Writes everything batched and goes back to one write per line. Call it
 * before exiting; a no-op when batching is off. */
void log_async_stop(void);

/* Logs at error level and returns -1: `return error("...")`. */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
