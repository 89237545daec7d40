/*
 * refs.c — the media a WhatsApp Cloud API payload names:
 *   entry[].changes[].value.messages[].<image|audio|video|document|sticker>
 *   = {id, mime_type, sha256, ...}
 * Runs on the request path (the body's tree is parsed there anyway);
 * bounded by HG_MEDIA_MAX_PER_MESSAGE.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "media/media.h"

static const char *const media_kinds[] = {"image", "audio", "video", "document", "sticker", NULL};

static char *media_dup(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);

	if (s == NULL || json_string_length(v) > HG_STORE_MEDIA_TEXT_MAX || strlen(s) == 0)
		return NULL;
	return strdup(s);
}

static int media_add(struct hg_media_refs *r, const json_t *obj)
{
	struct hg_store_media_ref *ref;
	const json_t *idv = json_object_get(obj, "id");

	if (!json_is_string(idv) || json_string_length(idv) == 0 ||
	    json_string_length(idv) > HG_STORE_MEDIA_TEXT_MAX ||
	    strlen(json_string_value(idv)) != json_string_length(idv))
		return HG_OK; /* not a media name we can ask Graph about */
	if (r->n == HG_MEDIA_MAX_PER_MESSAGE)
		return HG_OK;
	if (r->refs == NULL) {
		r->refs = calloc(HG_MEDIA_MAX_PER_MESSAGE, sizeof(*r->refs));
		if (r->refs == NULL)
			return HG_ENOMEM;
	}
	ref = &r->refs[r->n];
	hg_uuid7(ref->id);
	ref->graph_id = strdup(json_string_value(idv));
	ref->mime = media_dup(obj, "mime_type");
	ref->sha256 = media_dup(obj, "sha256");
	r->n++;
	return ref->graph_id != NULL ? HG_OK : HG_ENOMEM;
}

int hg_media_refs_of(const struct json_t *root, struct hg_media_refs *out)
{
	const json_t *entry, *change, *msg, *obj;
	size_t i, j, k, t;
	int rc = HG_OK;

	memset(out, 0, sizeof(*out));
	json_array_foreach(json_object_get(root, "entry"), i, entry)
	{
		json_array_foreach(json_object_get(entry, "changes"), j, change)
		{
			const json_t *value = json_object_get(change, "value");

			json_array_foreach(json_object_get(value, "messages"), k, msg)
			{
				for (t = 0; media_kinds[t] != NULL && rc == HG_OK; t++) {
					obj = json_object_get(msg, media_kinds[t]);
					if (json_is_object(obj))
						rc = media_add(out, obj);
				}
			}
		}
	}
	if (rc != HG_OK)
		hg_media_refs_free(out);
	return rc;
}

void hg_media_refs_free(struct hg_media_refs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free((char *)r->refs[i].graph_id);
		free((char *)r->refs[i].mime);
		free((char *)r->refs[i].sha256);
	}
	free(r->refs);
	memset(r, 0, sizeof(*r));
}
