/*
 * test_ssrf.c — unit tests for src/deliver/ssrf.c, the guard that keeps
 * subscriber deliveries off private networks: every blocked range with the
 * addresses just inside and just outside each edge, the IPv6 forms that
 * carry an IPv4 address, every spelling of an IPv4 literal, the URL rules
 * applied when a subscription is written, and the connect-time callbacks.
 *
 * Network safety: these are pure tests of a classifier. Nothing here
 * connects anywhere; the only socket created (an allowlisted loopback
 * address handed to the opensocket callback) is closed unconnected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "deliver/deliver_internal.h"
#include "util/util.h"

/* ---- helpers ---- */

static int parse_addr(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, text, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, text, out) == 1)
		return AF_INET6;
	fail_msg("test bug: \"%s\" is not an address", text);
	return 0;
}

static const char *range_of(const char *text)
{
	uint8_t a[16];
	int fam = parse_addr(text, a);

	return hg_ssrf_blocked_range(fam, a);
}

static void expect_blocked(const char *text)
{
	if (range_of(text) == NULL)
		fail_msg("expected %s to be blocked", text);
}

static void expect_public(const char *text)
{
	const char *r = range_of(text);

	if (r != NULL)
		fail_msg("expected %s to be public, got range %s", text, r);
}

/* Adds delta (+1 / -1) to a big-endian address of n bytes; returns 0 on
 * wrap-around (no such neighbour). */
static int step(uint8_t *a, size_t n, int delta)
{
	size_t i = n;

	while (i-- > 0) {
		if (delta > 0) {
			if (++a[i] != 0)
				return 1;
		} else {
			if (a[i]-- != 0)
				return 1;
		}
	}
	return 0;
}

/* One blocked range, and whether the addresses just outside each edge are
 * public ('p'), blocked by a neighbouring range ('b') or do not exist ('-'). */
struct edge_case {
	const char *net;
	int prefix;
	char below, above;
};

static void check_edges(const struct edge_case *c)
{
	uint8_t first[16], last[16], out[16];
	char text[INET6_ADDRSTRLEN];
	int fam = parse_addr(c->net, first);
	size_t n = fam == AF_INET ? 4 : 16;
	int i;

	memcpy(last, first, 16);
	for (i = c->prefix; i < (int)(n * 8); i++)
		last[i / 8] |= (uint8_t)(0x80 >> (i % 8));

	inet_ntop(fam, first, text, sizeof(text));
	if (hg_ssrf_blocked_range(fam, first) == NULL)
		fail_msg("first address %s of %s/%d is not blocked", text, c->net, c->prefix);
	inet_ntop(fam, last, text, sizeof(text));
	if (hg_ssrf_blocked_range(fam, last) == NULL)
		fail_msg("last address %s of %s/%d is not blocked", text, c->net, c->prefix);

	memcpy(out, first, 16);
	if (step(out, n, -1)) {
		inet_ntop(fam, out, text, sizeof(text));
		assert_true(c->below != '-');
		if ((hg_ssrf_blocked_range(fam, out) == NULL) != (c->below == 'p'))
			fail_msg("%s, just below %s/%d: expected %s", text, c->net, c->prefix,
				 c->below == 'p' ? "public" : "blocked");
	} else {
		assert_int_equal(c->below, '-');
	}
	memcpy(out, last, 16);
	if (step(out, n, +1)) {
		inet_ntop(fam, out, text, sizeof(text));
		assert_true(c->above != '-');
		if ((hg_ssrf_blocked_range(fam, out) == NULL) != (c->above == 'p'))
			fail_msg("%s, just above %s/%d: expected %s", text, c->net, c->prefix,
				 c->above == 'p' ? "public" : "blocked");
	} else {
		assert_int_equal(c->above, '-');
	}
}

/* ---- the classifier ---- */

