/*
 * file.c — media files on disk, in clear or sealed with the store's
 * keyring (src/crypt/crypt.h), written while they download and read back
 * for the API and the scan command. Never the whole file in memory: one
 * chunk at a time.
 *
 * A sealed file is
 *   "HGM1" key_id(16 hex)  then records  final(1 byte) len(4, big-endian) sealed
 * where sealed is hg_seal() of up to HG_MEDIA_CHUNK plain bytes with the
 * associated data "hookgate/media/<id>/<index>/<final>": a chunk cannot be
 * moved to another file or position, the last one says it is last (a cut
 * file does not verify), and every chunk has a fresh nonce. A plain file
 * (encryption off) is the bytes as downloaded. Files are written as
 * ".tmp-<id>" and renamed to "<id>" once complete and fsync'd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt/crypt.h"
#include "media/media_internal.h"

#define MEDIA_MAGIC    "HGM1"
#define MEDIA_HEAD_LEN (4 + HG_KEY_ID_LEN)
#define MEDIA_REC_HEAD 5
#define MEDIA_REC_MAX  (HG_MEDIA_CHUNK + HG_SEAL_OVERHEAD)

int hg_media_path(const struct hg_media_config *mc, const char *file, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", mc->dir, file);

	return n > 0 && (size_t)n < outlen ? HG_OK : HG_ETOOBIG;
}

static void media_aad(char *out, size_t len, const char *id, uint64_t idx, int final)
{
	snprintf(out, len, "hookgate/media/%s/%llu/%d", id, (unsigned long long)idx, final);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return HG_EIO;
		p += w;
		n -= (size_t)w;
	}
	return HG_OK;
}

/* mkdir -p dir, private to the daemon's user. */
static int make_dir(const char *dir)
{
	char tmp[HG_MEDIA_PATH_MAX];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return HG_EINVAL;
	memcpy(tmp, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return HG_EIO;
		tmp[i] = dir[i];
	}
	return HG_OK;
}

int hg_media_writer_open(struct hg_media_writer *w, const struct hg_media_config *mc,
			 const struct hg_keyring *kr, const char *id)
{
	char name[HG_UUID_LEN + 8];
	uint8_t head[MEDIA_HEAD_LEN];

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->kr = kr;
	hg_strlcpy(w->id, id, sizeof(w->id));
	snprintf(name, sizeof(name), ".tmp-%s", id);
	if (make_dir(mc->dir) != HG_OK || hg_media_path(mc, name, w->tmp, sizeof(w->tmp)) ||
	    hg_media_path(mc, id, w->final, sizeof(w->final)))
		return HG_EIO;
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return HG_EIO;
	if (kr == NULL)
		return HG_OK;
	hg_strlcpy(w->key_id, hg_keyring_active(kr), sizeof(w->key_id));
	memcpy(head, MEDIA_MAGIC, 4);
	memcpy(head + 4, w->key_id, HG_KEY_ID_LEN);
	w->chunk = malloc(HG_MEDIA_CHUNK);
	if (w->chunk == NULL)
		return HG_ENOMEM;
	return write_all(w->fd, head, sizeof(head));
}

/* Seals and writes the buffered chunk. */
static int writer_flush(struct hg_media_writer *w, int final)
{
	char aad[HG_UUID_LEN + 64];
	uint8_t rec[MEDIA_REC_HEAD], *sealed = NULL;
	size_t len = 0;
	int rc;

	media_aad(aad, sizeof(aad), w->id, w->index, final);
	rc = hg_seal(w->kr, aad, w->chunk, w->used, &sealed, &len);
	if (rc != HG_OK)
		return rc;
	rec[0] = (uint8_t) final;
	rec[1] = (uint8_t)(len >> 24);
	rec[2] = (uint8_t)(len >> 16);
	rec[3] = (uint8_t)(len >> 8);
	rec[4] = (uint8_t)len;
	rc = write_all(w->fd, rec, sizeof(rec));
	if (rc == HG_OK)
		rc = write_all(w->fd, sealed, len);
	free(sealed);
	w->index++;
	w->used = 0;
	return rc;
}

int hg_media_writer_put(struct hg_media_writer *w, const uint8_t *p, size_t n)
{
	size_t take;
	int rc;

	if (w->kr == NULL)
		return write_all(w->fd, p, n);
	while (n > 0) {
		if (w->used == HG_MEDIA_CHUNK) {
			rc = writer_flush(w, 0);
			if (rc != HG_OK)
				return rc;
		}
		take = HG_MEDIA_CHUNK - w->used;
		take = take < n ? take : n;
		memcpy(w->chunk + w->used, p, take);
		w->used += take;
		p += take;
		n -= take;
	}
	return HG_OK;
}

int hg_media_writer_finish(struct hg_media_writer *w)
{
	int rc = HG_OK;

	if (w->kr != NULL)
		rc = writer_flush(w, 1);
	if (rc == HG_OK && fsync(w->fd) != 0)
		rc = HG_EIO;
	if (close(w->fd) != 0 && rc == HG_OK)
		rc = HG_EIO;
	w->fd = -1;
	if (rc == HG_OK && rename(w->tmp, w->final) != 0)
		rc = HG_EIO;
	if (rc != HG_OK)
		unlink(w->tmp);
	free(w->chunk);
	w->chunk = NULL;
	return rc;
}

