/*
 * cfg.c: loading, validation and lookup of the configuration.
 *
 * Load order: schema defaults < INI file < environment. Secrets are read
 * last, after every key is known. Errors stop at the first problem and name
 * where it was set (FILE:LINE or env NAME), the key and the problem.
 *
 * Environment rule (docs/configuration.md): VODGATE_<SECTION>_<KEY> with
 * section and key upper-cased. For [policy NAME] the variable is
 * VODGATE_POLICY_<NAME>_<KEY>; NAME is recovered by removing the longest
 * known policy key suffix, and matches a file section whose name upper-cased
 * with '-' as '_' is equal, or creates the policy (lower-cased). A secret
 * key X_file also accepts the value itself in VODGATE_<SECTION>_<X>, which
 * wins over any file.
 */
#include "cfg/cfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/io.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/util.h"

#define CFG_MAX_POLICY_NAME 64
#define CFG_MAX_POLICIES    256 /* more named policies than any app needs */
#define CFG_MAX_LIST_ITEMS  64
#define CFG_MAX_LIST_ITEM   256
#define CFG_MAX_PATH        4096

static const char *const fixed_sections[] = {"server", "vod",     "auth",     "attribution",
                                             "events", "webhook", "retention"};

/* VODGATE_* variables that are not configuration keys: the config file's
 * name, the test switches, and `vodgate upload`'s bearer token (a shell that
 * exported it for an upload must still be able to run serve or config). */
static const char *const env_ignored[] = {"VODGATE_BIN", "VODGATE_SRC", "VODGATE_TEST_ROUTES",
                                          "VODGATE_CONFIG", "VODGATE_UPLOAD_TOKEN"};

struct cfg_val {
  const struct cfg_key_info *ki;
  char *section;
  char *raw; /* NULL: unset */
  int64_t num;
  char **items; /* CFG_LIST, NULL-terminated */
  size_t nitems;
  char *secret; /* CFG_SECRET_FILE */
  size_t secret_len;
  char secret_src[280];
  char source[CFG_MAX_PATH + 32];
  bool set;
  bool from_file;
};

struct cfg {
  atomic_int refs;
  char *path;
  struct cfg_val *vals;
  size_t nvals, cap;
  char **policies; /* full section names, "policy default" first */
  size_t npol;
  /* (section, key) -> index into vals + 1 (0: empty), open addressing,
   * hcap a power of two >= 2 * nvals. Request handlers read several keys
   * per request: a lookup is one hash, not a walk over every key. Built
   * while loading (single-threaded); read-only afterwards. */
  uint32_t *hash;
  size_t hcap;
};

/* ---- small helpers ---- */

static void upper_norm(const char *s, char *out, size_t n)
{
  size_t i = 0;
  for (; *s && i + 1 < n; s++, i++)
    out[i] = (*s == ' ' || *s == '-') ? '_' : (char)toupper((unsigned char)*s);
  out[i] = '\0';
}

char *cfg_env_name(const char *section, const char *key, char *out, size_t n)
{
  char s[160], k[96];
  upper_norm(section, s, sizeof(s));
  upper_norm(key, k, sizeof(k));
  snprintf(out, n, "VODGATE_%s_%s", s, k);
  return out;
}

static bool is_secret(const struct cfg_key_info *ki)
{
  return ki->type == CFG_SECRET_FILE;
}

/* "secret_key_file" -> "secret_key" */
static void secret_base(const struct cfg_key_info *ki, char *out, size_t n)
{
  size_t l = strlen(ki->key);
  if (l > 5 && strcmp(ki->key + l - 5, "_file") == 0)
    l -= 5;
  snprintf(out, n, "%.*s", (int)l, ki->key);
}

static bool is_fixed_section(const char *s)
{
  for (size_t i = 0; i < ARRAY_SIZE(fixed_sections); i++)
    if (strcmp(fixed_sections[i], s) == 0)
      return true;
  return false;
}

static const char *schema_section(const char *section)
{
  return strncmp(section, "policy ", 7) == 0 ? "policy" : section;
}

static bool policy_name_ok(const char *n)
{
  size_t l = strlen(n);
  if (l == 0 || l > CFG_MAX_POLICY_NAME)
    return false;
  for (; *n; n++)
    if (!isalnum((unsigned char)*n) && *n != '_' && *n != '-')
      return false;
  return true;
}

static uint32_t key_hash(const char *section, const char *key)
{
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)section; *p; p++)
    h = (h ^ *p) * 16777619u;
  h = (h ^ 0xffu) * 16777619u; /* separator: ("a b", "c") != ("a", "b c") */
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    h = (h ^ *p) * 16777619u;
  return h;
}

static void hash_put(struct cfg *c, size_t idx)
{
  const struct cfg_val *v = &c->vals[idx];
  size_t i = key_hash(v->section, v->ki->key) & (c->hcap - 1);
  while (c->hash[i])
    i = (i + 1) & (c->hcap - 1);
  c->hash[i] = (uint32_t)idx + 1;
}

