/*
 * test_cidr.c — unit tests for src/util/cidr.c: parsing ranges in both
 * families, refusing malformed ones, and membership including the
 * IPv4-mapped IPv6 form a dual-stack listener reports. Pure parsing: only
 * documentation and loopback addresses appear, nothing is connected to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config/config.h"
#include "util/util.h"

static struct hg_cidr parse_ok(const char *s)
{
	struct hg_cidr c;

	if (hg_cidr_parse(s, &c) != HG_OK)
		fail_msg("expected \"%s\" to parse", s);
	return c;
}

static void test_parse_v4(void **state)
{
	static const uint8_t net[4] = {192, 0, 2, 0};
	struct hg_cidr c;

	(void)state;
	c = parse_ok("192.0.2.0/24");
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 24);
	assert_memory_equal(c.addr, net, 4);

	c = parse_ok("127.0.0.1");
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 32);

	/* host bits below the prefix are cleared */
	c = parse_ok("192.0.2.77/24");
	assert_memory_equal(c.addr, net, 4);
	c = parse_ok("0.0.0.0/0");
	assert_int_equal(c.prefix, 0);
}

static void test_parse_v6(void **state)
{
	static const uint8_t net[16] = {0x20, 0x01, 0x0d, 0xb8};
	static const uint8_t one[16] = {[15] = 1};
	struct hg_cidr c;

	(void)state;
	c = parse_ok("2001:db8::/32");
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 32);
	assert_memory_equal(c.addr, net, 16);
	c = parse_ok("2001:db8:ffff::1/32");
	assert_memory_equal(c.addr, net, 16);
	c = parse_ok("::1");
	assert_int_equal(c.prefix, 128);
	assert_memory_equal(c.addr, one, 16);
	c = parse_ok("::/0");
	assert_int_equal(c.prefix, 0);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "/8",
	    "127.0.0.0/",
	    "127.0.0.0/33",
	    "127.0.0.0/-1",
	    "127.0.0.0/+8",
	    "127.0.0.0/ 8",
	    "127.0.0.0/8 ",
	    "127.0.0.0/08x",
	    "127.0.0.0/0008",
	    "127.0.0/8",
	    "127.0.0.256",
	    "::1/129",
	    "2001:db8::g/32",
	    "localhost",
	    "127.0.0.0/8/8",
	    " 127.0.0.1",
	};
	struct hg_cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hg_cidr_parse(bad[i], &c) != HG_EINVAL)
			fail_msg("expected \"%s\" to be refused", bad[i]);
	assert_int_equal(hg_cidr_parse(NULL, &c), HG_EINVAL);
	/* longer than any address */
	assert_int_equal(
	    hg_cidr_parse("0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/8", &c),
	    HG_EINVAL);
}

static void test_contains_v4(void **state)
{
	struct hg_cidr c;

	(void)state;
	c = parse_ok("127.0.0.0/8");
	assert_true(hg_cidr_contains(&c, "127.0.0.1"));
	assert_true(hg_cidr_contains(&c, "127.255.255.255"));
	assert_false(hg_cidr_contains(&c, "128.0.0.1"));
	assert_false(hg_cidr_contains(&c, "::1"));
	assert_false(hg_cidr_contains(&c, "not an address"));
	assert_false(hg_cidr_contains(&c, ""));
	assert_false(hg_cidr_contains(&c, NULL));
	assert_false(hg_cidr_contains(NULL, "127.0.0.1"));

	c = parse_ok("192.0.2.128/25");
	assert_true(hg_cidr_contains(&c, "192.0.2.128"));
	assert_true(hg_cidr_contains(&c, "192.0.2.255"));
	assert_false(hg_cidr_contains(&c, "192.0.2.127"));

	c = parse_ok("192.0.2.10");
	assert_true(hg_cidr_contains(&c, "192.0.2.10"));
	assert_false(hg_cidr_contains(&c, "192.0.2.11"));

	c = parse_ok("0.0.0.0/0");
	assert_true(hg_cidr_contains(&c, "192.0.2.1"));
	assert_false(hg_cidr_contains(&c, "2001:db8::1"));
}

static void test_contains_v6(void **state)
{
	struct hg_cidr c;

	(void)state;
	c = parse_ok("2001:db8::/32");
	assert_true(hg_cidr_contains(&c, "2001:db8::1"));
	assert_true(hg_cidr_contains(&c, "2001:DB8:ffff:ffff::"));
	assert_false(hg_cidr_contains(&c, "2001:db9::1"));
	assert_false(hg_cidr_contains(&c, "192.0.2.1"));

	c = parse_ok("::1");
	assert_true(hg_cidr_contains(&c, "::1"));
	assert_true(hg_cidr_contains(&c, "0:0:0:0:0:0:0:1"));
	assert_false(hg_cidr_contains(&c, "::2"));
	assert_false(hg_cidr_contains(&c, "127.0.0.1"));

	/* a prefix that ends inside a byte */
	c = parse_ok("2001:db8:8000::/33");
	assert_true(hg_cidr_contains(&c, "2001:db8:8000::1"));
	assert_true(hg_cidr_contains(&c, "2001:db8:ffff::1"));
	assert_false(hg_cidr_contains(&c, "2001:db8:7fff::1"));
}

static void test_contains_mapped(void **state)
{
	struct hg_cidr c;

	(void)state;
	/* what a [::] listener reports for an IPv4 client */
	c = parse_ok("127.0.0.0/8");
	assert_true(hg_cidr_contains(&c, "::ffff:127.0.0.1"));
	assert_false(hg_cidr_contains(&c, "::ffff:128.0.0.1"));
	/* mapped only: the IPv4-compatible form (::127.0.0.1) is not the same */
	assert_false(hg_cidr_contains(&c, "::127.0.0.1"));
	c = parse_ok("192.0.2.0/24");
	assert_true(hg_cidr_contains(&c, "::FFFF:192.0.2.9"));
	assert_true(hg_cidr_contains(&c, "::ffff:c000:0209"));

	/* and the other way round: a mapped IPv6 range admits IPv4 text */
	c = parse_ok("::ffff:192.0.2.0/120");
	assert_true(hg_cidr_contains(&c, "192.0.2.200"));
	assert_true(hg_cidr_contains(&c, "::ffff:192.0.2.200"));
	assert_false(hg_cidr_contains(&c, "192.0.3.1"));
	c = parse_ok("::/0");
	assert_true(hg_cidr_contains(&c, "127.0.0.1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_v4),    cmocka_unit_test(test_parse_v6),
	    cmocka_unit_test(test_parse_bad),   cmocka_unit_test(test_contains_v4),
	    cmocka_unit_test(test_contains_v6), cmocka_unit_test(test_contains_mapped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
