/*
 * purge.c — media ttl: the retention purge (housekeeping, `hookgate
 * purge`) deletes the files older than their source's ttl and marks their
 * rows expired, so GET /api/v1/media/{id} says the file is gone instead of
 * failing to open it. A file is never kept longer than its message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "media/media_internal.h"

#define HG_MEDIA_PURGE_BATCH 100

int64_t hg_media_keep_ms(const struct hg_config *cfg, const struct hg_source *src)
{
	int64_t ttl = src->media->ttl_ms, keep = hg_config_retention(cfg, src);

	if (ttl == 0)
		return keep;
	return keep == 0 || ttl < keep ? ttl : keep;
}

struct purge_batch {
	struct hg_store_media m[HG_MEDIA_PURGE_BATCH];
	size_t n;
};

static int collect(const struct hg_store_media *m, void *arg)
{
	struct purge_batch *b = arg;

	if (b->n < HG_MEDIA_PURGE_BATCH)
		b->m[b->n++] = *m;
	return 0;
}

/* One source's old files, a batch at a time. */
static int purge_source(struct hg_store *st, const struct hg_source *src, int64_t before_ms,
			const atomic_int *stop, int64_t *files)
{
	static _Thread_local struct purge_batch b;
	char path[HG_MEDIA_PATH_MAX];
	size_t i;
	int rc;

	do {
		b.n = 0;
		rc =
		    hg_store_media_old(st, src->name, before_ms, HG_MEDIA_PURGE_BATCH, collect, &b);
		for (i = 0; rc == HG_OK && i < b.n; i++) {
			struct hg_store_media *m = &b.m[i];

			if (m->file[0] != '\0' &&
			    hg_media_path(src->media, m->file, path, sizeof(path)) == HG_OK &&
			    unlink(path) == 0)
				++*files;
			else if (m->file[0] != '\0' && errno != ENOENT)
				return HG_EIO; /* kept: the row still names it */
			m->state = HG_MEDIA_EXPIRED;
			m->file[0] = '\0';
			snprintf(m->error, sizeof(m->error),
				 "deleted by the retention purge (ttl)");
			rc = hg_store_media_update(st, m, hg_now_ms());
		}
	} while (rc == HG_OK && b.n == HG_MEDIA_PURGE_BATCH &&
		 (stop == NULL || !atomic_load(stop)));
	return rc;
}

int hg_media_purge(struct hg_store *st, const struct hg_config *cfg, int64_t now_ms,
		   int64_t older_ms, const atomic_int *stop, int64_t *files)
{
	const struct hg_source *src;
	int64_t keep;
	size_t i;
	int rc = HG_OK;

	for (i = 0; i < cfg->n_sources && rc == HG_OK; i++) {
		src = &cfg->sources[i];
		if (src->media == NULL)
			continue;
		keep = older_ms >= 0 ? older_ms : hg_media_keep_ms(cfg, src);
		if (keep > 0 || older_ms == 0)
			rc = purge_source(st, src, now_ms - keep, stop, files);
	}
	return rc;
}