/* A bigger table with every value re-inserted (vals outgrew the old). */
static void hash_grow(struct cfg *c)
{
  free(c->hash);
  c->hcap = 64;
  while (c->hcap < 4 * c->nvals)
    c->hcap *= 2;
  c->hash = xcalloc(c->hcap, sizeof(*c->hash));
  for (size_t i = 0; i < c->nvals; i++)
    hash_put(c, i);
}

static struct cfg_val *find_val(const struct cfg *c, const char *section, const char *key)
{
  if (!c->hcap)
    return NULL;
  for (size_t i = key_hash(section, key) & (c->hcap - 1); c->hash[i]; i = (i + 1) & (c->hcap - 1)) {
    struct cfg_val *v = &c->vals[c->hash[i] - 1];
    if (strcmp(v->ki->key, key) == 0 && strcmp(v->section, section) == 0)
      return v;
  }
  return NULL;
}

static bool has_section(const struct cfg *c, const char *section)
{
  for (size_t i = 0; i < c->nvals; i++)
    if (strcmp(c->vals[i].section, section) == 0)
      return true;
  return false;
}

static void add_section(struct cfg *c, const char *section)
{
  size_t n;
  const struct cfg_key_info *s = cfg_schema(&n);
  const char *ss = schema_section(section);

  for (size_t i = 0; i < n; i++) {
    struct cfg_val *v;
    if (strcmp(s[i].section, ss) != 0)
      continue;
    if (c->nvals == c->cap) {
      c->cap = c->cap ? c->cap * 2 : 64;
      c->vals = xrealloc(c->vals, c->cap * sizeof(*c->vals));
    }
    v = &c->vals[c->nvals++];
    memset(v, 0, sizeof(*v));
    v->ki = &s[i];
    v->section = xstrdup(section);
    snprintf(v->source, sizeof(v->source), "default");
    if (c->hcap >= 2 * c->nvals)
      hash_put(c, c->nvals - 1);
    else
      hash_grow(c);
  }
  if (strcmp(ss, "policy") == 0) {
    c->policies = xrealloc(c->policies, (c->npol + 1) * sizeof(char *));
    c->policies[c->npol++] = xstrdup(section);
  }
}

static void val_clear(struct cfg_val *v)
{
  free(v->raw);
  v->raw = NULL;
  if (v->items) {
    for (size_t i = 0; i < v->nitems; i++)
      free(v->items[i]);
    free(v->items);
  }
  v->items = NULL;
  v->nitems = 0;
}

static void val_set(struct cfg_val *v, const char *raw, const char *source)
{
  val_clear(v);
  v->raw = xstrdup(raw);
  v->set = true;
  snprintf(v->source, sizeof(v->source), "%s", source);
}

static void cfg_free(struct cfg *c)
{
  for (size_t i = 0; i < c->nvals; i++) {
    struct cfg_val *v = &c->vals[i];
    val_clear(v);
    if (v->secret) {
      secure_zero(v->secret, v->secret_len);
      free(v->secret);
    }
    free(v->section);
  }
  for (size_t i = 0; i < c->npol; i++)
    free(c->policies[i]);
  free(c->policies);
  free(c->vals);
  free(c->hash);
  free(c->path);
  free(c);
}

struct cfg *cfg_ref(struct cfg *c)
{
  atomic_fetch_add(&c->refs, 1);
  return c;
}

void cfg_unref(struct cfg *c)
{
  if (c && atomic_fetch_sub(&c->refs, 1) == 1)
    cfg_free(c);
}

const char *cfg_path(const struct cfg *c)
{
  return c->path;
}

/* ---- value parsing ---- */

static bool has_ctl(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return true;
  return false;
}

static int parse_scaled(const char *s, bool duration, int64_t *out)
{
  size_t n = strlen(s);
  int64_t mult = 1;
  uint64_t u;

  if (n == 0)
    return -1;
  if (isalpha((unsigned char)s[n - 1])) {
    char u8 = (char)tolower((unsigned char)s[n - 1]);
    if (duration)
      mult = u8 == 's' ? 1 : u8 == 'm' ? 60 : u8 == 'h' ? 3600 : u8 == 'd' ? 86400 : 0;
    else
      mult = u8 == 'k' ? 1024 : u8 == 'm' ? 1048576 : u8 == 'g' ? 1073741824 : 0;
    if (!mult)
      return -1;
    n--;
  }
  if (parse_u64(s, n, &u) || u > (uint64_t)(INT64_MAX / mult))
    return -1;
  *out = (int64_t)u * mult;
  return 0;
}

static bool choice_ok(const char *choices, const char *s)
{
  size_t l = strlen(s);
  const char *p = choices;
  while (*p) {
    const char *e = strchr(p, '|');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == l && strncmp(p, s, n) == 0)
      return true;
    if (!e)
      break;
    p = e + 1;
  }
  return false;
}

