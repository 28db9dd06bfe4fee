/*
 * cmd_webhooks.c: `vodgate webhooks list|show|retry`: the operators' view
 * of the webhook outbox (store.h "Transactional outbox"), read and changed
 * in the store directly (SQLite or PostgreSQL, also while the daemon runs).
 *
 * retry makes dead-lettered rows (or the rows given) due again, as if just
 * written: attempts 0, due now, so the forwarder's retry schedule and
 * [webhook] retry_for start over. The running forwarder sends them at its
 * next look at the outbox (at most [webhook] poll_interval later) with the
 * same webhook-id as before, so receivers that dedupe on it stay correct.
 * A delivered row is never sent again: retrying one is refused (exit 1);
 * `vodgate events replay --webhook KEY` enqueues a new row instead.
 *
 * The webhook-id shown is the one the forwarder sends (webhook_msg_id).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "core/util.h"
#include "store/store.h"
#include "svc/workers.h"

static void webhooks_usage(FILE *f)
{
  fprintf(f,
          "usage: vodgate webhooks list [--dead|--pending|--delivered] [--file FILEID]\n"
          "                             [--limit N] [--json]\n"
          "       vodgate webhooks show ID [--json]\n"
          "       vodgate webhooks retry [--json] --dead | ID...\n\n"
          "The webhook outbox: one row per webhook to the app ([webhook] url), newest\n"
          "first. A row is pending (to be sent, or retried later), delivered, or dead\n"
          "(dead-lettered after [webhook] retry_for of failures: kept, never sent\n"
          "again). ID is the row id (the number in webhook-id msg_<ID>_...).\n\n"
          "retry makes the dead rows (--dead) or the rows given (dead or pending) due\n"
          "now with their attempts reset, all or none: a running server sends them\n"
          "within [webhook] poll_interval, with the same webhook-id. Delivered rows\n"
          "are refused (exit 1). Fix the receiver first.\n\n"
          "  --dead, --pending, --delivered   list only the rows in that state\n"
          "  -f, --file FILEID   only the webhooks about that file (data.fileId)\n"
          "  -n, --limit N       at most N rows (1..%d, default 50)\n"
          "  -j, --json          JSON output\n"
          "  -c, --config FILE   configuration (the [server] db; default\n"
          "                      $VODGATE_CONFIG, else defaults + VODGATE_*)\n"
          "  -d, --db URL        a database directly\n",
          STORE_MAX_LIST);
}

struct opts {
  const char *cfg_path, *db, *file;
  enum store_outbox_state state;
  int n_states; /* state flags given */
  int64_t limit;
  bool json;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
  enum { OPT_DEAD = 256, OPT_PENDING, OPT_DELIVERED };
  static const struct option lo[] = {{"config", required_argument, NULL, 'c'},
                                     {"db", required_argument, NULL, 'd'},
                                     {"file", required_argument, NULL, 'f'},
                                     {"limit", required_argument, NULL, 'n'},
                                     {"json", no_argument, NULL, 'j'},
                                     {"dead", no_argument, NULL, OPT_DEAD},
                                     {"pending", no_argument, NULL, OPT_PENDING},
                                     {"delivered", no_argument, NULL, OPT_DELIVERED},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  int c;

  memset(o, 0, sizeof(*o));
  o->cfg_path = getenv("VODGATE_CONFIG");
  o->limit = 50;
  optind = 1;
  while ((c = getopt_long(argc, argv, "c:d:f:n:jh", lo, NULL)) != -1) {
    switch (c) {
    case 'c': o->cfg_path = optarg; break;
    case 'd': o->db = optarg; break;
    case 'f':
      if (!*optarg || strlen(optarg) > STORE_MAX_ID) {
        fprintf(stderr, "vodgate webhooks: --file must be 1..%d bytes\n", STORE_MAX_ID);
        return EXIT_USAGE;
      }
      o->file = optarg;
      break;
    case 'n':
      if (parse_i64z(optarg, &o->limit) || o->limit < 1 || o->limit > STORE_MAX_LIST) {
        fprintf(stderr, "vodgate webhooks: --limit must be 1..%d\n", STORE_MAX_LIST);
        return EXIT_USAGE;
      }
      break;
    case 'j': o->json = true; break;
    case OPT_DEAD:
    case OPT_PENDING:
    case OPT_DELIVERED:
      o->state = c == OPT_DEAD      ? STORE_OUTBOX_DEAD
                 : c == OPT_PENDING ? STORE_OUTBOX_PENDING
                                    : STORE_OUTBOX_DELIVERED;
      o->n_states++;
      break;
    case 'h': webhooks_usage(stdout); return -1;
    default: webhooks_usage(stderr); return EXIT_USAGE;
    }
  }
  if (o->n_states > 1) {
    fprintf(stderr, "vodgate webhooks: give at most one of --dead, --pending, --delivered\n");
    return EXIT_USAGE;
  }
  return 0;
}

