/*
 * media.c — the management API's side of WhatsApp media: a stored file
 * read back (GET /api/v1/media/{id}: decrypted when sealed, with its
 * content type, the read audited like a message body's), and the media of
 * a message for GET /api/v1/messages/{id}.
 *
 * The answer is built in memory (the API answers a buffer), bounded by the
 * source's max_size.
 */
#include <jansson.h>
#include <string.h>

#include "api/api_internal.h"
#include "media/media.h"

static json_t *media_json(const struct hg_store_media *m)
{
	return json_pack("{s:s, s:s, s:s?, s:s, s:I, s:i, s:s?, s:o}", "id", m->id, "graph_id",
			 m->graph_id, "mime_type", m->mime[0] ? m->mime : NULL, "state",
			 hg_store_media_state_name(m->state), "size", (json_int_t)m->size,
			 "attempts", m->attempts, "error", m->error[0] ? m->error : NULL,
			 "created_at", hg_api_time_json(m->created_ms));
}

static int add_media(const struct hg_store_media *m, void *arg)
{
	json_t *o = media_json(m);

	return o == NULL || json_array_append_new(arg, o) != 0;
}

json_t *hg_api_media_list_json(struct hg_store *st, const char *message_id, int *rc)
{
	json_t *arr = json_array();

	*rc = arr != NULL ? hg_store_media_list(st, message_id, add_media, arr) : HG_ENOMEM;
	if (*rc != HG_OK) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* A content type we can send as a header: type/subtype of token
 * characters; anything else is served as bytes. */
static const char *safe_type(const char *t)
{
	size_t i, slash = 0;

	for (i = 0; t[i] != '\0'; i++) {
		char c = t[i];

		if (c == '/')
			slash++;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || strchr("+-.!#$&^_", c)))
			return "application/octet-stream";
	}
	return slash == 1 && i > 2 ? t : "application/octet-stream";
}

void hg_api_op_get_media(struct hg_api *api, struct hg_store *st, const struct api_job *j,
			 struct api_answer *a)
{
	const struct hg_source *src;
	struct hg_media_reader *r = NULL;
	struct hg_store_media m;
	uint8_t buf[16384];
	size_t n;
	int rc;

	(void)api;
	if (!hg_api_is_uuid(j->arg, strlen(j->arg))) {
		hg_api_answer_error(a, 404, "no media with id %.40s", j->arg);
		return;
	}
	rc = hg_store_media_get(st, j->arg, &m);
	if (rc == HG_ENOTFOUND) {
		hg_api_answer_error(a, 404, "no media with id %.40s", j->arg);
		return;
	}
	if (rc != HG_OK) {
		hg_api_store_error(a, rc);
		return;
	}
	if (m.state != HG_MEDIA_STORED) {
		hg_api_answer_error(a, m.state == HG_MEDIA_PENDING ? 409 : 410,
				    "media %s is %s%s%s", m.id, hg_store_media_state_name(m.state),
				    m.error[0] ? ": " : "", m.error);
		return;
	}
	src = hg_config_find_source(j->cfg, m.source, strlen(m.source));
	if (src == NULL || src->media == NULL) {
		hg_api_answer_error(a, 410, "media %s: source %s no longer has media: configured",
				    m.id, m.source);
		return;
	}
	rc = hg_media_open(src->media, &m, &r);
	if (rc != HG_OK) {
		hg_api_answer_error(a, rc == HG_ENOTFOUND ? 410 : 500,
				    "media %s cannot be read: %s", m.id,
				    rc == HG_ENOTFOUND ? "its file is gone"
				    : rc == HG_EAUTH   ? "the file does not decrypt"
						       : "its key is not configured");
		return;
	}
	if (hg_api_audit_read(st, j, HG_API_READ_MEDIA, m.source, "admin", "media %s of message %s",
			      m.id, m.message_id) != HG_OK) {
		hg_media_close(r);
		a->store_failed = 1;
		hg_api_answer_error(a, 500, HG_API_AUDIT_FAILED);
		return;
	}
	hg_buf_free(&a->body);
	while ((rc = hg_media_read(r, buf, sizeof(buf), &n)) == HG_OK && n > 0)
		if (hg_buf_append(&a->body, buf, n) != HG_OK) {
			rc = HG_ENOMEM;
			break;
		}
	hg_media_close(r);
	if (rc != HG_OK) {
		hg_buf_free(&a->body);
		hg_api_answer_error(a, 500, "media %s cannot be read: %s", m.id,
				    rc == HG_EAUTH ? "the file does not verify" : hg_strerror(rc));
		return;
	}
	if (a->body.data == NULL && hg_buf_reserve(&a->body, 1) != HG_OK) {
		hg_api_answer_error(a, 503, "out of memory");
		return;
	}
	a->status = 200;
	hg_strlcpy(a->ctype, safe_type(m.mime[0] ? m.mime : "application/octet-stream"),
		   sizeof(a->ctype));
	a->content_type = a->ctype;
}