static void choices_text(const char *choices, char *out, size_t n)
{
  size_t j = 0;
  for (const char *p = choices; *p && j + 3 < n; p++) {
    if (*p == '|') {
      out[j++] = ',';
      out[j++] = ' ';
    } else {
      out[j++] = *p;
    }
  }
  out[j] = '\0';
}

static int split_list(struct cfg_val *v, const char *raw, char *why, size_t wn)
{
  const char *p = raw;

  v->items = xcalloc(CFG_MAX_LIST_ITEMS + 1, sizeof(char *));
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    const char *a = p;
    while (n > 0 && isspace((unsigned char)*a)) {
      a++;
      n--;
    }
    while (n > 0 && isspace((unsigned char)a[n - 1]))
      n--;
    if (n == 0) {
      snprintf(why, wn, "empty list item");
      return -1;
    }
    if (n > CFG_MAX_LIST_ITEM) {
      snprintf(why, wn, "list item longer than %d characters", CFG_MAX_LIST_ITEM);
      return -1;
    }
    if (v->nitems == CFG_MAX_LIST_ITEMS) {
      snprintf(why, wn, "more than %d list items", CFG_MAX_LIST_ITEMS);
      return -1;
    }
    v->items[v->nitems] = xstrndup(a, n);
    if (v->ki->choices && !choice_ok(v->ki->choices, v->items[v->nitems])) {
      char ch[128];
      choices_text(v->ki->choices, ch, sizeof(ch));
      snprintf(why, wn, "unknown item '%.64s' (allowed: %s)", v->items[v->nitems], ch);
      v->nitems++;
      return -1;
    }
    v->nitems++;
    if (!e)
      break;
    p = e + 1;
  }
  return 0;
}

/* Validate v->raw (or the default when unset) and fill num/items. */
static int val_parse(struct cfg_val *v, char *why, size_t wn)
{
  const struct cfg_key_info *ki = v->ki;
  const char *s = v->raw ? v->raw : ki->def;

  v->num = 0;
  if (!s)
    return 0;
  if (*s == '\0') {
    switch (ki->type) {
    case CFG_STR:
    case CFG_PATH:
    case CFG_LIST:
    case CFG_SECRET_FILE:
      free(v->raw); /* explicitly empty: unset */
      v->raw = NULL;
      return 0;
    default: snprintf(why, wn, "empty value"); return -1;
    }
  }
  if (has_ctl(s)) {
    snprintf(why, wn, "control character in value");
    return -1;
  }
  if (!utf8_valid(s, strlen(s))) {
    snprintf(why, wn, "value is not valid UTF-8");
    return -1;
  }
  switch (ki->type) {
  case CFG_STR:
    if (ki->max > 0 && strlen(s) > (size_t)ki->max) {
      snprintf(why, wn, "longer than %lld characters", (long long)ki->max);
      return -1;
    }
    return 0;
  case CFG_PATH:
  case CFG_SECRET_FILE:
    if (strlen(s) >= CFG_MAX_PATH) {
      snprintf(why, wn, "path longer than %d bytes", CFG_MAX_PATH - 1);
      return -1;
    }
    return 0;
  case CFG_INT:
    if (parse_i64z(s, &v->num)) {
      snprintf(why, wn, "'%.64s' is not an integer", s);
      return -1;
    }
    break;
  case CFG_BOOL:
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "1"))
      v->num = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "0"))
      v->num = 0;
    else {
      snprintf(why, wn, "'%.64s' is not a boolean (true/false, yes/no, on/off, 1/0)", s);
      return -1;
    }
    return 0;
  case CFG_DURATION:
    if (parse_scaled(s, true, &v->num)) {
      snprintf(why, wn, "'%.64s' is not a duration (seconds, or a number with s/m/h/d)", s);
      return -1;
    }
    break;
  case CFG_SIZE:
    if (parse_scaled(s, false, &v->num)) {
      snprintf(why, wn, "'%.64s' is not a size (bytes, or a number with k/m/g)", s);
      return -1;
    }
    break;
  case CFG_LIST: return split_list(v, s, why, wn);
  case CFG_ENUM:
    if (!choice_ok(ki->choices, s)) {
      char ch[128];
      choices_text(ki->choices, ch, sizeof(ch));
      snprintf(why, wn, "'%.64s' is not one of: %s", s, ch);
      return -1;
    }
    return 0;
  case CFG_ADDR: {
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *r;
    if (cfg_parse_addr(s, &ss, &sl, &r)) {
      snprintf(why, wn, "'%.64s': %s", s, r);
      return -1;
    }
    return 0;
  }
  }
  if (v->num < ki->min || v->num > ki->max) {
    snprintf(why, wn, "%lld is out of range [%lld, %lld]", (long long)v->num, (long long)ki->min,
             (long long)ki->max);
    return -1;
  }
  return 0;
}

