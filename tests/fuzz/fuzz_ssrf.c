/*
 * fuzz_ssrf.c — the SSRF guard's parsing and classification
 * (src/deliver/ssrf.c): subscriber URLs, IPv4 literals in every spelling,
 * and the blocked-range table. Pure: nothing here resolves a name or opens
 * a socket (curl is used only through its URL parser, curl_url()).
 *
 * Asserts, besides no crash under ASan/UBSan:
 *  - a URL hg_ssrf_check_url() accepts, read by curl's own URL parser (the
 *    one delivery uses), never names a blocked address as a literal curl
 *    or the C library would connect to without a lookup (inet_aton forms,
 *    IPv6), nor "localhost";
 *  - hg_ssrf_ipv4_literal() reads every host inet_aton() reads as the same
 *    address, or refuses it (-1); it never calls one a name;
 *  - an IPv6 address carrying an IPv4 one (::ffff:0:0/96, 64:ff9b::/96,
 *    2002::/16) is judged as that IPv4 address;
 *  - egress_allow admits exactly its ranges and nothing else.
 *
 * Input: byte 0 is flags (bit 0 allow_http, bit 1 an egress_allow list),
 * the rest is a URL, a host and 16 bytes of address all at once.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "util/util.h"

static struct hg_cidr fz_allow[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (hg_cidr_parse("10.0.0.0/8", &fz_allow[0]) != HG_OK ||
	    hg_cidr_parse("fd00::/8", &fz_allow[1]) != HG_OK)
		abort();
	return 0;
}

static void fz_fail(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "ssrf: %s: ", what);
	fwrite(data, 1, size < 300 ? size : 300, stderr);
	fputc('\n', stderr);
	abort();
}

/* What the policy says of an address given as text, for the oracle. */
static int fz_allowed(const struct hg_ssrf_policy *p, int family, const uint8_t *a)
{
	return hg_ssrf_addr_refused(p, family, a) == NULL;
}

/* A URL check_url accepted: the host curl finds must not be a literal in a
 * blocked range (the connect-time guard is the second line, not the only). */
static void fz_check_accepted(const struct hg_ssrf_policy *p, const char *url, const uint8_t *data,
			      size_t size)
{
	CURLU *u = curl_url();
	char *host = NULL;
	uint8_t a6[16];
	struct in_addr a4;
	size_t n;

	if (u == NULL)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL)
		fz_fail("accepted a URL curl cannot parse", data, size);
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, a6) == 1 && !fz_allowed(p, AF_INET6, a6))
			fz_fail("accepted a blocked IPv6 literal", data, size);
	} else if (inet_aton(host, &a4) == 1 && !fz_allowed(p, AF_INET, (uint8_t *)&a4.s_addr)) {
		fz_fail("accepted a blocked IPv4 literal", data, size);
	} else if (n > 0) {
		size_t m = host[n - 1] == '.' ? n - 1 : n;

		if (m >= 9 && strncasecmp(host + m - 9, "localhost", 9) == 0 &&
		    (m == 9 || host[m - 10] == '.') &&
		    !fz_allowed(p, AF_INET, (const uint8_t *)"\x7f\0\0\x01"))
			fz_fail("accepted localhost", data, size);
	}
	curl_free(host);
	curl_url_cleanup(u);
}

/* hg_ssrf_ipv4_literal against inet_aton on hosts that could be numbers. */
static void fz_check_literal(const char *s, size_t n, const uint8_t *data, size_t size)
{
	uint8_t out[4];
	struct in_addr a4;
	int canonical, lit, aton;
	size_t i;

	for (i = 0; i < n; i++)
		if (hg_hex_digit((unsigned char)s[i]) < 0 && s[i] != 'x' && s[i] != 'X' &&
		    s[i] != '.')
			return; /* inet_aton stops at a space; only number-like text */
	lit = hg_ssrf_ipv4_literal(s, n, out, &canonical);
	aton = inet_aton(s, &a4);
	if (aton == 1 && lit == 0)
		fz_fail("inet_aton reads an address the guard calls a name", data, size);
	if (aton == 1 && lit == 1 && memcmp(out, &a4.s_addr, 4) != 0)
		fz_fail("inet_aton reads another address than the guard", data, size);
	if (lit == 1 && canonical) {
		char text[INET_ADDRSTRLEN];

		/* canonical: four decimal parts, the way inet_ntop writes them */
		if (inet_ntop(AF_INET, out, text, sizeof(text)) == NULL)
			abort();
		if (strncmp(text, s, strlen(text)) != 0)
			fz_fail("a canonical literal is not written canonically", data, size);
	}
}

/* IPv6 forms that carry an IPv4 address are judged by it. */
static void fz_check_embedded(const uint8_t *a, const uint8_t *data, size_t size)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
	uint8_t v6[16];
	int b4 = hg_ssrf_blocked_range(AF_INET, a) != NULL;

	memcpy(v6, mapped, 12);
	memcpy(v6 + 12, a, 4);
	if ((hg_ssrf_blocked_range(AF_INET6, v6) != NULL) != b4)
		fz_fail("::ffff:a.b.c.d judged unlike a.b.c.d", data, size);
	memcpy(v6, nat64, 12);
	if ((hg_ssrf_blocked_range(AF_INET6, v6) != NULL) < b4)
		fz_fail("64:ff9b::a.b.c.d let through though a.b.c.d is blocked", data, size);
	memset(v6, 0x11, 16);
	v6[0] = 0x20;
	v6[1] = 0x02;
	memcpy(v6 + 2, a, 4);
	if ((hg_ssrf_blocked_range(AF_INET6, v6) != NULL) < b4)
		fz_fail("2002:a.b.c.d:: let through though a.b.c.d is blocked", data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hg_ssrf_policy p = {0};
	char *s, err[256];
	uint8_t a[16];
	size_t n;

	if (size < 1)
		return 0;
	p.allow_http = data[0] & 1;
	if (data[0] & 2) {
		p.allow = fz_allow;
		p.n_allow = 2;
	}
	n = size - 1;
	s = malloc(n + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, n);
	s[n] = '\0';

	err[0] = '\0';
	if (hg_ssrf_check_url(&p, s, n, err, sizeof(err)) == HG_OK) {
		if (memchr(s, '\0', n) != NULL)
			fz_fail("accepted a URL with a NUL byte", data, size);
		fz_check_accepted(&p, s, data, size);
	} else if (err[0] == '\0') {
		fz_fail("refused without a reason", data, size);
	}
	if (memchr(s, '\0', n) == NULL)
		fz_check_literal(s, n, data, size);

	memset(a, 0, sizeof(a));
	memcpy(a, data + 1, n < 16 ? n : 16);
	(void)hg_ssrf_blocked_range(AF_INET6, a);
	(void)hg_ssrf_blocked_range(AF_UNIX, a);
	fz_check_embedded(a, data, size);
	if (!p.n_allow) {
		p.allow = fz_allow;
		p.n_allow = 2;
	}
	if (a[0] == 10 && !fz_allowed(&p, AF_INET, a))
		fz_fail("egress_allow 10.0.0.0/8 does not admit 10.x", data, size);
	if (a[0] != 10 && fz_allowed(&p, AF_INET, a) != (hg_ssrf_blocked_range(AF_INET, a) == NULL))
		fz_fail("egress_allow admits more than its ranges (IPv4)", data, size);
	if ((a[0] & 0xff) == 0xfd && !fz_allowed(&p, AF_INET6, a))
		fz_fail("egress_allow fd00::/8 does not admit fdxx::", data, size);
	free(s);
	return 0;
}
