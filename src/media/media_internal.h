/*
 * media_internal.h — what the media module's files share (the file
 * writer the fetcher streams into); nothing outside src/media includes it.
 */
#ifndef HG_MEDIA_INTERNAL_H
#define HG_MEDIA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "media/media.h"

#define HG_MEDIA_CHUNK    (64 * 1024) /* plain bytes per sealed chunk */
#define HG_MEDIA_PATH_MAX 4096

struct hg_keyring;

/* A file being written as ".tmp-<id>" in the media dir; sealed when kr is
 * not NULL. */
struct hg_media_writer {
	int fd;
	const struct hg_keyring *kr;
	char id[HG_UUID_LEN + 1];
	char key_id[HG_STORE_KEY_ID_MAX + 1]; /* "" in clear */
	char tmp[HG_MEDIA_PATH_MAX], final[HG_MEDIA_PATH_MAX];
	uint8_t *chunk;
	size_t used;
	uint64_t index;
};

/* HG_OK, or an error (the caller aborts). */
int hg_media_writer_open(struct hg_media_writer *w, const struct hg_media_config *mc,
			 const struct hg_keyring *kr, const char *id);
int hg_media_writer_put(struct hg_media_writer *w, const uint8_t *p, size_t n);
/* Seals the last chunk, fsyncs, renames to "<id>". On failure the
 * temporary file is gone. */
int hg_media_writer_finish(struct hg_media_writer *w);
/* Drops the temporary file (an abort, a refusal). */
void hg_media_writer_abort(struct hg_media_writer *w);

/* Runs mc->scan with the plain bytes of m's file on its stdin: HG_OK when
 * it exits 0, HG_EAUTH (non-zero exit: quarantine), else HG_EIO with why. */
int hg_media_scan(const struct hg_media_config *mc, const struct hg_store_media *m, char *why,
		  size_t whylen);

#endif