bool cfg_addr_is_loopback(const struct sockaddr_storage *ss)
{
  if (ss->ss_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
  if (ss->ss_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
  }
  return false;
}

int cfg_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, const char **why)
{
  char host[64];
  const char *port;
  uint64_t p;

  memset(ss, 0, sizeof(*ss));
  if (s[0] == '[') {
    const char *e = strchr(s, ']');
    if (!e || e[1] != ':') {
      *why = "expected [IPv6]:port";
      return -1;
    }
    if ((size_t)(e - s - 1) >= sizeof(host)) {
      *why = "host too long";
      return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(e - s - 1), s + 1);
    port = e + 2;
    if (parse_u64z(port, &p) || p > 65535) {
      *why = "port must be 0..65535";
      return -1;
    }
    {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
      a->sin6_family = AF_INET6;
      a->sin6_port = htons((uint16_t)p);
      if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
        *why = "not an IPv6 address";
        return -1;
      }
      *len = sizeof(*a);
    }
    return 0;
  }
  port = strrchr(s, ':');
  if (!port) {
    *why = "expected host:port, :port or [IPv6]:port";
    return -1;
  }
  if ((size_t)(port - s) >= sizeof(host)) {
    *why = "host too long";
    return -1;
  }
  snprintf(host, sizeof(host), "%.*s", (int)(port - s), s);
  if (strchr(host, ':')) {
    *why = "an IPv6 address needs brackets: [addr]:port";
    return -1;
  }
  if (parse_u64z(port + 1, &p) || p > 65535) {
    *why = "port must be 0..65535";
    return -1;
  }
  {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)p);
    if (host[0] == '\0' || strcmp(host, "localhost") == 0)
      snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
      *why = "host must be an IPv4 address, [IPv6] or localhost";
      return -1;
    }
    *len = sizeof(*a);
  }
  return 0;
}

/* ---- the INI file ---- */

struct parse_ctx {
  struct cfg *c;
  const char *path;
  const char *text; /* whole file, NUL-terminated */
  size_t off;
  int line;
  bool cont; /* the current line starts with whitespace */
  bool failed;
  struct cfg_val *last;
  char *err;
  size_t errlen;
};

/* A [section] line: known fixed section, or a policy to create. */
static int section_open(struct parse_ctx *p, const char *section, const char *where)
{
  struct cfg *c = p->c;

  if (section[0] == '\0') {
    snprintf(p->err, p->errlen, "%s: empty section name", where);
    return -1;
  }
  if (!is_fixed_section(section)) {
    if (strncmp(section, "policy ", 7) != 0) {
      snprintf(p->err, p->errlen, "%s: unknown section [%.64s]", where, section);
      return -1;
    }
    if (!policy_name_ok(section + 7)) {
      snprintf(p->err, p->errlen, "%s: [%.80s]: policy name must be 1-64 of A-Z a-z 0-9 _ -", where,
               section);
      return -1;
    }
    if (!has_section(c, section)) {
      char a[80], b[80];
      upper_norm(section, a, sizeof(a));
      for (size_t i = 0; i < c->npol; i++) {
        upper_norm(c->policies[i], b, sizeof(b));
        if (strcmp(a, b) == 0) {
          snprintf(p->err, p->errlen, "%s: [%s] and [%s] have the same environment name %s_*",
                   where, section, c->policies[i], a);
          return -1;
        }
      }
      if (c->npol >= CFG_MAX_POLICIES) {
        snprintf(p->err, p->errlen, "%s: more than %d policies", where, CFG_MAX_POLICIES);
        return -1;
      }
      add_section(c, section);
    }
  }
  return 0;
}

/* inih calls this like fgets. Handing out one line per call keeps our line
 * count equal to inih's, and lets us refuse lines inih would split. */
