/*
 * cmd_events.c: `vodgate events list|show|replay` and `vodgate uploads
 * list|show`: operators' views of the event intake tables, read from the
 * store (SQLite or PostgreSQL, also while the daemon runs).
 *
 * replay KEY re-applies a stored event through the same code path as the
 * receiver (svc/intake.c, without the insert): the ledger merge is
 * idempotent, so this changes something only if the configuration changed
 * since (policy caps, review thresholds, attribution keys) or the upload
 * session now exists; an outbox row is added only if the state changes.
 * replay --webhook KEY additionally enqueues the file's current state as a
 * new outbox row, to make the app hear about it again.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg/cfg.h"
#include "cmd/cmd.h"
#include "core/util.h"
#include "event/event.h"
#include "event/ledger.h"
#include "store/store.h"
#include "svc/intake.h"
#include "svc/state.h"

extern char **environ;

static void events_usage(FILE *f)
{
  fprintf(f, "usage: vodgate events list [--file FILEID] [--limit N] [--json]\n"
             "       vodgate events show KEY [--json]\n"
             "       vodgate events replay [--webhook] KEY\n\n"
             "Inspect the VOD events vodgate committed (newest first). KEY is the\n"
             "idempotency key, e.g. NewFileUpload/5285890799999999999.\n\n"
             "replay applies the stored event to the upload ledger again, exactly as\n"
             "the receiver did (idempotent: only a changed configuration changes the\n"
             "outcome); --webhook also enqueues the file's current state for the app.\n\n"
             "  -c, --config FILE   configuration (the [server] db, keys and policies;\n"
             "                      default $VODGATE_CONFIG, else defaults + VODGATE_*)\n"
             "  -d, --db URL        a database directly (list/show only)\n");
}

static void uploads_usage(FILE *f)
{
  fprintf(f, "usage: vodgate uploads list [--user USER] [--state STATE] [--limit N] [--json]\n"
             "       vodgate uploads show ID [--json]\n\n"
             "The upload ledger: one row per file, most recently updated first. ID is\n"
             "an uploadId or a FileId; an upload session without a file shows as\n"
             "'issued'. STATE: uploaded, processing, passed, review, blocked, failed,\n"
             "rejected.\n\n"
             "  -c, --config FILE   configuration (default $VODGATE_CONFIG)\n"
             "  -d, --db URL        a database directly\n");
}

struct opts {
  const char *cfg_path, *db, *file, *user, *state;
  int64_t limit;
  bool json, webhook;
};

static int parse_opts(int argc, char **argv, struct opts *o, void (*usage)(FILE *))
{
  static const struct option lo[] = {
      {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
      {"file", required_argument, NULL, 'f'},   {"user", required_argument, NULL, 'u'},
      {"state", required_argument, NULL, 's'},  {"limit", required_argument, NULL, 'n'},
      {"json", no_argument, NULL, 'j'},         {"webhook", no_argument, NULL, 'w'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  int c;

  memset(o, 0, sizeof(*o));
  o->cfg_path = getenv("VODGATE_CONFIG");
  o->limit = 50;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:d:f:u:s:n:jwh", lo, NULL)) != -1) {
    switch (c) {
    case 'c': o->cfg_path = optarg; break;
    case 'd': o->db = optarg; break;
    case 'f': o->file = optarg; break;
    case 'u': o->user = optarg; break;
    case 's': o->state = optarg; break;
    case 'n':
      if (parse_i64z(optarg, &o->limit) || o->limit < 1 || o->limit > STORE_MAX_LIST) {
        fprintf(stderr, "vodgate: --limit must be 1..%d\n", STORE_MAX_LIST);
        return EXIT_USAGE;
      }
      break;
    case 'j': o->json = true; break;
    case 'w': o->webhook = true; break;
    case 'h': usage(stdout); return -1;
    default: usage(stderr); return EXIT_USAGE;
    }
  }
  return 0;
}

static int load_cfg(const char *cfg_path, struct cfg **c)
{
  char err[CFG_ERR_MAX];
  if (cfg_load(cfg_path, environ, c, err, sizeof(err))) {
    fprintf(stderr, "vodgate: configuration: %s\n", err);
    return -1;
  }
  return 0;
}

static json_t *str_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

static json_t *event_json(const struct store_event_record *r, bool with_body)
{
  json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "eventKey", str_or_null(r->event_key),
                        "source", str_or_null(r->source), "type", str_or_null(r->type), "fileId",
                        str_or_null(r->file_id), "taskId", str_or_null(r->task_id), "status",
                        str_or_null(r->status), "receivedAt", (json_int_t)r->received_at);
  if (with_body) {
    json_t *b = r->body_json ? json_loads(r->body_json, 0, NULL) : NULL;
    json_object_set_new(o, "body", b ? b : json_null());
  }
  return o;
}

static int event_list_cb(const struct store_event_record *r, void *arg)
{
  if (arg)
    json_array_append_new(arg, event_json(r, false));
  else
    printf("%-10lld %-5s %-60s %s\n", (long long)r->received_at, r->source, r->event_key,
           r->status ? r->status : "");
  return 0;
}

/* Re-apply a stored event (see the file comment). */
static int replay(const struct opts *o, const char *key)
{
  struct cfg *c = NULL;
  struct svc_state *st = NULL;
  struct store *s = NULL;
  struct store_event_record r;
  struct vod_event ev;
  struct intake in;
  char err[256], reason[EVENT_REASON_MAX + 32];
  int rc = 1;

  event_init(&ev);
  memset(&in, 0, sizeof(in));
  memset(&r, 0, sizeof(r));
  if (load_cfg(o->cfg_path, &c))
    return 1;
  if (svc_state_new(c, &st, err, sizeof(err))) {
    fprintf(stderr, "vodgate events replay: %s\n", err);
    goto out;
  }
  if (store_open(cfg_get_str(c, "server", "db"), NULL, &s)) {
    fprintf(stderr, "vodgate events replay: cannot open the database\n");
    goto out;
  }
  if (store_event_get(s, key, &r)) {
    fprintf(stderr, "vodgate events replay: no event %s\n", key);
    goto out;
  }
  {
    struct event_review_policy rp = {
        .block_at = (double)cfg_get_int(c, "events", "review_block_at"),
        .review_at = (double)cfg_get_int(c, "events", "review_review_at"),
    };
    if (event_parse(r.body_json, strlen(r.body_json), &rp, &ev, reason, sizeof(reason))) {
      fprintf(stderr, "vodgate events replay: the stored body does not parse (%s)\n", reason);
      goto out;
    }
  }
  if (strcmp(ev.key, key) != 0) {
    fprintf(stderr, "vodgate events replay: the stored body has key %s\n", ev.key);
    goto out;
  }
  if (intake_prepare(&in, &ev, r.source, r.body_json, strlen(r.body_json), st,
                     cfg_get_str(c, "webhook", "url") != NULL, (int64_t)time(NULL), reason,
                     sizeof(reason))) {
    fprintf(stderr, "vodgate events replay: %s\n", reason);
    goto out;
  }
  in.replay = true;
  in.force_webhook = o->webhook;
  if ((rc = store_run(s, intake_tx, &in))) {
    fprintf(stderr, "vodgate events replay: %s\n", vg_strerror(rc));
    rc = 1;
    goto out;
  }
  rc = 0;
  if (o->json)
    cmd_print_json(json_pack("{s:s,s:s,s:s,s:b,s:I}", "eventKey", key, "previousState",
                             in.old_state, "state", in.state, "changed", in.state_changed,
                             "outboxId", (json_int_t)in.outbox_id));
  else if (!in.state[0])
    printf("%s: no ledger effect\n", key);
  else
    printf("%s: %s -> %s%s\n", key, in.old_state, in.state,
           in.outbox_id ? " (webhook enqueued)" : "");
out:
  intake_release(&in);
  event_release(&ev);
  store_event_record_release(&r);
  store_close(s);
  if (st)
    svc_state_unref(st);
  cfg_unref(c);
  return rc;
}

