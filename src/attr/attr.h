/*
 * attr.h: the attribution token (issue 3).
 *
 * Every upload signature of one upload session carries the same token as
 * its sourceContext (and sessionContext). VOD echoes it back in the
 * NewFileUpload and ProcedureStateChanged events, so the event receiver can
 * prove which upload session a file belongs to without trusting anything
 * the client says.
 *
 * Format (only the characters A-Z a-z 0-9 . _ - : URL-, JSON- and
 * query-string-safe, no escaping anywhere):
 *
 *   vg1.<kid>.<uploadId>.<mac>             no app context
 *   vg1.<kid>.<uploadId>.<ctx>.<mac>       with app context
 *
 *   kid      1..ATTR_MAX_KID of [A-Za-z0-9_-]: which key made the MAC
 *   uploadId 1..ATTR_MAX_UPLOAD_ID of [A-Za-z0-9_-]
 *   ctx      base64url (no padding) of 1..ATTR_MAX_APP_CTX bytes of UTF-8
 *            without NUL: the app's own context, when its policy allows
 *   mac      base64url (22 chars) of the first ATTR_MAC_BYTES bytes of
 *            HMAC-SHA256(key, every byte of the token before the last '.')
 *
 * Why this shape: '.' never occurs inside a field, so splitting on '.'
 * gives 4 or 5 fields and the parse is unambiguous; the MAC covers the
 * version, the key id, the upload id and the app context, i.e. everything
 * the receiver will trust. The app context is inside the MAC (not appended
 * after it) because the receiver hands it to the app as "what the server
 * issued"; an app context outside the MAC could be swapped by anyone able
 * to deliver an event, and spliced onto another session's token. It is
 * base64url-encoded because app contexts are typically JSON (quotes,
 * braces) and the token must stay escape-free; the cost is 4/3 of its
 * length, which attr_app_ctx_room() accounts for.
 *
 * The whole token never exceeds ATTR_MAX_TOKEN (250) characters.
 *
 * Keyring: a fixed array of up to ATTR_MAX_KEYS keys owned by the caller
 * (embeddable, no allocation). One key is current (used to mint); all
 * verify. Rotation = add a new key, make it current, keep the old ones
 * until every token minted under them is no longer expected (the signature
 * validity plus VOD's processing time). attr_keyring_release() wipes keys.
 *
 * Key file (text; reading it from disk is the caller's job):
 *   # comment
 *   <kid>:<base64 key of ATTR_KEY_MIN..ATTR_KEY_MAX bytes>
 * one key per line, blank lines and '#' comments ignored, the first key is
 * current. attr_key_generate() makes such a line from fresh random bytes.
 */
#ifndef VG_ATTR_H
#define VG_ATTR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/limits.h"

struct hmac_key;

struct attr_key {
  char kid[ATTR_MAX_KID + 1];
  unsigned char key[ATTR_KEY_MAX];
  size_t len;
  /* HMAC-SHA256 keyed once with key (core/hmac.h), made by
   * attr_keyring_add and freed by attr_keyring_release: a one-shot HMAC()
   * set the key up again for every token minted or checked. A keyring is
   * therefore not copied by value. */
  struct hmac_key *mac;
};

struct attr_keyring {
  struct attr_key keys[ATTR_MAX_KEYS];
  size_t n;
  size_t current; /* index into keys; meaningful only when n > 0 */
};

/* What a verified token says. Filled only by a successful attr_verify(). */
struct attr_claims {
  char kid[ATTR_MAX_KID + 1];
  char upload_id[ATTR_MAX_UPLOAD_ID + 1];
  char app_ctx[ATTR_MAX_APP_CTX + 1]; /* NUL-terminated, "" when absent */
  size_t app_ctx_len;
};

enum attr_status {
  ATTR_OK = 0,
  ATTR_MALFORMED,   /* not a vg1 token of the grammar above */
  ATTR_UNKNOWN_KEY, /* well-formed, but no key with that kid */
  ATTR_BAD_MAC,     /* well-formed, known kid, the MAC does not match */
};