static char *cfg_ini_reader(char *str, int num, void *stream)
{
  struct parse_ctx *p = stream;
  const char *s = p->text + p->off;
  const char *e;
  size_t n;

  if (*s == '\0' || p->failed)
    return NULL;
  e = strchr(s, '\n');
  n = e ? (size_t)(e - s) + 1 : strlen(s);
  p->line++;
  if (n + 1 > (size_t)num) {
    snprintf(p->err, p->errlen,
             "%s:%d: line longer than %d characters (continue a list on indented lines)", p->path,
             p->line, num - 2);
    p->failed = true;
    return NULL;
  }
  memcpy(str, s, n);
  str[n] = '\0';
  p->off += n;
  p->cont = (s[0] == ' ' || s[0] == '\t');
  if (!p->cont && s[0] == '[') {
    /* inih reports sections only with their first key; check (and create)
     * them here so that empty sections count and errors name this line. */
    char name[CFG_MAX_POLICY_NAME + 16], where[CFG_MAX_PATH + 32];
    const char *e2 = memchr(s, ']', n);
    size_t a = 1, b = e2 ? (size_t)(e2 - s) : 0;
    if (e2 && b - 1 < sizeof(name)) {
      while (a < b && (s[a] == ' ' || s[a] == '\t'))
        a++;
      while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
        b--;
      snprintf(name, sizeof(name), "%.*s", (int)(b - a), s + a);
      snprintf(where, sizeof(where), "%s:%d", p->path, p->line);
      if (!has_section(p->c, name) && section_open(p, name, where)) {
        p->failed = true;
        return NULL;
      }
    } else if (e2) {
      snprintf(p->err, p->errlen, "%s:%d: section name too long", p->path, p->line);
      p->failed = true;
      return NULL;
    }
  }
  return str;
}

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
  struct parse_ctx *p = user;
  struct cfg *c = p->c;
  struct cfg_val *v;
  char where[CFG_MAX_PATH + 32];

  if (p->failed)
    return 0;
  snprintf(where, sizeof(where), "%s:%d", p->path, p->line);
  if (section[0] == '\0') {
    snprintf(p->err, p->errlen, "%s: key '%s' is outside of any [section]", where, name);
    goto fail;
  }
  if (!has_section(c, section) && section_open(p, section, where))
    goto fail;
  v = find_val(c, section, name);
  if (!v) {
    snprintf(p->err, p->errlen, "%s: [%s] %.64s: unknown key", where, section, name);
    goto fail;
  }
  if (p->cont) {
    /* An indented line continues the previous key's value. */
    if (v != p->last || v->ki->type != CFG_LIST) {
      snprintf(p->err, p->errlen,
               "%s: [%s] %s: indented line continues a value, but only lists may continue", where,
               section, name);
      goto fail;
    }
    {
      struct buf b;
      char *joined;
      size_t vl = strlen(value);
      /* libinih strips "; comment" (after whitespace) from key lines but
       * hands continuation lines over whole: strip it here, as there. */
      for (size_t i = 1; i < vl; i++)
        if (value[i] == ';' && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
          vl = i;
          break;
        }
      while (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
        vl--;
      buf_init(&b, CFG_MAX_FILE);
      size_t rl = strlen(v->raw);
      bool sep = rl > 0 && v->raw[rl - 1] != ',' && value[0] != ',';
      if (buf_printf(&b, "%s%s%.*s", v->raw, sep ? "," : "", (int)vl, value)) {
        buf_release(&b);
        goto fail;
      }
      joined = buf_detach(&b, NULL);
      free(v->raw);
      v->raw = joined;
    }
    return 1;
  }
  if (v->from_file) {
    snprintf(p->err, p->errlen, "%s: [%s] %s: set twice (first at %s)", where, section, name,
             v->source);
    goto fail;
  }
  val_set(v, value, where);
  v->from_file = true;
  p->last = v;
  return 1;
fail:
  p->failed = true;
  return 0;
}

static int load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
  struct buf b;
  struct parse_ctx p;
  int rc;

  buf_init(&b, CFG_MAX_FILE);
  if (read_file(path, &b)) {
    if (errno == 0 || b.len >= CFG_MAX_FILE)
      snprintf(err, errlen, "%s: larger than %d bytes", path, CFG_MAX_FILE);
    else
      snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    buf_release(&b);
    return -1;
  }
  if (memchr(b.ptr, '\0', b.len)) {
    snprintf(err, errlen, "%s: contains a NUL byte", path);
    buf_release(&b);
    return -1;
  }
  memset(&p, 0, sizeof(p));
  p.c = c;
  p.path = path;
  p.text = b.ptr;
  p.err = err;
  p.errlen = errlen;
  rc = ini_parse_stream(cfg_ini_reader, &p, cfg_ini_handler, &p);
  buf_release(&b);
  if (p.failed)
    return -1;
  if (rc > 0) {
    snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path, rc);
    return -1;
  }
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot parse (out of memory)", path);
    return -1;
  }
  return 0;
}

/* ---- the environment ---- */

static int env_policy(struct cfg *c, const char *var, const char *rest, const char *value,
                      char *err, size_t errlen)
{
  size_t n;
  const struct cfg_key_info *s = cfg_schema(&n);
  const struct cfg_key_info *best = NULL;
  size_t best_len = 0, rl = strlen(rest);
  char uname[CFG_MAX_POLICY_NAME + 1], sec[CFG_MAX_POLICY_NAME + 8], src[280];
  const char *section = NULL;

  for (size_t i = 0; i < n; i++) {
    char uk[96];
    size_t kl;
    if (strcmp(s[i].section, "policy") != 0)
      continue;
    upper_norm(s[i].key, uk, sizeof(uk));
    kl = strlen(uk);
    if (rl > kl + 1 && rest[rl - kl - 1] == '_' && strcmp(rest + rl - kl, uk) == 0 &&
        kl > best_len) {
      best = &s[i];
      best_len = kl;
    }
  }
  if (!best) {
    snprintf(err, errlen, "env %s: no known [policy NAME] key at the end of the name", var);
    return -1;
  }
  if (rl - best_len - 1 > CFG_MAX_POLICY_NAME) {
    snprintf(err, errlen, "env %s: policy name longer than %d", var, CFG_MAX_POLICY_NAME);
    return -1;
  }
  snprintf(uname, sizeof(uname), "%.*s", (int)(rl - best_len - 1), rest);
  for (size_t i = 0; i < c->npol; i++) {
    char un[80];
    upper_norm(c->policies[i] + 7, un, sizeof(un));
    if (strcmp(un, uname) == 0)
      section = c->policies[i];
  }
  if (!section) {
    char *q;
    snprintf(sec, sizeof(sec), "policy %s", uname);
    for (q = sec + 7; *q; q++)
      *q = (char)tolower((unsigned char)*q);
    if (!policy_name_ok(sec + 7)) {
      snprintf(err, errlen, "env %s: bad policy name", var);
      return -1;
    }
    if (c->npol >= CFG_MAX_POLICIES) {
      snprintf(err, errlen, "env %s: more than %d policies", var, CFG_MAX_POLICIES);
      return -1;
    }
    add_section(c, sec);
    section = sec;
  }
  snprintf(src, sizeof(src), "env %s", var);
  val_set(find_val(c, section, best->key), value, src);
  return 0;
}

