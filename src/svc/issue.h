/*
 * issue.h: the signature distribution endpoint (svc/issue.c).
 */
#ifndef VG_SVC_ISSUE_H
#define VG_SVC_ISSUE_H

struct http_req;
struct http_res;

/* POST|GET /v1/upload-signatures; user is the struct app *. */
void svc_issue_signature(struct http_req *req, struct http_res *res, void *user);

#endif