void hg_media_writer_abort(struct hg_media_writer *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp);
	}
	w->fd = -1;
	free(w->chunk);
	w->chunk = NULL;
}

/* ---- reading back ---- */

struct hg_media_reader {
	int fd;
	const struct hg_keyring *kr; /* NULL: a plain file */
	char id[HG_UUID_LEN + 1];
	char key_id[HG_KEY_ID_LEN + 1];
	uint64_t index;
	int ended; /* the final chunk was read */
	uint8_t *plain;
	size_t plain_len, plain_off;
	uint8_t *rec;
};

static int read_full(int fd, uint8_t *p, size_t n, size_t *got)
{
	ssize_t r;

	*got = 0;
	while (*got < n) {
		r = read(fd, p + *got, n - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return HG_EIO;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return HG_OK;
}

int hg_media_open(const struct hg_media_config *mc, const struct hg_store_media *m,
		  struct hg_media_reader **out)
{
	char path[HG_MEDIA_PATH_MAX];
	uint8_t head[MEDIA_HEAD_LEN];
	struct hg_media_reader *r;
	size_t got;
	int rc = HG_OK;

	*out = NULL;
	if (m->file[0] == '\0' || hg_media_path(mc, m->file, path, sizeof(path)) != HG_OK)
		return HG_ENOTFOUND;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return HG_ENOMEM;
	hg_strlcpy(r->id, m->id, sizeof(r->id));
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		free(r);
		return errno == ENOENT ? HG_ENOTFOUND : HG_EIO;
	}
	if (m->key_id[0] != '\0') {
		r->kr = hg_store_keyring();
		if (r->kr == NULL || !hg_keyring_has(r->kr, m->key_id))
			rc = HG_EIO;
		else if (read_full(r->fd, head, sizeof(head), &got) != HG_OK ||
			 got != sizeof(head) || memcmp(head, MEDIA_MAGIC, 4) != 0 ||
			 memcmp(head + 4, m->key_id, HG_KEY_ID_LEN) != 0)
			rc = HG_EAUTH;
		hg_strlcpy(r->key_id, m->key_id, sizeof(r->key_id));
		r->rec = rc == HG_OK ? malloc(MEDIA_REC_MAX) : NULL;
		if (rc == HG_OK && r->rec == NULL)
			rc = HG_ENOMEM;
	}
	if (rc != HG_OK) {
		hg_media_close(r);
		return rc;
	}
	*out = r;
	return HG_OK;
}

/* The next chunk's plain bytes into r->plain. */
static int reader_next(struct hg_media_reader *r)
{
	char aad[HG_UUID_LEN + 64];
	uint8_t head[MEDIA_REC_HEAD];
	size_t len, got;
	int rc;

	free(r->plain);
	r->plain = NULL;
	r->plain_len = r->plain_off = 0;
	if (read_full(r->fd, head, sizeof(head), &got) != HG_OK)
		return HG_EIO;
	if (got != sizeof(head) || head[0] > 1)
		return HG_EAUTH; /* cut before its final chunk, or not ours */
	len = ((size_t)head[1] << 24) | ((size_t)head[2] << 16) | ((size_t)head[3] << 8) | head[4];
	if (len < HG_SEAL_OVERHEAD || len > MEDIA_REC_MAX)
		return HG_EAUTH;
	if (read_full(r->fd, r->rec, len, &got) != HG_OK)
		return HG_EIO;
	if (got != len)
		return HG_EAUTH;
	media_aad(aad, sizeof(aad), r->id, r->index, head[0]);
	rc = hg_open(r->kr, r->key_id, aad, r->rec, len, &r->plain, &r->plain_len);
	if (rc != HG_OK)
		return rc == HG_ENOMEM ? rc : HG_EAUTH;
	r->index++;
	r->ended = head[0];
	return HG_OK;
}

int hg_media_read(struct hg_media_reader *r, uint8_t *buf, size_t cap, size_t *n)
{
	size_t take;
	int rc;

	*n = 0;
	if (r->kr == NULL)
		return read_full(r->fd, buf, cap, n);
	while (r->plain_off == r->plain_len) {
		if (r->ended) {
			uint8_t extra;
			size_t got;

			/* nothing may follow the final chunk */
			if (read_full(r->fd, &extra, 1, &got) != HG_OK)
				return HG_EIO;
			return got == 0 ? HG_OK : HG_EAUTH;
		}
		rc = reader_next(r);
		if (rc != HG_OK)
			return rc;
	}
	take = r->plain_len - r->plain_off;
	take = take < cap ? take : cap;
	memcpy(buf, r->plain + r->plain_off, take);
	r->plain_off += take;
	*n = take;
	return HG_OK;
}

void hg_media_close(struct hg_media_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->plain);
	free(r->rec);
	free(r);
}