static int env_one(struct cfg *c, const char *entry, char *err, size_t errlen)
{
  const char *eq = strchr(entry, '=');
  char var[256], src[280];
  const char *value;

  if (!eq || strncmp(entry, "VODGATE_", 8) != 0)
    return 0;
  if ((size_t)(eq - entry) >= sizeof(var)) {
    snprintf(err, errlen, "env %.64s...: name too long", entry);
    return -1;
  }
  snprintf(var, sizeof(var), "%.*s", (int)(eq - entry), entry);
  value = eq + 1;
  for (size_t i = 0; i < ARRAY_SIZE(env_ignored); i++)
    if (strcmp(var, env_ignored[i]) == 0)
      return 0;
  snprintf(src, sizeof(src), "env %s", var);
  for (size_t i = 0; i < ARRAY_SIZE(fixed_sections); i++) {
    char us[32];
    size_t ul;
    const char *rest;
    upper_norm(fixed_sections[i], us, sizeof(us));
    ul = strlen(us);
    if (strncmp(var + 8, us, ul) != 0 || var[8 + ul] != '_')
      continue;
    rest = var + 8 + ul + 1;
    for (size_t j = 0; j < c->nvals; j++) {
      struct cfg_val *v = &c->vals[j];
      char uk[96], base[96];
      if (strcmp(v->section, fixed_sections[i]) != 0)
        continue;
      upper_norm(v->ki->key, uk, sizeof(uk));
      if (strcmp(uk, rest) == 0) {
        val_set(v, value, src);
        return 0;
      }
      if (is_secret(v->ki)) {
        secret_base(v->ki, base, sizeof(base));
        upper_norm(base, uk, sizeof(uk));
        if (strcmp(uk, rest) == 0) {
          size_t l = strlen(value);
          if (l == 0 || l > CFG_MAX_SECRET_FILE) {
            snprintf(err, errlen, "env %s: [%s] %s: secret must be 1..%d bytes", var,
                     fixed_sections[i], base, CFG_MAX_SECRET_FILE);
            return -1;
          }
          if (v->secret) {
            secure_zero(v->secret, v->secret_len);
            free(v->secret);
          }
          v->secret = xstrdup(value);
          v->secret_len = l;
          snprintf(v->secret_src, sizeof(v->secret_src), "env %s", var);
          return 0;
        }
      }
    }
    snprintf(err, errlen, "env %s: [%s]: unknown key", var, fixed_sections[i]);
    return -1;
  }
  if (strncmp(var + 8, "POLICY_", 7) == 0)
    return env_policy(c, var, var + 15, value, err, errlen);
  snprintf(err, errlen, "env %s: unknown configuration section (VODGATE_<SECTION>_<KEY>)", var);
  return -1;
}

/* ---- load ---- */

static int check_pair(struct cfg *c, const char *id, const char *key, char *err, size_t errlen)
{
  struct cfg_val *a = find_val(c, "vod", id);
  struct cfg_val *b = find_val(c, "vod", key);
  char base[64], ev[128];

  secret_base(b->ki, base, sizeof(base));
  if ((a->raw != NULL) != (b->secret != NULL)) {
    cfg_env_name("vod", base, ev, sizeof(ev));
    snprintf(err, errlen, "%s: [vod] %s and %s (or %s) must be set together",
             a->raw ? a->source : (b->raw ? b->source : b->secret_src), id, key, ev);
    return -1;
  }
  return 0;
}

/* A CORS origin is compared byte for byte with the Origin header, which
 * browsers send as scheme://host[:port], host in lower case, no path: an
 * item written otherwise (a trailing slash, a capital, no scheme) would
 * never match, so it is refused here rather than ignored. */
static int check_origins(struct cfg *c, char *err, size_t errlen)
{
  const struct cfg_val *v = find_val(c, "server", "cors_origins");
  size_t n;
  const char *const *items = cfg_get_list(c, "server", "cors_origins", &n);

  for (size_t i = 0; i < n; i++) {
    const char *it = items[i], *h;
    bool ok;
    if (strcmp(it, "*") == 0)
      continue;
    h = strncmp(it, "https://", 8) == 0 ? it + 8 : strncmp(it, "http://", 7) == 0 ? it + 7 : NULL;
    ok = h && *h;
    for (const char *q = h; ok && *q; q++)
      if (strchr("/?#@", *q) || isspace((unsigned char)*q) || isupper((unsigned char)*q))
        ok = false;
    if (!ok) {
      snprintf(err, errlen,
               "%s: [server] cors_origins: '%.256s' is not an origin as browsers send it "
               "(http:// or https://, the host in lower case, an optional :port, no path "
               "or trailing slash; or *)",
               v->source, it);
      return -1;
    }
  }
  return 0;
}