/* A row id: a decimal integer > 0. */
static bool parse_id(const char *s, int64_t *id)
{
  return parse_i64z(s, id) == 0 && *id > 0;
}

static const char *state_name(const struct store_outbox_item *it)
{
  return it->delivered_at ? "delivered" : it->dead ? "dead" : "pending";
}

/* ISO-8601 UTC, e.g. 2026-11-29T12:00:00Z. */
static void iso_time(int64_t t, char *out, size_t cap)
{
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(out, cap, "%lld", (long long)t);
}

/* The row as JSON; the payload (parsed) with with_payload. */
static json_t *item_json(const struct store_outbox_item *it, json_t *payload, bool with_payload)
{
  char wid[WEBHOOK_MSG_ID_MAX], due[32], done[32];
  json_t *file = json_object_get(json_object_get(payload, "data"), "fileId");
  json_t *o;

  webhook_msg_id(it->id, it->event_key, wid, sizeof(wid));
  iso_time(it->due_at, due, sizeof(due));
  iso_time(it->delivered_at, done, sizeof(done));
  o = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:s,s:o,s:o,s:O}", "id", (json_int_t)it->id, "webhookId",
                wid, "eventKey", it->event_key, "state", state_name(it), "attempts",
                (json_int_t)it->attempts, "dueAt", (json_int_t)it->due_at, "due", due,
                "deliveredAt", it->delivered_at ? json_integer(it->delivered_at) : json_null(),
                "delivered", it->delivered_at ? json_string(done) : json_null(), "fileId",
                json_is_string(file) ? file : json_null());
  if (o && with_payload)
    json_object_set(o, "payload", payload ? payload : json_null());
  return o;
}

static json_t *parse_payload(const char *payload_json)
{
  return json_loads(payload_json, JSON_DECODE_ANY, NULL);
}

static int list_cb(const struct store_outbox_item *it, void *arg)
{
  char wid[WEBHOOK_MSG_ID_MAX], when[32];

  if (arg) {
    json_t *p = parse_payload(it->payload_json);
    json_array_append_new(arg, item_json(it, p, false));
    json_decref(p);
    return 0;
  }
  webhook_msg_id(it->id, it->event_key, wid, sizeof(wid));
  iso_time(it->delivered_at ? it->delivered_at : it->due_at, when, sizeof(when));
  printf("%-8lld %-40s %-9s %8lld  %-20s  %s\n", (long long)it->id, wid, state_name(it),
         (long long)it->attempts, when, it->event_key);
  return 0;
}