static void test_ipv4_ranges_edges(void **state)
{
	static const struct edge_case cases[] = {
	    {"0.0.0.0", 8, '-', 'p'},       {"10.0.0.0", 8, 'p', 'p'},
	    {"100.64.0.0", 10, 'p', 'p'},   {"127.0.0.0", 8, 'p', 'p'},
	    {"169.254.0.0", 16, 'p', 'p'},  {"172.16.0.0", 12, 'p', 'p'},
	    {"192.0.0.0", 24, 'p', 'p'},    {"192.0.2.0", 24, 'p', 'p'},
	    {"192.168.0.0", 16, 'p', 'p'},  {"198.18.0.0", 15, 'p', 'p'},
	    {"198.51.100.0", 24, 'p', 'p'}, {"203.0.113.0", 24, 'p', 'p'},
	    {"224.0.0.0", 4, 'p', 'b'},     {"240.0.0.0", 4, 'b', '-'},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_edges(&cases[i]);
}

static void test_ipv4_ranges_explicit(void **state)
{
	static const char *const blocked[] = {
	    "0.0.0.0",         "0.255.255.255",   "10.0.0.0",       "10.255.255.255",
	    "100.64.0.0",      "100.127.255.255", "127.0.0.1",      "127.255.255.254",
	    "169.254.169.254", "172.16.0.1",      "172.31.255.255", "192.0.0.8",
	    "192.0.2.1",       "192.168.1.1",     "198.18.0.1",     "198.19.255.255",
	    "198.51.100.7",    "203.0.113.9",     "224.0.0.1",      "239.255.255.250",
	    "240.0.0.1",       "255.255.255.255",
	};
	static const char *const open[] = {
	    "1.0.0.0",         "1.1.1.1",         "8.8.8.8",        "9.255.255.255",
	    "11.0.0.0",        "100.63.255.255",  "100.128.0.0",    "126.255.255.255",
	    "128.0.0.0",       "169.253.255.255", "169.255.0.0",    "172.15.255.255",
	    "172.32.0.0",      "191.255.255.255", "192.0.1.0",      "192.0.3.0",
	    "192.167.255.255", "192.169.0.0",     "198.17.255.255", "198.20.0.0",
	    "223.255.255.255",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
		expect_blocked(blocked[i]);
	for (i = 0; i < sizeof(open) / sizeof(open[0]); i++)
		expect_public(open[i]);
	assert_string_equal(range_of("127.0.0.1"), "loopback 127.0.0.0/8");
	assert_string_equal(range_of("169.254.169.254"), "link-local 169.254.0.0/16");
	assert_string_equal(range_of("100.100.100.100"), "shared address space 100.64.0.0/10");
}

static void test_ipv6_ranges_edges(void **state)
{
	static const struct edge_case cases[] = {
	    {"::", 128, '-', 'b'},         /* ::1 above */
	    {"::1", 128, 'b', 'b'},        /* inside ::/96 */
	    {"::", 96, '-', 'b'},          /* ::1:0:0 is in ::/8 */
	    {"64:ff9b:1::", 48, 'b', 'b'}, /* both neighbours lie in ::/8 */
	    {"::", 8, '-', 'b'},           /* 100:: starts 100::/64 */
	    {"100::", 64, 'b', 'p'},       {"2001::", 32, 'p', 'p'}, {"2001:db8::", 32, 'p', 'p'},
	    {"fc00::", 7, 'p', 'p'},       {"fe80::", 10, 'p', 'b'}, {"fec0::", 10, 'b', 'b'},
	    {"ff00::", 8, 'b', '-'},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_edges(&cases[i]);
}

static void test_ipv6_ranges_explicit(void **state)
{
	static const char *const blocked[] = {
	    "::",           "::1",     "0:0:0:0:0:0:0:1", "::2",          "::127.0.0.1",
	    "::ffff:0:1",   "fc00::1", "fd12:3456::1",    "fdff:ffff::1", "fe80::1",
	    "febf:ffff::1", "fec0::1", "ff02::1",         "ff05::1:3",    "2001:db8::1",
	    "2001::1",      "100::1",  "64:ff9b:1::1",    "1::",          "ff:ffff::1",
	};
	static const char *const open[] = {
	    "2606:4700:4700::1111",
	    "2001:4860:4860::8888",
	    "2a00:1450:4001::1",
	    "fbff::1",
	    "fe00::1",
	    "2001:db7:ffff::1",
	    "2001:1::1",
	    "100:0:0:1::",
	    "2003::1",
	    "2000::1",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
		expect_blocked(blocked[i]);
	for (i = 0; i < sizeof(open) / sizeof(open[0]); i++)
		expect_public(open[i]);
	assert_string_equal(range_of("::1"), "loopback ::1/128");
	assert_string_equal(range_of("fe80::1"), "link-local fe80::/10");
	assert_string_equal(range_of("fd00::1"), "unique local fc00::/7");
}

/* IPv6 forms that carry an IPv4 address are judged by it. */
static void test_ipv6_embedded_ipv4(void **state)
{
	static const char *const blocked[] = {
	    "::ffff:127.0.0.1",       "::ffff:7f00:1",      "::ffff:10.0.0.1",
	    "::ffff:169.254.169.254", "::ffff:0.0.0.0",     "::ffff:192.168.0.1",
	    "::ffff:255.255.255.255", "64:ff9b::127.0.0.1", "64:ff9b::a00:1",
	    "64:ff9b::c0a8:1",        "2002:7f00:1::",      "2002:a00:1::1",
	    "2002:a9fe:a9fe::",
	};
	static const char *const open[] = {
	    "::ffff:8.8.8.8",   "::ffff:1.1.1.1",  "64:ff9b::808:808",
	    "64:ff9b::1.1.1.1", "2002:808:808::1",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
		expect_blocked(blocked[i]);
	for (i = 0; i < sizeof(open) / sizeof(open[0]); i++)
		expect_public(open[i]);
	/* the embedded address names the range */
	assert_string_equal(range_of("::ffff:127.0.0.1"), "loopback 127.0.0.0/8");
	assert_string_equal(range_of("64:ff9b::a00:1"), "private 10.0.0.0/8");
	/* edges of ::ffff:0:0/96: the neighbours lie in reserved ::/8 */
	expect_blocked("::fffe:ffff:ffff");
	expect_blocked("::1:0:0:0");
}

static void test_unsupported_family(void **state)
{
	uint8_t a[16] = {0};

	(void)state;
	assert_non_null(hg_ssrf_blocked_range(AF_UNIX, a));
	assert_non_null(hg_ssrf_blocked_range(AF_INET, NULL));
}

static void test_allowlist(void **state)
{
	struct hg_cidr allow[2];
	struct hg_ssrf_policy p = {.allow_http = 1, .allow = allow, .n_allow = 1};
	uint8_t a[16];

	(void)state;
	assert_int_equal(hg_cidr_parse("127.0.0.1/32", &allow[0]), HG_OK);
	parse_addr("127.0.0.1", a);
	assert_null(hg_ssrf_addr_refused(&p, AF_INET, a));
	parse_addr("127.0.0.2", a);
	assert_string_equal(hg_ssrf_addr_refused(&p, AF_INET, a), "loopback 127.0.0.0/8");
	/* the mapped form of an admitted address is admitted too */
	parse_addr("::ffff:127.0.0.1", a);
	assert_null(hg_ssrf_addr_refused(&p, AF_INET6, a));
	/* NAT64 is another path to it: not admitted by an IPv4 entry */
	parse_addr("64:ff9b::7f00:1", a);
	assert_non_null(hg_ssrf_addr_refused(&p, AF_INET6, a));
	parse_addr("::1", a);
	assert_non_null(hg_ssrf_addr_refused(&p, AF_INET6, a));
	/* an IPv6 entry; public addresses need no entry */
	assert_int_equal(hg_cidr_parse("fd00::/8", &allow[1]), HG_OK);
	p.n_allow = 2;
	parse_addr("fd00::5", a);
	assert_null(hg_ssrf_addr_refused(&p, AF_INET6, a));
	parse_addr("fe80::1", a);
	assert_non_null(hg_ssrf_addr_refused(&p, AF_INET6, a));
	parse_addr("8.8.8.8", a);
	assert_null(hg_ssrf_addr_refused(&p, AF_INET, a));
	assert_null(hg_ssrf_addr_refused(NULL, AF_INET, a));
}

/* ---- IPv4 literals in every spelling ---- */

struct lit_case {
	const char *host;
	int result;       /* 1 literal, 0 a name, -1 invalid */
	const char *addr; /* for result 1 */
	int canonical;
};

static void test_ipv4_literals(void **state)
{
	static const struct lit_case cases[] = {
	    {"127.0.0.1", 1, "127.0.0.1", 1},
	    {"127.0.0.1.", 1, "127.0.0.1", 1},
	    {"127.1", 1, "127.0.0.1", 0},
	    {"127.0.1", 1, "127.0.0.1", 0},
	    {"2130706433", 1, "127.0.0.1", 0},
	    {"0177.0.0.1", 1, "127.0.0.1", 0},
	    {"0177.0.0.01", 1, "127.0.0.1", 0},
	    {"017700000001", 1, "127.0.0.1", 0},
	    {"0x7f000001", 1, "127.0.0.1", 0},
	    {"0X7F000001", 1, "127.0.0.1", 0},
	    {"0x7f.0.0.1", 1, "127.0.0.1", 0},
	    {"0x7f.1", 1, "127.0.0.1", 0},
	    {"0x7f.0x0.0x0.0x1", 1, "127.0.0.1", 0},
	    {"127.000.000.001", 1, "127.0.0.1", 0},
	    {"010.0.0.1", 1, "8.0.0.1", 0},
	    {"0", 1, "0.0.0.0", 0},
	    {"0x", 1, "0.0.0.0", 0},
	    {"4294967295", 1, "255.255.255.255", 0},
	    {"169.254.43518", 1, "169.254.169.254", 0},
	    {"0xa9fea9fe", 1, "169.254.169.254", 0},
	    {"8.8.8.8", 1, "8.8.8.8", 1},
	    {"4294967296", -1, NULL, 0},
	    {"256.0.0.1", -1, NULL, 0},
	    {"1.2.3.256", -1, NULL, 0},
	    {"1.2.65536", -1, NULL, 0},
	    {"1.16777216", -1, NULL, 0},
	    {"1.2.3.4.5", -1, NULL, 0},
	    {"09.0.0.1", -1, NULL, 0},
	    {"1..1", -1, NULL, 0},
	    {"0xg.1", -1, NULL, 0},
	    {"foo.1", -1, NULL, 0},
	    {"example.com", 0, NULL, 0},
	    {"1example", 0, NULL, 0},
	    {"0xfoo", 0, NULL, 0},
	    {"1.2.3.4x", 0, NULL, 0},
	    {"localhost", 0, NULL, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lit_case *c = &cases[i];
		uint8_t out[4], want[4];
		int canonical = -1;
		int r = hg_ssrf_ipv4_literal(c->host, strlen(c->host), out, &canonical);

		if (r != c->result)
			fail_msg("\"%s\": expected %d, got %d", c->host, c->result, r);
		if (r != 1)
			continue;
		assert_int_equal(inet_pton(AF_INET, c->addr, want), 1);
		if (memcmp(out, want, 4) != 0)
			fail_msg("\"%s\": expected %s, got %u.%u.%u.%u", c->host, c->addr, out[0],
				 out[1], out[2], out[3]);
		if (canonical != c->canonical)
			fail_msg("\"%s\": expected canonical %d", c->host, c->canonical);
	}
}

/* ---- subscriber URLs ---- */

static int url_ok(const struct hg_ssrf_policy *p, const char *url)
{
	char err[512] = "";
	int rc = hg_ssrf_check_url(p, url, strlen(url), err, sizeof(err));

	if (rc != HG_OK && err[0] == '\0')
		fail_msg("\"%s\" refused without a reason", url);
	return rc == HG_OK;
}

static void test_url_loopback_every_spelling(void **state)
{
	static const char *const urls[] = {
	    "http://127.0.0.1/",
	    "http://127.0.0.1:8080/hook",
	    "http://127.0.0.1./",
	    "http://127.1/",
	    "http://127.0.1/",
	    "http://2130706433/",
	    "http://0177.0.0.1/",
	    "http://017700000001/",
	    "http://0x7f000001/",
	    "http://0x7f.0.0.1/",
	    "http://0x7F.1/",
	    "http://127.000.000.001/",
	    "http://[::1]/",
	    "http://[0:0:0:0:0:0:0:1]:80/",
	    "http://[::ffff:127.0.0.1]/",
	    "http://[::ffff:7f00:1]/",
	    "http://[0:0:0:0:0:ffff:7f00:1]/",
	    "http://[64:ff9b::7f00:1]/",
	    "http://[::127.0.0.1]/",
	    "http://localhost/",
	    "http://localhost:9000/x",
	    "http://LOCALHOST/",
	    "http://localhost./",
	    "http://api.localhost/",
	    "http://a.b.LocalHost./",
	    "http://0/",
	    "http://0.0.0.0/",
	    "http://[::]/",
	    "https://127.0.0.1/",
	    "HTTPS://127.1/",
	    "http://127.0.0.2/",
	    "http://127.255.255.255/",
	};
	struct hg_ssrf_policy p = {.allow_http = 1};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		if (url_ok(&p, urls[i]))
			fail_msg("expected \"%s\" to be refused", urls[i]);
}

static void test_url_private_ranges(void **state)
{
	static const char *const urls[] = {
	    "https://10.0.0.1/",          "https://10.1/",
	    "https://167772161/",         "https://172.16.0.1/",
	    "https://192.168.1.1/",       "https://169.254.169.254/latest",
	    "https://0xa9fea9fe/",        "https://100.64.0.1/",
	    "https://198.18.0.1/",        "https://224.0.0.1/",
	    "https://255.255.255.255/",   "https://[fe80::1]/",
	    "https://[fd00::1]/",         "https://[ff02::1]/",
	    "https://[::ffff:10.0.0.1]/", "https://[::ffff:a9fe:a9fe]/",
	    "https://[2002:c0a8:101::]/", "https://192.0.2.1/",
	};
	struct hg_ssrf_policy p = {0};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		if (url_ok(&p, urls[i]))
			fail_msg("expected \"%s\" to be refused", urls[i]);
}

static void test_url_shape(void **state)
{
	static const char *const bad[] = {
	    "",
	    "example.com/hook",
	    "ftp://example.com/",
	    "file:///etc/passwd",
	    "gopher://example.com/",
	    "https://",
	    "https:///path",
	    "https://:443/",
	    "https://example.com:/",
	    "https://example.com:0/",
	    "https://example.com:65536/",
	    "https://example.com:123456/",
	    "https://example.com:80a/",
	    "https://exa mple.com/",
	    "https://example.com/a b",
	    "https://ex%61mple.com/",
	    "https://example..com/",
	    "https://.example.com/",
	    "https://b\xc3\xbc"
	    "cher.example/",
	    "https://example.com\\@8.8.8.8/",
	    "https://user:pass@example.com/",
	    "https://example.com@8.8.8.8/",
	    "https://@example.com/",
	    "https://[::1/",
	    "https://[8.8.8.8]/",
	    "https://[2606:4700::1]x/",
	    "https://[fe80::1%25eth0]/",
	    "https://1.2.3.4.5/",
	    "https://256.1.1.1/",
	    "https://foo.123/",
	    "https://8.8.8.010/",
	    "https://0x8.8.8.8/",
	    "https://134744072/",
	};
	static const char *const good[] = {
	    "https://example.com/hook",
	    "https://Example.COM:8443/a/b?c=d#frag",
	    "https://hooks.example.com./x",
	    "https://xn--bcher-kva.example/",
	    "https://my_host.example.com/",
	    "https://8.8.8.8/",
	    "https://8.8.8.8:443/",
	    "https://[2606:4700:4700::1111]/",
	    "https://[2606:4700:4700::1111]:8443/x",
	    "https://[::ffff:8.8.8.8]/",
	    "https://localhost.example.com/",
	    "https://notlocalhost/",
	    "https://example.com/#@127.0.0.1",
	    "https://example.com/?u=http://127.0.0.1/",
	};
	struct hg_ssrf_policy p = {0};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (url_ok(&p, bad[i]))
			fail_msg("expected \"%s\" to be refused", bad[i]);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char err[512] = "";

		if (hg_ssrf_check_url(&p, good[i], strlen(good[i]), err, sizeof(err)) != HG_OK)
			fail_msg("expected \"%s\" to pass: %s", good[i], err);
	}
	/* a URL is not NUL-terminated: only len bytes count */
	assert_true(url_ok(&p, "https://example.com/"));
	{
		char err[256];

		assert_int_equal(
		    hg_ssrf_check_url(&p, "https://example.com/x", 8, err, sizeof(err)), HG_EINVAL);
		assert_int_equal(hg_ssrf_check_url(&p, NULL, 0, err, sizeof(err)), HG_EINVAL);
	}
}

static void test_url_http_needs_allow_http(void **state)
{
	struct hg_ssrf_policy p = {0};
	char err[512];

	(void)state;
	assert_int_equal(hg_ssrf_check_url(&p, "http://example.com/", 19, err, sizeof(err)),
			 HG_EINVAL);
	assert_non_null(strstr(err, "https"));
	p.allow_http = 1;
	assert_true(url_ok(&p, "http://example.com/"));
	assert_true(url_ok(&p, "https://example.com/"));
	assert_false(url_ok(NULL, "http://example.com/"));
	assert_true(url_ok(NULL, "https://example.com/"));
}

static void test_url_egress_allow(void **state)
{
	struct hg_cidr allow[1];
	struct hg_ssrf_policy p = {.allow_http = 1, .allow = allow, .n_allow = 1};
	char err[512];

	(void)state;
	assert_int_equal(hg_cidr_parse("127.0.0.1/32", &allow[0]), HG_OK);
	assert_true(url_ok(&p, "http://127.0.0.1:8080/sink"));
	assert_true(url_ok(&p, "http://[::ffff:127.0.0.1]:8080/sink"));
	assert_true(url_ok(&p, "http://localhost:8080/sink"));
	/* outside the admitted /32 */
	assert_false(url_ok(&p, "http://127.0.0.2:8080/"));
	assert_false(url_ok(&p, "http://[::1]:8080/"));
	assert_false(url_ok(&p, "http://10.0.0.1/"));
	/* an admitted address in another spelling is still refused, with a hint */
	assert_int_equal(hg_ssrf_check_url(&p, "http://127.1:8080/", 18, err, sizeof(err)),
			 HG_EINVAL);
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_false(url_ok(&p, "http://2130706433:8080/"));
	/* the error names the address and its range */
	p.n_allow = 0;
	assert_int_equal(hg_ssrf_check_url(&p, "http://0x7f000001/", 18, err, sizeof(err)),
			 HG_EINVAL);
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_non_null(strstr(err, "loopback"));
}

/* ---- connect time ---- */

static struct curl_sockaddr sockaddr_of(const char *text, uint16_t port)
{
	struct curl_sockaddr a;
	uint8_t raw[16];
	int fam = parse_addr(text, raw);

	memset(&a, 0, sizeof(a));
	a.family = fam;
	a.socktype = SOCK_STREAM;
	a.protocol = IPPROTO_TCP;
	if (fam == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)&a.addr;

		a.addrlen = sizeof(*in);
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, raw, 4);
	} else {
		/* struct curl_sockaddr's addr is a struct sockaddr, too small for
		 * sockaddr_in6: the test lays one over a big enough buffer */
		a.addrlen = sizeof(struct sockaddr_in6);
	}
	return a;
}

static curl_socket_t open_v6(struct hg_ssrf_guard *g, const char *text)
{
	union {
		struct curl_sockaddr ca;
		unsigned char room[sizeof(struct curl_sockaddr) + sizeof(struct sockaddr_in6)];
	} u;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&u.ca.addr;

	memset(&u, 0, sizeof(u));
	u.ca.family = AF_INET6;
	u.ca.socktype = SOCK_STREAM;
	u.ca.protocol = IPPROTO_TCP;
	u.ca.addrlen = sizeof(*in6);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(9);
	assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	return hg_ssrf_opensocket(g, CURLSOCKTYPE_IPCXN, &u.ca);
}

static void test_opensocket_refuses(void **state)
{
	static const char *const v4[] = {"127.0.0.1", "10.1.2.3",    "169.254.169.254",
					 "0.0.0.0",   "192.168.0.1", "224.0.0.251"};
	static const char *const v6[] = {"::1",     "::ffff:127.0.0.1",   "fe80::1",
					 "fd00::1", "64:ff9b::a9fe:a9fe", "::"};
	struct hg_ssrf_policy p = {.allow_http = 1};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		struct hg_ssrf_guard g = {.policy = &p};
		struct curl_sockaddr a = sockaddr_of(v4[i], 9);

		assert_int_equal(hg_ssrf_opensocket(&g, CURLSOCKTYPE_IPCXN, &a), CURL_SOCKET_BAD);
		assert_int_equal(g.refused, 1);
		assert_string_equal(g.addr, v4[i]);
		assert_non_null(g.range);
	}
	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		struct hg_ssrf_guard g = {.policy = &p};

		assert_int_equal(open_v6(&g, v6[i]), CURL_SOCKET_BAD);
		assert_int_equal(g.refused, 1);
		assert_non_null(g.range);
	}
	{
		struct hg_ssrf_guard g = {.policy = &p};
		struct curl_sockaddr a = sockaddr_of("127.0.0.1", 9);

		a.family = AF_UNIX;
		assert_int_equal(hg_ssrf_opensocket(&g, CURLSOCKTYPE_IPCXN, &a), CURL_SOCKET_BAD);
		assert_int_equal(g.refused, 1);
	}
}

/* An admitted address gets a socket; it is closed without connecting. */
static void test_opensocket_allowlisted(void **state)
{
	struct hg_cidr allow[1];
	struct hg_ssrf_policy p = {.allow_http = 1, .allow = allow, .n_allow = 1};
	struct hg_ssrf_guard g = {.policy = &p};
	struct curl_sockaddr a = sockaddr_of("127.0.0.1", 9);
	curl_socket_t fd;

	(void)state;
	assert_int_equal(hg_cidr_parse("127.0.0.1/32", &allow[0]), HG_OK);
	fd = hg_ssrf_opensocket(&g, CURLSOCKTYPE_IPCXN, &a);
	assert_true(fd != CURL_SOCKET_BAD);
	close(fd);
	assert_int_equal(g.refused, 0);
	a = sockaddr_of("127.0.0.2", 9);
	assert_int_equal(hg_ssrf_opensocket(&g, CURLSOCKTYPE_IPCXN, &a), CURL_SOCKET_BAD);
	assert_int_equal(g.refused, 1);
	assert_string_equal(g.addr, "127.0.0.2");
}

static void test_prereq(void **state)
{
	struct hg_ssrf_policy p = {0};
	char lo[] = "127.0.0.1", v6[] = "::1", mapped[] = "::ffff:10.0.0.1", pub[] = "8.8.8.8",
	     junk[] = "not-an-address", local[] = "127.0.0.1";
	struct hg_ssrf_guard g = {.policy = &p};

	(void)state;
	assert_int_equal(hg_ssrf_prereq(&g, pub, local, 443, 5555), CURL_PREREQFUNC_OK);
	assert_int_equal(g.refused, 0);
	assert_int_equal(hg_ssrf_prereq(&g, lo, local, 80, 5555), CURL_PREREQFUNC_ABORT);
	assert_int_equal(g.refused, 1);
	assert_string_equal(g.addr, "127.0.0.1");
	assert_string_equal(g.range, "loopback 127.0.0.0/8");
	assert_int_equal(hg_ssrf_prereq(&g, v6, local, 80, 5555), CURL_PREREQFUNC_ABORT);
	assert_int_equal(hg_ssrf_prereq(&g, mapped, local, 80, 5555), CURL_PREREQFUNC_ABORT);
	assert_string_equal(g.range, "private 10.0.0.0/8");
	assert_int_equal(hg_ssrf_prereq(&g, junk, local, 80, 5555), CURL_PREREQFUNC_ABORT);
	assert_int_equal(hg_ssrf_prereq(&g, NULL, local, 80, 5555), CURL_PREREQFUNC_ABORT);
}

/* The options are accepted by this libcurl; nothing is transferred. */
static void test_curl_guard_setup(void **state)
{
	struct hg_ssrf_policy p = {0};
	struct hg_ssrf_guard g = {.policy = &p};
	CURL *h = curl_easy_init();

	(void)state;
	assert_non_null(h);
	assert_int_equal(hg_ssrf_curl_guard(h, &g), HG_OK);
	p.allow_http = 1;
	assert_int_equal(hg_ssrf_curl_guard(h, &g), HG_OK);
	curl_easy_cleanup(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_ranges_edges),
	    cmocka_unit_test(test_ipv4_ranges_explicit),
	    cmocka_unit_test(test_ipv6_ranges_edges),
	    cmocka_unit_test(test_ipv6_ranges_explicit),
	    cmocka_unit_test(test_ipv6_embedded_ipv4),
	    cmocka_unit_test(test_unsupported_family),
	    cmocka_unit_test(test_allowlist),
	    cmocka_unit_test(test_ipv4_literals),
	    cmocka_unit_test(test_url_loopback_every_spelling),
	    cmocka_unit_test(test_url_private_ranges),
	    cmocka_unit_test(test_url_shape),
	    cmocka_unit_test(test_url_http_needs_allow_http),
	    cmocka_unit_test(test_url_egress_allow),
	    cmocka_unit_test(test_opensocket_refuses),
	    cmocka_unit_test(test_opensocket_allowlisted),
	    cmocka_unit_test(test_prereq),
	    cmocka_unit_test(test_curl_guard_setup),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