int cfg_load(const char *path, char *const *env, struct cfg **out, char *err, size_t errlen)
{
  struct cfg *c = xcalloc(1, sizeof(*c));
  struct cfg_val *def;

  *out = NULL;
  atomic_init(&c->refs, 1);
  if (path)
    c->path = xstrdup(path);
  for (size_t i = 0; i < ARRAY_SIZE(fixed_sections); i++)
    add_section(c, fixed_sections[i]);
  add_section(c, "policy default");
  if (path && load_file(c, path, err, errlen))
    goto fail;
  for (char *const *e = env; e && *e; e++)
    if (env_one(c, *e, err, errlen))
      goto fail;

  /* [policy X] inherits what [policy default] sets. */
  for (size_t i = 0; i < c->nvals; i++) {
    struct cfg_val *v = &c->vals[i];
    if (strncmp(v->section, "policy ", 7) != 0 || strcmp(v->section, "policy default") == 0 ||
        v->set)
      continue;
    def = find_val(c, "policy default", v->ki->key);
    if (def->set && def->raw) {
      val_set(v, def->raw, "[policy default]");
    }
  }

  for (size_t i = 0; i < c->nvals; i++) {
    struct cfg_val *v = &c->vals[i];
    char why[320];
    if (val_parse(v, why, sizeof(why))) {
      snprintf(err, errlen, "%s: [%s] %s: %s", v->source, v->section, v->ki->key, why);
      goto fail;
    }
  }

  for (size_t i = 0; i < c->nvals; i++) {
    struct cfg_val *v = &c->vals[i];
    if (!is_secret(v->ki) || v->secret || !v->raw)
      continue;
    v->secret = read_secret_file(v->raw);
    if (!v->secret) {
      snprintf(err, errlen, "%s: [%s] %s: cannot read secret file '%.200s': %s", v->source,
               v->section, v->ki->key, v->raw,
               errno == EINVAL  ? "empty"
               : errno == EFBIG ? "too large"
                                : strerror(errno));
      goto fail;
    }
    v->secret_len = strlen(v->secret);
    snprintf(v->secret_src, sizeof(v->secret_src), "file");
  }

  if (check_pair(c, "secret_id", "secret_key_file", err, errlen) ||
      check_pair(c, "previous_secret_id", "previous_secret_key_file", err, errlen) ||
      check_origins(c, err, errlen))
    goto fail;

  *out = c;
  return 0;
fail:
  cfg_free(c);
  return -1;
}

/* ---- getters ---- */

static const struct cfg_val *get(const struct cfg *c, const char *section, const char *key)
{
  const struct cfg_val *v = find_val(c, section, key);
  if (!v) {
    log_error("cfg: no key [%s] %s in the schema (programming error)", section, key);
    abort();
  }
  return v;
}

const char *cfg_get_str(const struct cfg *c, const char *section, const char *key)
{
  const struct cfg_val *v = get(c, section, key);
  if (v->raw)
    return v->raw;
  return v->set ? NULL : v->ki->def;
}

int64_t cfg_get_int(const struct cfg *c, const char *section, const char *key)
{
  return get(c, section, key)->num;
}

bool cfg_get_bool(const struct cfg *c, const char *section, const char *key)
{
  return get(c, section, key)->num != 0;
}

const char *const *cfg_get_list(const struct cfg *c, const char *section, const char *key,
                                size_t *n)
{
  static const char *const empty[] = {NULL};
  const struct cfg_val *v = get(c, section, key);
  *n = v->nitems;
  return v->items ? (const char *const *)v->items : empty;
}

bool cfg_is_set(const struct cfg *c, const char *section, const char *key)
{
  return get(c, section, key)->set;
}

const char *cfg_source(const struct cfg *c, const char *section, const char *key)
{
  return get(c, section, key)->source;
}

const char *cfg_get_secret(const struct cfg *c, const char *section, const char *name, size_t *len)
{
  char key[128];
  const struct cfg_val *v;

  snprintf(key, sizeof(key), "%s_file", name);
  v = get(c, section, key);
  if (!is_secret(v->ki)) {
    log_error("cfg: [%s] %s is not a secret (programming error)", section, key);
    abort();
  }
  if (len)
    *len = v->secret ? v->secret_len : 0;
  return v->secret;
}

size_t cfg_policy_count(const struct cfg *c)
{
  return c->npol;
}

const char *cfg_policy_section(const struct cfg *c, size_t i)
{
  return i < c->npol ? c->policies[i] : NULL;
}

