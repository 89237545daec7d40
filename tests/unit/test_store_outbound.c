/*
 * test_store_outbound.c — what is SQLite's own in the store's API keys and
 * outbound subscriptions (sqlite_outbound.c): every outbound write takes
 * the backend's one transaction path, so a removed database file fails it.
 * Owner scoping, patches, secrets, deletion, history, prefix claims and the
 * health rules hold on every backend: test_store_conformance.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "store/store.h"
#include "util/util.h"

static const char sec1[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
static const char sec2[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void make_sub(struct hg_store *st, const char *owner, const char *url, char *id_out)
{
	struct hg_store_sub s;

	memset(&s, 0, sizeof(s));
	hg_uuid7(s.id);
	hg_strlcpy(s.owner_id, owner, sizeof(s.owner_id));
	s.url = (char *)url;
	s.events_json = (char *)"[\"clip.*\"]";
	s.is_active = 1;
	hg_strlcpy(s.secret, sec1, sizeof(s.secret));
	s.created_ms = s.updated_ms = 1000;
	assert_int_equal(hg_store_sub_create(st, &s), HG_OK);
	memcpy(id_out, s.id, HG_UUID_LEN + 1);
}

static int file_setup(void **state)
{
	return hg_test_store_setup(state, "hg-outbound", "db/hookgate.db");
}

static int file_teardown(void **state)
{
	return hg_test_store_teardown(state);
}

/* Outbound writes take the backend's one transaction path: into a database
 * whose directory was removed they fail (the moved-file check), rather than
 * land in an unlinked file and be reported stored. */
static void test_writes_refused_when_file_gone(void **state)
{
	struct hg_test_store *f = *state;
	struct hg_store_api_key k = {0};
	struct hg_store_sub s;
	struct hg_store_sub_patch p = {.is_active = 0, .now_ms = 3000};
	char id[HG_UUID_LEN + 1];

	make_sub(f->st, "own", "https://a.example/hook", id);
	hg_test_rm_rf(f->dir);

	memset(&s, 0, sizeof(s));
	hg_uuid7(s.id);
	hg_strlcpy(s.owner_id, "own", sizeof(s.owner_id));
	s.url = (char *)"https://b.example/hook";
	s.events_json = (char *)"[\"clip.*\"]";
	s.is_active = 1;
	hg_strlcpy(s.secret, sec1, sizeof(s.secret));
	assert_int_equal(hg_store_sub_create(f->st, &s), HG_EIO);
	assert_int_equal(hg_store_sub_update(f->st, id, NULL, &p), HG_EIO);
	assert_int_equal(hg_store_sub_set_secret(f->st, id, NULL, sec2, NULL, 0, 3000), HG_EIO);
	assert_int_equal(hg_store_sub_delete(f->st, id, NULL, 3000), HG_EIO);
	hg_uuid7(k.id);
	hg_strlcpy(k.token_hash, sec2, sizeof(k.token_hash));
	hg_strlcpy(k.owner_id, "own", sizeof(k.owner_id));
	assert_int_equal(hg_store_api_key_put(f->st, &k), HG_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_writes_refused_when_file_gone, file_setup,
					    file_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