/* "ok", "malformed", "unknown_key", "bad_mac": stable strings for logs and
 * metrics. Never NULL. */
const char *attr_status_str(enum attr_status s);

/* Empty keyring. */
void attr_keyring_init(struct attr_keyring *kr);
/* Wipes every key and leaves the keyring empty (re-usable). */
void attr_keyring_release(struct attr_keyring *kr);

/* Copy a key into the keyring. The first key added becomes current.
 * Errors: VG_INVALID (kid not 1..ATTR_MAX_KID of [A-Za-z0-9_-], key length
 * not ATTR_KEY_MIN..ATTR_KEY_MAX), VG_CONFLICT (kid already present),
 * VG_TOOBIG (ATTR_MAX_KEYS reached), VG_NOMEM (no HMAC context). */
int attr_keyring_add(struct attr_keyring *kr, const char *kid, const unsigned char *key,
                     size_t len) WARN_UNUSED;
/* Make kid the minting key. VG_NOTFOUND if absent. */
int attr_keyring_set_current(struct attr_keyring *kr, const char *kid) WARN_UNUSED;
/* Kid of the current key, or NULL for an empty keyring. Borrowed. */
const char *attr_keyring_current_kid(const struct attr_keyring *kr);

/* Parse a key file (format above) into kr, appending. The first key of the
 * text becomes current. On error returns VG_INVALID (or VG_TOOBIG, or
 * VG_CONFLICT for a duplicate kid) and writes "line N: reason" into err
 * (never key material); kr may then hold the keys of earlier lines: release
 * it. A text with no key is VG_INVALID ("no key"). */
int attr_keyring_parse(struct attr_keyring *kr, const char *text, size_t len, char *err,
                       size_t errlen) WARN_UNUSED;

/* Generate ATTR_KEY_MIN fresh random bytes (OpenSSL CSPRNG) and write the
 * key-file line "<kid>:<base64>\n" into out. VG_INVALID for a bad kid,
 * VG_TOOBIG if cap is too small (ATTR_KEYLINE_MAX always suffices). The
 * caller wipes out after writing it to the key file. */
#define ATTR_KEYLINE_MAX (ATTR_MAX_KID + 1 + 4 * ((ATTR_KEY_MAX + 2) / 3) + 2)
int attr_key_generate(const char *kid, char *out, size_t cap) WARN_UNUSED;

/* Bytes of app context that still fit a token for an upload id of
 * upload_id_len characters under the current key (0 if none fit or the
 * keyring is empty). */
/* True if s is an upload id a token can carry: 1..ATTR_MAX_UPLOAD_ID of
 * [A-Za-z0-9_-]. Handlers check ids from requests with it before any
 * lookup. */
bool attr_upload_id_valid(const char *s);

size_t attr_app_ctx_room(const struct attr_keyring *kr, size_t upload_id_len);

/* Mint the token for upload_id with the current key into out (cap at least
 * ATTR_MAX_TOKEN + 1), NUL-terminated. app_ctx may be NULL or "" for none.
 * Errors: VG_NOTFOUND (empty keyring), VG_INVALID (upload_id not
 * 1..ATTR_MAX_UPLOAD_ID of [A-Za-z0-9_-]; app_ctx not valid UTF-8),
 * VG_TOOBIG (the token would exceed ATTR_MAX_TOKEN or cap). */
int attr_mint(const struct attr_keyring *kr, const char *upload_id, const char *app_ctx, char *out,
              size_t cap) WARN_UNUSED;

/* Verify token [token, token+len) (need not be NUL-terminated). On ATTR_OK
 * fills *out; on any other status *out is zeroed. The MAC is compared in
 * constant time; nothing from the token is reported before it verifies. */
enum attr_status attr_verify(const struct attr_keyring *kr, const char *token, size_t len,
                             struct attr_claims *out) WARN_UNUSED;

#endif
