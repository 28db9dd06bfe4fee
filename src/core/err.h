/*
 * err.h: the closed set of return codes used by the store, HTTP and service
 * layers. Simple helpers return 0 / -1 instead.
 */
#ifndef VG_ERR_H
#define VG_ERR_H

#define WARN_UNUSED __attribute__((warn_unused_result))

enum vg_err {
  VG_OK = 0,
  VG_ERR = -1,      /* generic failure, already logged */
  VG_NOMEM = -2,    /* allocation sized by outside input failed */
  VG_INVALID = -3,  /* input rejected */
  VG_NOTFOUND = -4, /* no such row / key */
  VG_CONFLICT = -5, /* already exists / lost a race */
  VG_AGAIN = -6,    /* transient, try again */
  VG_IO = -7,       /* disk, network or database error */
  VG_TOOBIG = -8,   /* over a limit of limits.h */
};

const char *vg_strerror(int err);

#endif