const char *cfg_policy_name(const struct cfg *c, size_t i)
{
  return i < c->npol ? c->policies[i] + 7 : NULL;
}

const char *cfg_policy_find(const struct cfg *c, const char *name)
{
  for (size_t i = 0; i < c->npol; i++)
    if (strcmp(c->policies[i] + 7, name) == 0)
      return c->policies[i];
  return NULL;
}

/* ---- printing ---- */

/* "key = value", with the password of a URL's userinfo
 * (postgresql://user:PASSWORD@host/db, https://user:PASSWORD@hooks...) and
 * a password=... query parameter as <redacted>: the dump is pasted into
 * tickets, and it redacts every other secret. */
static void dump_value(FILE *f, const char *key, const char *val)
{
  const char *auth = strstr(val, "://"), *p = val;
  size_t n, at, colon;

  fprintf(f, "%s = ", key);
  if (auth) {
    auth += 3;
    n = strcspn(auth, "/");
    at = strcspn(auth, "@");
    colon = strcspn(auth, ":");
    if (at < n && colon < at) {
      fprintf(f, "%.*s<redacted>", (int)(auth + colon + 1 - val), val);
      p = auth + at;
    }
    while (*p) {
      size_t k = strcspn(p, "?&");
      bool sep = p[k] != '\0';
      fprintf(f, "%.*s", (int)(k + sep), p);
      p += k + sep;
      if (sep && strncmp(p, "password=", 9) == 0) {
        fputs("password=<redacted>", f);
        p += 9 + strcspn(p + 9, "&");
      }
    }
  } else {
    fputs(val, f);
  }
}

void cfg_dump(const struct cfg *c, FILE *f)
{
  const char *cur = "";

  if (c->path)
    fprintf(f, "; effective configuration (file %s, then environment)\n", c->path);
  for (size_t i = 0; i < c->nvals; i++) {
    const struct cfg_val *v = &c->vals[i];
    const char *val = cfg_get_str(c, v->section, v->ki->key);
    if (strcmp(cur, v->section) != 0) {
      fprintf(f, "\n[%s]\n", v->section);
      cur = v->section;
    }
    if (val)
      dump_value(f, v->ki->key, val);
    else
      fprintf(f, "; %s (unset)", v->ki->key);
    fprintf(f, "    ; %s\n", v->source);
    if (is_secret(v->ki)) {
      char base[96];
      secret_base(v->ki, base, sizeof(base));
      if (v->secret)
        fprintf(f, ";   %s: <redacted, %zu bytes, from %s>\n", base, v->secret_len, v->secret_src);
      else
        fprintf(f, ";   %s: not set\n", base);
    }
  }
}

static const char *type_name(const struct cfg_key_info *ki)
{
  switch (ki->type) {
  case CFG_STR: return "string";
  case CFG_PATH: return "path";
  case CFG_INT: return "integer";
  case CFG_BOOL: return "bool";
  case CFG_DURATION: return "duration (s)";
  case CFG_SIZE: return "size (bytes)";
  case CFG_LIST: return "list";
  case CFG_ENUM: return "enum";
  case CFG_ADDR: return "address";
  case CFG_SECRET_FILE: return "secret file";
  }
  return "?";
}

void cfg_schema_markdown(FILE *f)
{
  size_t n;
  const struct cfg_key_info *s = cfg_schema(&n);

  fprintf(f, "| Section | Key | Environment variable | Type | Default | Meaning |\n");
  fprintf(f, "| --- | --- | --- | --- | --- | --- |\n");
  for (size_t i = 0; i < n; i++) {
    char ev[160], ch[256] = "", extra[200] = "";
    bool pol = strcmp(s[i].section, "policy") == 0;
    if (pol) {
      char k[96];
      upper_norm(s[i].key, k, sizeof(k));
      snprintf(ev, sizeof(ev), "VODGATE_POLICY_<NAME>_%s", k);
    } else {
      cfg_env_name(s[i].section, s[i].key, ev, sizeof(ev));
    }
    if (s[i].type == CFG_SECRET_FILE) {
      char base[96], bv[160];
      secret_base(&s[i], base, sizeof(base));
      cfg_env_name(s[i].section, base, bv, sizeof(bv));
      snprintf(extra, sizeof(extra), ", value: `%s`", bv);
    }
    if (s[i].choices)
      choices_text(s[i].choices, ch, sizeof(ch));
    fprintf(f, "| %s | `%s` | `%s`%s | %s", pol ? "policy NAME" : s[i].section, s[i].key, ev, extra,
            type_name(&s[i]));
    if (s[i].type == CFG_INT || s[i].type == CFG_DURATION || s[i].type == CFG_SIZE)
      fprintf(f, " %lld..%lld", (long long)s[i].min, (long long)s[i].max);
    if (ch[0])
      fprintf(f, " (%s)", ch);
    fprintf(f, " | %s%s%s | %s |\n", s[i].def ? "`" : "", s[i].def ? s[i].def : "unset",
            s[i].def ? "`" : "", s[i].doc);
  }
}