int cmd_events(int argc, char **argv)
{
  struct opts o;
  struct store *s = NULL;
  const char *verb;
  int rc = parse_opts(argc, argv, &o, events_usage);

  if (rc)
    return rc < 0 ? 0 : rc;
  if (optind >= argc) {
    events_usage(stderr);
    return EXIT_USAGE;
  }
  verb = argv[optind++];
  if (strcmp(verb, "list") == 0 && optind == argc) {
    json_t *arr = o.json ? json_array() : NULL;
    if (cmd_open_store("vodgate", o.cfg_path, o.db, &s)) {
      json_decref(arr);
      return 1;
    }
    if (!o.json)
      printf("%-10s %-5s %-60s %s\n", "RECEIVED", "FROM", "KEY", "STATUS");
    rc = store_event_list(s, o.file, o.limit, event_list_cb, arr) ? 1 : 0;
    if (arr)
      cmd_print_json(arr);
  } else if (strcmp(verb, "show") == 0 && optind + 1 == argc) {
    struct store_event_record r;
    if (cmd_open_store("vodgate", o.cfg_path, o.db, &s))
      return 1;
    rc = store_event_get(s, argv[optind], &r);
    if (rc) {
      fprintf(stderr, "vodgate events show: no event %s\n", argv[optind]);
      rc = 1;
    } else {
      json_t *j = event_json(&r, true);
      if (o.json) {
        cmd_print_json(j);
      } else {
        char *b = json_dumps(json_object_get(j, "body"), JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("key:      %s\nsource:   %s\ntype:     %s\nfile:     %s\ntask:     %s\n"
               "status:   %s\nreceived: %lld\nbody:\n%s\n",
               r.event_key, r.source, r.type, r.file_id ? r.file_id : "-",
               r.task_id ? r.task_id : "-", r.status ? r.status : "-", (long long)r.received_at,
               b ? b : "null");
        free(b);
        json_decref(j);
      }
      store_event_record_release(&r);
    }
  } else if (strcmp(verb, "replay") == 0 && optind + 1 == argc) {
    return replay(&o, argv[optind]);
  } else {
    events_usage(stderr);
    return EXIT_USAGE;
  }
  store_close(s);
  return rc;
}

static json_t *row_json(const struct store_ledger *l)
{
  json_t *d = json_loads(l->detail_json ? l->detail_json : "{}", 0, NULL);
  json_t *u = ledger_upload_json(l->upload_id, l->user_id, l->state, l->file_id, d, l->updated_at);
  json_decref(d);
  return u;
}

static int upload_list_cb(const struct store_ledger *l, void *arg)
{
  if (arg)
    json_array_append_new(arg, row_json(l));
  else
    printf("%-22s %-34s %-20s %-10s %lld\n", l->file_id, l->upload_id[0] ? l->upload_id : "-",
           l->user_id[0] ? l->user_id : "(unattributed)", l->state, (long long)l->updated_at);
  return 0;
}

int cmd_uploads(int argc, char **argv)
{
  struct opts o;
  struct store *s = NULL;
  const char *verb;
  enum ledger_state ls;
  int rc = parse_opts(argc, argv, &o, uploads_usage);

  if (rc)
    return rc < 0 ? 0 : rc;
  if (optind >= argc) {
    uploads_usage(stderr);
    return EXIT_USAGE;
  }
  verb = argv[optind++];
  if (strcmp(verb, "list") == 0 && optind == argc) {
    json_t *arr;
    if (o.state && (!ledger_state_parse(o.state, &ls) || ls == LEDGER_ISSUED)) {
      fprintf(stderr, "vodgate uploads list: --state must be a state a file can be in\n");
      return EXIT_USAGE;
    }
    if (cmd_open_store("vodgate", o.cfg_path, o.db, &s))
      return 1;
    arr = o.json ? json_array() : NULL;
    if (!o.json)
      printf("%-22s %-34s %-20s %-10s %s\n", "FILE", "UPLOAD", "USER", "STATE", "UPDATED");
    rc = store_ledger_list(s, o.user, o.state, o.limit, upload_list_cb, arr) ? 1 : 0;
    if (arr)
      cmd_print_json(arr);
  } else if (strcmp(verb, "show") == 0 && optind + 1 == argc) {
    const char *id = argv[optind];
    struct store_ledger l;
    struct store_session sess;
    json_t *u = NULL;
    if (strlen(id) > STORE_MAX_ID) {
      fprintf(stderr, "vodgate uploads show: no upload or file %s\n", id);
      return 1;
    }
    if (cmd_open_store("vodgate", o.cfg_path, o.db, &s))
      return 1;
    if (store_ledger_get(s, id, &l) == VG_OK || store_ledger_get_by_upload(s, id, &l) == VG_OK) {
      u = row_json(&l);
      store_ledger_release(&l);
    } else if (store_session_get(s, id, &sess) == VG_OK) {
      u = ledger_upload_json(sess.upload_id, sess.user_id, "issued", NULL, NULL, sess.created_at);
      store_session_release(&sess);
    }
    if (!u) {
      fprintf(stderr, "vodgate uploads show: no upload or file %s\n", id);
      rc = 1;
    } else if (o.json) {
      cmd_print_json(u);
      rc = 0;
    } else {
      json_t *rev = json_object_get(u, "review");
      const char *k;
      json_t *v;
      json_object_foreach(u, k, v)
      {
        if (json_is_string(v))
          printf("%-10s %s\n", k, json_string_value(v));
        else if (json_is_integer(v))
          printf("%-10s %lld\n", k, (long long)json_integer_value(v));
        else if (!json_is_object(v))
          printf("%-10s -\n", k);
      }
      if (json_is_object(rev)) {
        char *r = json_dumps(rev, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%-10s %s\n", "review", r ? r : "");
        free(r);
      }
      json_decref(u);
      rc = 0;
    }
  } else {
    uploads_usage(stderr);
    return EXIT_USAGE;
  }
  store_close(s);
  return rc;
}
