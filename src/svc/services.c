/*
 * services.c: where the services built on the HTTP foundation are created
 * and torn down. `vodgate serve` calls app_services_init() after loading the
 * configuration and before listening, and app_services_release() after the
 * server has drained, so a service needs one init block and one release
 * block here plus its routes in routes.c.
 */
#include "svc/app.h"

int app_services_init(struct app *app, char *err, size_t errlen)
{
  /* Nothing yet: the store, auth, policies and workers are added here. */
  (void)app;
  (void)err;
  (void)errlen;
  return 0;
}

void app_services_release(struct app *app)
{
  (void)app;
}
