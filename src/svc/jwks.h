/*
 * jwks.h: [auth] jwks_url, an identity provider's JWKS fetched over HTTPS
 * at start and kept fresh by a thread (svc/jwks.c).
 *
 * Start-up (svc/services.c): jwks_start() before the service state is
 * built (it fetches the JWKS, or falls back to the copy cached in
 * [server] data_dir, or fails), jwks_run() once it is (the thread
 * rebuilds the state when the JWKS changes), jwks_stop() at release.
 * svc/state.c reads the JWKS in use with jwks_text(); svc/auth_user.c
 * calls jwks_kick() for a token whose kid no key has.
 */
#ifndef VG_SVC_JWKS_H
#define VG_SVC_JWKS_H

#include <stddef.h>

struct app;
struct cfg;

/* What start-up, a reload and `vodgate config --check` refuse: jwks_url
 * together with jwks_file, not an http(s) URL, credentials in it, plain
 * http to a host other than a loopback one. 0, or -1 with err set. */
int jwks_check_cfg(const struct cfg *c, char *err, size_t errlen);

/* A reload that sets, unsets or changes jwks_url is refused (-1, err
 * set): the JWKS is fetched by a thread started with the server, and the
 * verifier would be built without the one the URL names. */
int jwks_reload_check(const struct cfg *old, const struct cfg *next, char *err, size_t errlen);

/* The URL rules of jwks_check_cfg for one URL: 0, or -1 with why in err
 * (without the key's name). */
int jwks_url_check(const char *url, char *err, size_t errlen);
/* One GET of url (checked as above; 10 s at most): the JWKS text (caller
 * frees), or NULL with why in err. For `vodgate jwt verify --jwks-url`. */
char *jwks_fetch(const char *url, char *err, size_t errlen);

/* No-op (0) without [auth] jwks_url. Otherwise fetches it (10 s at most);
 * if it cannot, or the JWKS fails the checks of a jwks_file, reads the
 * copy in data_dir/jwks-cache.json; with no usable one either, returns -1
 * with err set. */
int jwks_start(struct app *app, char *err, size_t errlen);
/* Once the service state is built: writes the JWKS fetched at start to
 * data_dir/jwks-cache.json (the last good copy) and starts the refresh
 * thread (no-op without jwks_url): every [auth] jwks_refresh, or after
 * jwks_kick(). */
int jwks_run(char *err, size_t errlen);
void jwks_stop(void);

/* A copy of the JWKS in use (caller frees), or NULL without jwks_url. */
char *jwks_text(void);

/* A token named a kid no key has: fetch again now, unless a kick did less
 * than 30 s ago. Cheap; any thread. */
void jwks_kick(void);

#endif
