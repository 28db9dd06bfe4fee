/*
 * cos_xml.h: the COS XML API bodies the emulator writes, and the one body it
 * reads (CompleteMultipartUpload).
 *
 * Writers append a complete document (with an XML declaration) to a caller's
 * struct buf, escaping every text value (& < > " '); they fail only with
 * VG_TOOBIG when the buffer's limit is hit, leaving partial output the caller
 * discards. Text values must be valid UTF-8 without control characters other
 * than tab/newline; anything else is rejected with VG_INVALID, since COS keys
 * and ids never contain them.
 *
 * The reader is not an XML parser: it accepts exactly the shape the SDKs
 * send (optional <?xml ...?> declaration, optional attributes on the root,
 * whitespace between elements, PartNumber/ETag in either order, ETag as
 * &quot;hex&quot;, "hex" or bare hex), bounded by COS_MAX_COMPLETE_BODY and
 * COS_MAX_PARTS. Pure: no I/O.
 */
#ifndef VG_EMU_COS_XML_H
#define VG_EMU_COS_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"

/* One in-progress multipart upload for ListMultipartUploadsResult. */
struct cos_xml_upload {
  const char *key; /* object key without the leading '/' */
  const char *upload_id;
  const char *initiated; /* ISO 8601, e.g. "2026-11-28T17:00:00.000Z" */
};

/* One stored part for ListPartsResult. */
struct cos_xml_part {
  uint32_t number;
  const char *etag_hex; /* 32 lower-case hex digits, written as "&quot;hex&quot;" */
  uint64_t size;
  const char *last_modified; /* ISO 8601 */
};

int cos_xml_initiate(struct buf *out, const char *bucket, const char *key,
                     const char *upload_id) WARN_UNUSED;
/* prefix may be ""; uploads may be empty. Never truncated (IsTruncated false). */
int cos_xml_list_uploads(struct buf *out, const char *bucket, const char *prefix,
                         const struct cos_xml_upload *uploads, size_t n) WARN_UNUSED;
int cos_xml_list_parts(struct buf *out, const char *bucket, const char *key, const char *upload_id,
                       const struct cos_xml_part *parts, size_t n) WARN_UNUSED;
/* etag is written verbatim inside &quot;...&quot; (e.g. "<md5hex>-<n>"). */
int cos_xml_complete_result(struct buf *out, const char *location, const char *bucket,
                            const char *key, const char *etag) WARN_UNUSED;
int cos_xml_error(struct buf *out, const char *code, const char *message,
                  const char *request_id) WARN_UNUSED;

/* One part named by a CompleteMultipartUpload body. */
struct cos_complete_part {
  uint32_t number;   /* 1..COS_MAX_PARTS */
  char etag_hex[33]; /* lower-cased */
};

/* Parse a CompleteMultipartUpload body. On success *parts is a malloc'd
 * array of *n >= 1 parts in strictly ascending PartNumber order (the caller
 * frees it). Errors: VG_TOOBIG (body or part count over the limits),
 * VG_INVALID (anything else). *why (if not NULL) gets a static COS error
 * code: "MalformedXML", "InvalidPartOrder", "InvalidPart" or "EntityTooLarge". */
int cos_xml_parse_complete(const char *body, size_t len, struct cos_complete_part **parts,
                           size_t *n, const char **why) WARN_UNUSED;

/* The ETag COS gives a completed multipart object: hex(MD5(raw MD5 of part 1
 * || ... || part n)) "-" n, written to out (at least 50 bytes). */
void cos_multipart_etag(const struct cos_complete_part *parts, size_t n, char out[50]);

/* True if b64 is Base64(MD5(body)) exactly (a Content-MD5 header value);
 * compared in constant time. */
bool cos_content_md5_ok(const void *body, size_t len, const char *b64);

/* ---- which COS operation a request is ---- */

enum cos_op_kind {
  COS_OP_LIST_UPLOADS, /* GET /?uploads[&prefix=K] */
  COS_OP_INITIATE,     /* POST /K?uploads */
  COS_OP_UPLOAD_PART,  /* PUT /K?partNumber=N&uploadId=U */
  COS_OP_LIST_PARTS,   /* GET /K?uploadId=U */
  COS_OP_COMPLETE,     /* POST /K?uploadId=U */
  COS_OP_ABORT,        /* DELETE /K?uploadId=U */
  COS_OP_PUT_OBJECT,   /* PUT /K (0-byte files) */
  COS_OP_GET_OBJECT,   /* GET /K */
  COS_OP_HEAD_OBJECT,  /* HEAD /K */
};

#define COS_MAX_UPLOAD_ID 128

struct cos_op {
  enum cos_op_kind kind;
  uint32_t part_number;                  /* UPLOAD_PART: 1..COS_MAX_PARTS */
  char upload_id[COS_MAX_UPLOAD_ID + 1]; /* [A-Za-z0-9._-]+ */
  char prefix[COS_MAX_KEY + 1];          /* LIST_UPLOADS: percent-decoded */
};

/* Classify a request from its method, raw path (is it the bucket root "/"?)
 * and raw query. "uploads" may come bare or as "uploads=" (Node SDK); other
 * parameters (max-parts, encoding-type, ...) are ignored here, but
 * cos_auth still requires them to be signed. Returns VG_OK, or VG_INVALID
 * (COS "InvalidArgument"/"MethodNotAllowed": a method or parameter
 * combination no SDK sends, a bad part number or upload id, a duplicate). */
int cos_op_parse(const char *method, const char *path, size_t path_len, const char *query,
                 size_t query_len, struct cos_op *out) WARN_UNUSED;

#endif