static int show_cb(const struct store_outbox_item *it, void *arg)
{
  const struct opts *o = arg;
  json_t *p = parse_payload(it->payload_json);
  json_t *j = item_json(it, p, true);

  if (o->json) {
    cmd_print_json(j);
  } else {
    char *body = p ? json_dumps(p, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    json_t *file = json_object_get(j, "fileId");
    printf("id:         %lld\nwebhook-id: %s\nevent key:  %s\nfile:       %s\nstate:      %s\n"
           "attempts:   %lld\ndue:        %s\ndelivered:  %s\npayload:\n%s\n",
           (long long)it->id, json_string_value(json_object_get(j, "webhookId")), it->event_key,
           json_is_string(file) ? json_string_value(file) : "-", state_name(it),
           (long long)it->attempts, json_string_value(json_object_get(j, "due")),
           it->delivered_at ? json_string_value(json_object_get(j, "delivered")) : "-",
           body ? body : it->payload_json);
    free(body);
    json_decref(j);
  }
  json_decref(p);
  return 0;
}

struct retry_ids {
  const int64_t *ids;
  size_t n;
  int64_t now, changed;
  size_t failed; /* index of the id refused, when the run failed */
};

/* All the ids, or none: the first refusal rolls the others back. */
static int retry_tx(struct store_tx *tx, void *arg)
{
  struct retry_ids *r = arg;
  r->changed = 0;
  for (size_t i = 0; i < r->n; i++) {
    int64_t n = 0;
    int rc = store_tx_outbox_retry(tx, r->ids[i], r->now, &n);
    if (rc) {
      r->failed = i;
      return rc;
    }
    r->changed += n;
  }
  return VG_OK;
}

static int retry(const struct opts *o, int argc, char **argv)
{
  int64_t *ids = NULL, changed = 0;
  size_t n = 0;
  struct store *s = NULL;
  int rc;

  if (o->file || o->n_states > (o->state == STORE_OUTBOX_DEAD) ||
      (o->state == STORE_OUTBOX_DEAD) == (optind < argc)) {
    fprintf(stderr, "vodgate webhooks retry: give --dead or row ids (not both)\n");
    return EXIT_USAGE;
  }
  if (argc - optind > STORE_MAX_LIST) {
    fprintf(stderr, "vodgate webhooks retry: at most %d ids at once\n", STORE_MAX_LIST);
    return EXIT_USAGE;
  }
  if (optind < argc)
    ids = xcalloc((size_t)(argc - optind), sizeof(*ids));
  for (int i = optind; i < argc; i++) {
    int64_t id;
    bool dup = false;
    if (!parse_id(argv[i], &id)) {
      fprintf(stderr, "vodgate webhooks retry: '%s' is not a row id (an integer > 0)\n", argv[i]);
      free(ids);
      return EXIT_USAGE;
    }
    for (size_t j = 0; j < n && !dup; j++)
      dup = ids[j] == id;
    if (!dup)
      ids[n++] = id;
  }
  if (cmd_open_store("vodgate", o->cfg_path, o->db, &s)) {
    free(ids);
    return 1;
  }
  if (!ids) {
    rc = store_outbox_retry(s, 0, (int64_t)time(NULL), &changed);
  } else {
    struct retry_ids r = {ids, n, (int64_t)time(NULL), 0, 0};
    rc = store_run(s, retry_tx, &r);
    changed = r.changed;
    if (rc == VG_CONFLICT || rc == VG_NOTFOUND) {
      fprintf(stderr,
              rc == VG_CONFLICT ? "vodgate webhooks retry: webhook %lld was delivered already and"
                                  " is never sent again; nothing changed\n"
                                : "vodgate webhooks retry: no webhook %lld; nothing changed\n",
              (long long)ids[r.failed]);
      goto out;
    }
  }
  if (rc) {
    fprintf(stderr, "vodgate webhooks retry: %s; nothing changed\n", vg_strerror(rc));
    goto out;
  }
  if (o->json)
    cmd_print_json(json_pack("{s:I}", "due", (json_int_t)changed));
  else
    printf("%lld webhook%s due again; a running server sends %s within [webhook] poll_interval\n",
           (long long)changed, changed == 1 ? "" : "s", changed == 1 ? "it" : "them");
out:
  free(ids);
  store_close(s);
  return rc ? 1 : 0;
}

int cmd_webhooks(int argc, char **argv)
{
  struct opts o;
  struct store *s = NULL;
  const char *verb;
  int rc = parse_opts(argc, argv, &o);

  if (rc)
    return rc < 0 ? 0 : rc;
  if (optind >= argc) {
    webhooks_usage(stderr);
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
      printf("%-8s %-40s %-9s %8s  %-20s  %s\n", "ID", "WEBHOOK-ID", "STATE", "ATTEMPTS",
             "DUE/DELIVERED (UTC)", "EVENT KEY");
    rc = store_outbox_list(s, o.state, o.file, o.limit, list_cb, arr);
    if (rc) {
      fprintf(stderr, "vodgate webhooks list: %s\n", vg_strerror(rc));
      json_decref(arr);
    } else if (arr) {
      cmd_print_json(arr);
    }
    rc = rc ? 1 : 0;
  } else if (strcmp(verb, "show") == 0 && optind + 1 == argc && !o.file && !o.n_states) {
    int64_t id;
    if (!parse_id(argv[optind], &id)) {
      fprintf(stderr, "vodgate webhooks show: '%s' is not a row id (an integer > 0)\n",
              argv[optind]);
      return EXIT_USAGE;
    }
    if (cmd_open_store("vodgate", o.cfg_path, o.db, &s))
      return 1;
    rc = store_outbox_get(s, id, show_cb, &o);
    if (rc == VG_NOTFOUND)
      fprintf(stderr, "vodgate webhooks show: no webhook %lld\n", (long long)id);
    else if (rc)
      fprintf(stderr, "vodgate webhooks show: %s\n", vg_strerror(rc));
    rc = rc ? 1 : 0;
  } else if (strcmp(verb, "retry") == 0) {
    return retry(&o, argc, argv);
  } else {
    webhooks_usage(stderr);
    return EXIT_USAGE;
  }
  store_close(s);
  return rc;
}
