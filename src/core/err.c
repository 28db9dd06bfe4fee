#include "core/err.h"

const char *vg_strerror(int err)
{
  switch (err) {
  case VG_OK: return "ok";
  case VG_ERR: return "error";
  case VG_NOMEM: return "out of memory";
  case VG_INVALID: return "invalid input";
  case VG_NOTFOUND: return "not found";
  case VG_CONFLICT: return "conflict";
  case VG_AGAIN: return "try again";
  case VG_IO: return "I/O error";
  case VG_TOOBIG: return "too big";
  }
  return "unknown error";
}
