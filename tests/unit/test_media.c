/*
 * test_media.c — unit tests for src/media: the media a WhatsApp payload
 * names (refs.c), and media files written and read back (file.c), in
 * clear and sealed: byte-exact round trips in odd-sized pieces, and a
 * changed byte, a cut file, a chunk moved to another file are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "crypt/crypt.h"
#include "media/media_internal.h"

static char tmpdir[] = "/tmp/hg-test-media-XXXXXX";

static void test_refs(void **state)
{
	static const char payload[] =
	    "{\"entry\":[{\"changes\":[{\"value\":{\"messages\":["
	    "{\"type\":\"image\",\"image\":{\"id\":\"111\",\"mime_type\":\"image/jpeg\","
	    "\"sha256\":\"abc\"}},"
	    "{\"type\":\"text\",\"text\":{\"body\":\"hi\"}},"
	    "{\"type\":\"document\",\"document\":{\"id\":\"222\"}},"
	    "{\"type\":\"sticker\",\"sticker\":{\"id\":333}},"
	    "{\"type\":\"audio\",\"audio\":{\"id\":\"\"}}"
	    "]}}]}]}";
	struct hg_media_refs r;
	json_t *root = json_loads(payload, 0, NULL);

	(void)state;
	assert_non_null(root);
	assert_int_equal(hg_media_refs_of(root, &r), HG_OK);
	assert_int_equal(r.n, 2); /* a number or an empty id names nothing */
	assert_string_equal(r.refs[0].graph_id, "111");
	assert_string_equal(r.refs[0].mime, "image/jpeg");
	assert_string_equal(r.refs[0].sha256, "abc");
	assert_string_equal(r.refs[1].graph_id, "222");
	assert_null(r.refs[1].mime);
	assert_null(r.refs[1].sha256);
	assert_string_not_equal(r.refs[0].id, r.refs[1].id);
	hg_media_refs_free(&r);
	json_decref(root);
	assert_int_equal(hg_media_refs_of(NULL, &r), HG_OK); /* not JSON: no media */
	assert_int_equal(r.n, 0);
}

/* Writes n bytes of data as id in odd pieces; fills m. */
static void write_file(const struct hg_media_config *mc, const struct hg_keyring *kr,
		       const uint8_t *data, size_t n, struct hg_store_media *m)
{
	struct hg_media_writer w;
	size_t off = 0, piece = 1;

	memset(m, 0, sizeof(*m));
	hg_uuid7(m->id);
	assert_int_equal(hg_media_writer_open(&w, mc, kr, m->id), HG_OK);
	while (off < n) {
		size_t take = piece < n - off ? piece : n - off;

		assert_int_equal(hg_media_writer_put(&w, data + off, take), HG_OK);
		off += take;
		piece = piece * 3 + 7;
	}
	assert_int_equal(hg_media_writer_finish(&w), HG_OK);
	memcpy(m->file, m->id, sizeof(m->file));
	memcpy(m->key_id, w.key_id, sizeof(m->key_id));
	m->state = HG_MEDIA_STORED;
}

/* Reads m back: HG_OK and the bytes, or the first error. */
static int read_file(const struct hg_media_config *mc, const struct hg_store_media *m,
		     uint8_t **out, size_t *len)
{
	struct hg_media_reader *r;
	uint8_t buf[1000];
	size_t n;
	int rc = hg_media_open(mc, m, &r);

	*out = NULL;
	*len = 0;
	if (rc != HG_OK)
		return rc;
	while ((rc = hg_media_read(r, buf, sizeof(buf), &n)) == HG_OK && n > 0) {
		*out = realloc(*out, *len + n);
		memcpy(*out + *len, buf, n);
		*len += n;
	}
	hg_media_close(r);
	return rc;
}

static void path_of(const struct hg_media_config *mc, const char *id, char *out, size_t len)
{
	assert_int_equal(hg_media_path(mc, id, out, len), HG_OK);
}

static void test_files(void **state)
{
	static uint8_t key[32] = {7, 7, 7};
	struct hg_media_config mc = {.dir = tmpdir};
	struct hg_keyring *kr = NULL;
	struct hg_store_media plain, sealed, other;
	size_t n = 3 * HG_MEDIA_CHUNK + 123, len;
	uint8_t *data = malloc(n), *got, *raw;
	char path[512], path2[512];
	FILE *f;
	long size;
	int rc;

	(void)state;
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 31 + 7);
	/* in clear: the bytes as they came */
	write_file(&mc, NULL, data, n, &plain);
	assert_string_equal(plain.key_id, "");
	assert_int_equal(read_file(&mc, &plain, &got, &len), HG_OK);
	assert_int_equal(len, n);
	assert_memory_equal(got, data, n);
	free(got);

	assert_int_equal(hg_keyring_new((const uint8_t(*)[32])key, 1, &kr), HG_OK);
	hg_store_use_keys(kr); /* taken over */
	write_file(&mc, hg_store_keyring(), data, n, &sealed);
	assert_string_equal(sealed.key_id, hg_keyring_active(hg_store_keyring()));
	assert_int_equal(read_file(&mc, &sealed, &got, &len), HG_OK);
	assert_int_equal(len, n);
	assert_memory_equal(got, data, n);
	free(got);
	/* nothing of the plain bytes on disk */
	path_of(&mc, sealed.file, path, sizeof(path));
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	raw = malloc((size_t)size);
	assert_int_equal(fread(raw, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	assert_null(memmem(raw, (size_t)size, data + 1000, 32));

	/* a changed byte in the last chunk */
	raw[size - 20] ^= 1;
	f = fopen(path, "wb");
	fwrite(raw, 1, (size_t)size, f);
	fclose(f);
	rc = read_file(&mc, &sealed, &got, &len);
	free(got);
	assert_int_equal(rc, HG_EAUTH);
	raw[size - 20] ^= 1;
	/* cut before the final chunk: every byte read verifies, the end does not */
	f = fopen(path, "wb");
	fwrite(raw, 1, (size_t)(4 + 16 + 3 * (5 + HG_MEDIA_CHUNK + HG_SEAL_OVERHEAD)), f);
	fclose(f);
	rc = read_file(&mc, &sealed, &got, &len);
	free(got);
	assert_int_equal(rc, HG_EAUTH);
	/* the whole file under another media's id does not open there */
	write_file(&mc, hg_store_keyring(), data, 10, &other);
	path_of(&mc, other.file, path2, sizeof(path2));
	f = fopen(path2, "wb");
	fwrite(raw, 1, (size_t)size, f);
	fclose(f);
	rc = read_file(&mc, &other, &got, &len);
	free(got);
	assert_int_equal(rc, HG_EAUTH);

	unlink(path);
	unlink(path2);
	path_of(&mc, plain.file, path, sizeof(path));
	unlink(path);
	free(raw);
	free(data);
	hg_store_use_keys(NULL);
	hg_store_keys_release();
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refs),
	    cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
