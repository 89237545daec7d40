/*
 * media.h — WhatsApp Cloud API media (a source's media:, docs/config.md).
 *
 * A WhatsApp message only names its files (value.messages[].image.id with
 * mime_type and sha256); the file must be fetched from the Graph API with
 * the access token before the URL Graph hands out expires. The ingest path
 * finds the names (hg_media_refs_of) and stores one job per file with the
 * message; the fetcher (fetch.c, a thread of its own, never an event loop)
 * claims the jobs, downloads through the SSRF guard, checks size and
 * SHA-256, seals the file when encryption is on (file.c) and records the
 * outcome; the API streams files back (hg_media_open/read).
 */
#ifndef HG_MEDIA_H
#define HG_MEDIA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"

#define HG_MEDIA_MAX_PER_MESSAGE 64 /* more names in one payload are ignored */

/* ---- refs.c: the media a WhatsApp payload names ---- */

/* The media of a payload: refs[0..n) with their strings; ids generated. */
struct hg_media_refs {
	struct hg_store_media_ref *refs;
	size_t n;
};

struct json_t;
/* Walks entry[].changes[].value.messages[] for image, audio, video,
 * document and sticker objects with a string id. root may be NULL (not
 * JSON: no media). HG_OK (out->n may be 0) or HG_ENOMEM. Free with
 * hg_media_refs_free(). */
int hg_media_refs_of(const struct json_t *root, struct hg_media_refs *out);
void hg_media_refs_free(struct hg_media_refs *r);

/* ---- fetch.c: the fetcher thread ---- */

struct hg_media_fetcher;

/* Starts the thread: it opens its own store handle from store_uri and
 * works for every source of the current config that has media:. HG_OK or
 * an error (logged). */
int hg_media_fetcher_start(struct hg_config_live *live, const char *store_uri,
			   struct hg_media_fetcher **out);
/* Asks the thread to stop, waits for it (a transfer in flight is aborted
 * and its job claimed again after restart), frees it. NULL is ignored. */
void hg_media_fetcher_stop(struct hg_media_fetcher *f);

/* ---- purge.c: ttl ---- */

/* How long the files of src are kept (ms; 0 = forever): the smaller of its
 * media ttl and its messages' retention (a file never outlives the row of
 * its message), either when the other is 0. src->media must be set. */
int64_t hg_media_keep_ms(const struct hg_config *cfg, const struct hg_source *src);
/* Deletes the files of every source with media: older than its
 * hg_media_keep_ms() (older_ms >= 0: older than that, for every source:
 * `hookgate purge --older-than`) and marks their rows expired; adds the
 * files deleted to *files. Stops early when *stop is set (may be NULL).
 * HG_OK or HG_EIO. */
int hg_media_purge(struct hg_store *st, const struct hg_config *cfg, int64_t now_ms,
		   int64_t older_ms, const atomic_int *stop, int64_t *files);

/* ---- file.c: the files, sealed or in clear ---- */

/* Where media m's file lives: dir "/" m->file. */
int hg_media_path(const struct hg_media_config *mc, const char *file, char *out, size_t outlen);

/* A stored file opened for reading back its plain bytes. */
struct hg_media_reader;
/* Opens m's file under mc->dir. HG_OK, HG_ENOTFOUND (no file), HG_EIO
 * (its key is not configured) or HG_EAUTH (the file does not verify). */
int hg_media_open(const struct hg_media_config *mc, const struct hg_store_media *m,
		  struct hg_media_reader **out);
/* Up to cap plain bytes into buf: *n 0 at the end. HG_OK or HG_EAUTH / HG_EIO
 * (the rest must not be served). */
int hg_media_read(struct hg_media_reader *r, uint8_t *buf, size_t cap, size_t *n);
void hg_media_close(struct hg_media_reader *r);

#endif
