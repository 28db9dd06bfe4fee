/*
 * store_pg.c: the PostgreSQL backend of store.h (libpq). Not yet written.
 */
#include "core/log.h"
#include "store/store_impl.h"

int store_pg_open(const char *conninfo, const struct store_options *opt, struct store **out)
{
  *out = NULL;
  log_error("store: the PostgreSQL backend is not available in this build");
  return VG_IO;
}
