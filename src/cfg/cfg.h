/*
 * cfg.h: vodgate's configuration, one INI file plus VODGATE_<SECTION>_<KEY>
 * environment overrides, checked against a fixed schema (cfg.c, schema[]).
 *
 * Ownership and invariants:
 * - cfg_load() builds a new, complete, validated struct cfg or nothing. A
 *   loaded struct cfg is immutable and reference counted: readers on other
 *   threads take cfg_ref() and drop it with cfg_unref(). Reloading means
 *   loading a new struct and swapping the pointer (see svc/app.h); the old
 *   one is freed by its last cfg_unref().
 * - Every key of every section exists in a loaded cfg (explicitly set,
 *   inherited or defaulted), so getters never fail for a key of the schema.
 *   Asking for a key that is not in the schema is a programming error: the
 *   getter logs it and aborts.
 * - Secrets (keys ending in _file of type secret) are read at load time;
 *   their bytes are only reachable through cfg_get_secret() and are wiped on
 *   free. Nothing in this module ever prints a secret value.
 *
 * Sections are named as in the file: "server", "vod", "auth",
 * "attribution", "events", "webhook" and "policy NAME" (NAME matches
 * [A-Za-z0-9_-]{1,64}). "policy default" always exists. A [policy NAME]
 * key not set inherits the value of [policy default], then the schema
 * default.
 */
#ifndef VG_CFG_H
#define VG_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/err.h"

enum cfg_type {
  CFG_STR,         /* free text, max length in .max */
  CFG_PATH,        /* a file system path, not opened by cfg */
  CFG_INT,         /* decimal integer in [min, max] */
  CFG_BOOL,        /* true/false, yes/no, on/off, 1/0 */
  CFG_DURATION,    /* seconds: "90", "90s", "15m", "2h", "1d"; in [min, max] */
  CFG_SIZE,        /* bytes: "65536", "64k", "10m", "1g" (powers of 1024) */
  CFG_LIST,        /* comma-separated, items trimmed; .choices restricts them */
  CFG_ENUM,        /* one of .choices */
  CFG_ADDR,        /* listen address: host:port, :port, [v6]:port */
  CFG_SECRET_FILE, /* path of a file holding a secret; read at load */
};

struct cfg_key_info {
  const char *section; /* "server"... or "policy" for every [policy NAME] */
  const char *key;
  enum cfg_type type;
  const char *def;     /* default, spelled as in the file; NULL: unset */
  int64_t min, max;    /* numeric range; for CFG_STR max is the length */
  const char *choices; /* CFG_ENUM / CFG_LIST: "a|b|c"; NULL: any */
  const char *doc;
};

/* The schema, in documentation order. *n receives its length. */
const struct cfg_key_info *cfg_schema(size_t *n);

struct cfg;

#define CFG_ERR_MAX 512

/* Load path (NULL: no file, defaults and environment only), overlay the
 * VODGATE_* variables of env (a NULL-terminated environ-style array; NULL
 * means no environment), validate everything and read the secret files.
 * On success *out owns one reference. On failure returns -1 and err holds
 * one line naming where (FILE:LINE or env NAME), the key and the problem;
 * never a secret value. */
int cfg_load(const char *path, char *const *env, struct cfg **out, char *err,
             size_t errlen) WARN_UNUSED;

struct cfg *cfg_ref(struct cfg *c);
void cfg_unref(struct cfg *c); /* frees (and wipes secrets) on the last one */

/* The file this cfg was loaded from, or NULL. */
const char *cfg_path(const struct cfg *c);

/* Typed getters. section is "server", ... or "policy NAME". The returned
 * pointers live as long as the caller's reference on c. A section or key
 * that does not exist aborts (a programming error): resolve a policy name
 * that comes from outside (a token claim) with cfg_policy_find() first.
 * cfg_get_str: the value as written (for every type), NULL if unset.
 * cfg_get_int: CFG_INT, CFG_DURATION (seconds), CFG_SIZE (bytes), CFG_BOOL
 *   (0/1); 0 if unset.
 * cfg_get_list: the items of a CFG_LIST; *n receives the count (0 if unset);
 *   the array is NULL-terminated. */
const char *cfg_get_str(const struct cfg *c, const char *section, const char *key);
int64_t cfg_get_int(const struct cfg *c, const char *section, const char *key);
bool cfg_get_bool(const struct cfg *c, const char *section, const char *key);
const char *const *cfg_get_list(const struct cfg *c, const char *section, const char *key,
                                size_t *n);
/* True if the key was set by the file or the environment (or, for a
 * policy, inherited from an explicit [policy default] value). */
bool cfg_is_set(const struct cfg *c, const char *section, const char *key);
/* Where the value came from: "FILE:LINE", "env NAME", "[policy default]"
 * or "default". */
const char *cfg_source(const struct cfg *c, const char *section, const char *key);

/* A secret by its base name: for the schema key "secret_key_file" of [vod]
 * pass "secret_key". Returns NULL if no secret was configured. *len (may be
 * NULL) receives its length. The bytes belong to c. */
const char *cfg_get_secret(const struct cfg *c, const char *section, const char *name, size_t *len);

/* The [policy NAME] sections, "policy default" first, then in file order
 * (then environment order). Returns the full section name ("policy x"). */
size_t cfg_policy_count(const struct cfg *c);
const char *cfg_policy_section(const struct cfg *c, size_t i);
/* The NAME part of a policy section ("default"). */
const char *cfg_policy_name(const struct cfg *c, size_t i);
/* Section name for a policy name, or NULL if there is no such policy. */
const char *cfg_policy_find(const struct cfg *c, const char *name);

/* Print the effective configuration as INI, with the source of each value
 * in a comment. Secret values are never printed, only where they came
 * from. */
void cfg_dump(const struct cfg *c, FILE *f);

/* Print the schema as a Markdown table (docs/configuration.md). */
void cfg_schema_markdown(FILE *f);

/* The environment variable for a key of a fixed section, or of a policy
 * ("policy default"): upper-case section and key, spaces and '-' to '_'.
 * Writes at most n bytes; returns out. */
char *cfg_env_name(const char *section, const char *key, char *out, size_t n);

/* Parse a listen address: "host:port", ":port" (127.0.0.1), "[v6]:port",
 * where host is an IPv4 or IPv6 literal or "localhost"; port 0..65535 (0:
 * ephemeral). Returns 0 or -1 with a reason in *why. */
int cfg_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, const char **why);
/* True for an address only this host can reach: 127.0.0.0/8, ::1,
 * ::ffff:127.x. */
bool cfg_addr_is_loopback(const struct sockaddr_storage *ss);

#endif
