/*
 * ssrf.c — the guard that keeps subscriber deliveries away from hookgate's
 * own network: loopback, private, link-local, shared, multicast and
 * reserved ranges (deliver.h states the contract).
 *
 * Two checks, because either alone is not enough:
 *  - when a subscription is written, its URL is parsed and an IP literal in
 *    the host is judged in every spelling a resolver accepts (inet_aton's
 *    "127.1", "2130706433", "0177.0.0.1", "0x7f000001", IPv4-mapped IPv6),
 *    so the API can say 400 at once;
 *  - at connect time every address curl is about to connect to (after DNS,
 *    so a name that resolves to 127.0.0.1, or later rebinds to it, is
 *    caught) goes through CURLOPT_OPENSOCKETFUNCTION, and every request
 *    through CURLOPT_PREREQFUNCTION with the connection's peer address,
 *    because the engine's connection pool may hand a subscriber transfer a
 *    connection that an inbound endpoint (allowed to reach 127.0.0.1)
 *    opened to the same host name.
 * The URL is also parsed by curl's own URL parser and the two must agree
 * on the host, so no parser differential can smuggle another host past us.
 *
 * Not on the request path of inbound webhooks; the connect-time callbacks
 * run on the delivery engine's thread and do no allocation.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deliver/deliver_internal.h"

#define SSRF_MAX_URL  2048
#define SSRF_MAX_HOST 253

/* One blocked range. embed >= 0: the range only carries an IPv4 address at
 * byte offset embed, and that address is judged instead. */
struct ssrf_range {
	int family;
	uint8_t net[16];
	int prefix;
	int embed;
	const char *name;
};

/* RFC 6890 and the IANA special-purpose registries: every range that is
 * not the public Internet. The first match wins, so the forms that carry
 * an IPv4 address (::ffff:0:0/96, 64:ff9b::/96) come before the reserved
 * ::/8 that holds them. */
static const struct ssrf_range ssrf_ranges[] = {
    {AF_INET, {0}, 8, -1, "\"this network\" 0.0.0.0/8"},
    {AF_INET, {10}, 8, -1, "private 10.0.0.0/8"},
    {AF_INET, {100, 64}, 10, -1, "shared address space 100.64.0.0/10"},
    {AF_INET, {127}, 8, -1, "loopback 127.0.0.0/8"},
    {AF_INET, {169, 254}, 16, -1, "link-local 169.254.0.0/16"},
    {AF_INET, {172, 16}, 12, -1, "private 172.16.0.0/12"},
    {AF_INET, {192, 0, 0}, 24, -1, "IETF protocol assignments 192.0.0.0/24"},
    {AF_INET, {192, 0, 2}, 24, -1, "documentation 192.0.2.0/24"},
    {AF_INET, {192, 168}, 16, -1, "private 192.168.0.0/16"},
    {AF_INET, {198, 18}, 15, -1, "benchmarking 198.18.0.0/15"},
    {AF_INET, {198, 51, 100}, 24, -1, "documentation 198.51.100.0/24"},
    {AF_INET, {203, 0, 113}, 24, -1, "documentation 203.0.113.0/24"},
    {AF_INET, {224}, 4, -1, "multicast 224.0.0.0/4"},
    {AF_INET, {240}, 4, -1, "reserved 240.0.0.0/4"},
    {AF_INET6, {0}, 128, -1, "unspecified ::/128"},
    {AF_INET6, {[15] = 1}, 128, -1, "loopback ::1/128"},
    {AF_INET6, {[10] = 0xff, [11] = 0xff}, 96, 12, NULL}, /* ::ffff:0:0/96 */
    {AF_INET6, {0}, 96, -1, "IPv4-compatible ::/96"},     /* deprecated */
    {AF_INET6, {0, 0x64, 0xff, 0x9b}, 96, 12, NULL},      /* 64:ff9b::/96 NAT64 */
    {AF_INET6, {0, 0x64, 0xff, 0x9b, 0, 1}, 48, -1, "local-use NAT64 64:ff9b:1::/48"},
    {AF_INET6, {0}, 8, -1, "reserved ::/8"}, /* after the above */
    {AF_INET6, {0x01, 0x00}, 64, -1, "discard-only 100::/64"},
    {AF_INET6, {0x20, 0x01, 0x00, 0x00}, 32, -1, "Teredo 2001::/32"}, /* reaches any IPv4 */
    {AF_INET6, {0x20, 0x01, 0x0d, 0xb8}, 32, -1, "documentation 2001:db8::/32"},
    {AF_INET6, {0x20, 0x02}, 16, 2, NULL}, /* 6to4 2002::/16 */
    {AF_INET6, {0xfc}, 7, -1, "unique local fc00::/7"},
    {AF_INET6, {0xfe, 0x80}, 10, -1, "link-local fe80::/10"},
    {AF_INET6, {0xfe, 0xc0}, 10, -1, "site-local fec0::/10"},
    {AF_INET6, {0xff}, 8, -1, "multicast ff00::/8"},
};

const char *hg_ssrf_blocked_range(int family, const uint8_t *addr)
{
	size_t i;

	if (addr == NULL || (family != AF_INET && family != AF_INET6))
		return "unsupported address family";
	for (i = 0; i < sizeof(ssrf_ranges) / sizeof(ssrf_ranges[0]); i++) {
		const struct ssrf_range *r = &ssrf_ranges[i];

		if (r->family != family || !hg_prefix_equal(addr, r->net, r->prefix))
			continue;
		if (r->embed >= 0)
			return hg_ssrf_blocked_range(AF_INET, addr + r->embed);
		return r->name;
	}
	return NULL;
}

const char *hg_ssrf_addr_refused(const struct hg_ssrf_policy *p, int family, const uint8_t *addr)
{
	const char *range = hg_ssrf_blocked_range(family, addr);
	char text[INET6_ADDRSTRLEN];
	size_t i;

	if (range == NULL || p == NULL || p->n_allow == 0)
		return range;
	if (family != AF_INET && family != AF_INET6)
		return range;
	if (inet_ntop(family, addr, text, sizeof(text)) == NULL)
		return range;
	for (i = 0; i < p->n_allow; i++)
		if (hg_cidr_contains(&p->allow[i], text))
			return NULL;
	return range;
}

/* One part of an IPv4 literal: decimal, 0-prefixed octal or 0x hex (an
 * empty "0x" is 0, as URL parsers have it). Returns 0 and *v, or -1. */
static int ssrf_ipv4_part(const char *s, size_t n, uint64_t *v, int *plain)
{
	unsigned base = 10;
	uint64_t x = 0;
	size_t i = 0;

	*plain = 1;
	if (n == 0)
		return -1;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
		*plain = 0;
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		i = 1;
		*plain = 0;
	}
	for (; i < n; i++) {
		int d = hg_hex_digit((unsigned char)s[i]);

		if (d < 0 || (unsigned)d >= base)
			return -1;
		x = x * base + (unsigned)d;
		if (x > 0xffffffffULL)
			return -1;
	}
	*v = x;
	return 0;
}

/* 1 when the last dot-separated label of host[0, n) is a number in any of
 * the bases above: such a host is an IPv4 literal or invalid, never a name. */
static int ssrf_ends_in_number(const char *host, size_t n)
{
	size_t start = n, i;

	while (start > 0 && host[start - 1] != '.')
		start--;
	if (start == n)
		return 0;
	if (n - start >= 2 && host[start] == '0' &&
	    (host[start + 1] == 'x' || host[start + 1] == 'X')) {
		for (i = start + 2; i < n; i++)
			if (hg_hex_digit((unsigned char)host[i]) < 0)
				return 0;
		return 1;
	}
	for (i = start; i < n; i++)
		if (host[i] < '0' || host[i] > '9')
			return 0;
	return 1;
}

int hg_ssrf_ipv4_literal(const char *host, size_t len, uint8_t out[4], int *canonical)
{
	uint64_t parts[4], v;
	size_t nparts = 0, start = 0, i;
	int plain, all_plain = 1;

	*canonical = 0;
	if (len > 1 && host[len - 1] == '.')
		len--;
	if (len == 0 || !ssrf_ends_in_number(host, len))
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && host[i] != '.')
			continue;
		if (nparts == 4 || ssrf_ipv4_part(host + start, i - start, &v, &plain) != 0)
			return -1;
		all_plain &= plain;
		parts[nparts++] = v;
		start = i + 1;
	}
	for (i = 0; i + 1 < nparts; i++)
		if (parts[i] > 255)
			return -1;
	/* the last part fills the bytes the others left */
	v = parts[nparts - 1];
	if (nparts < 4 && v >= (1ULL << (8 * (5 - nparts))))
		return -1;
	if (nparts == 4 && v > 255)
		return -1;
	memset(out, 0, 4);
	for (i = 0; i + 1 < nparts; i++)
		out[i] = (uint8_t)parts[i];
	for (i = 3;; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
		if (i == nparts - 1)
			break;
	}
	/* "127.0.0.1." is the same literal written the usual way plus the
	 * root's dot, which curl drops itself */
	*canonical = nparts == 4 && all_plain;
	return 1;
}

/* A DNS name: labels of letters, digits, '-' and '_' (some providers use
 * it), 1-63 bytes each, at most one trailing dot. */
static int ssrf_valid_name(const char *h, size_t n)
{
	size_t label = 0, i;

	if (n == 0 || n > SSRF_MAX_HOST + 1)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

/* 1 for "localhost" and names under it (RFC 6761: they resolve to loopback). */
static int ssrf_is_localhost(const char *h, size_t n)
{
	static const char lh[] = "localhost";
	const size_t lhn = sizeof(lh) - 1;

	if (n > 0 && h[n - 1] == '.')
		n--;
	if (n < lhn || strncasecmp(h + n - lhn, lh, lhn) != 0)
		return 0;
	return n == lhn || h[n - lhn - 1] == '.';
}

/* A subscriber URL as ssrf_parse_url() reads it: what the policy judges. */
struct ssrf_url {
	int scheme_read; /* "http://" or "https://" was read, even if what follows is wrong */
	int https;
	char host[SSRF_MAX_HOST + 2]; /* as written, without an IPv6 literal's brackets */
	size_t hlen;
	enum { SSRF_HOST_NAME, SSRF_HOST_IPV4, SSRF_HOST_IPV6, SSRF_HOST_LOCALHOST } kind;
	uint8_t
	    addr[16];  /* the address of an IP literal (4 or 16 bytes), 127.0.0.1 for localhost */
	int canonical; /* an IPv4 literal written as four decimal numbers */
};

/* Judges an address found in the URL; HG_OK or HG_EINVAL with err set. */
static int ssrf_judge_addr(const struct hg_ssrf_policy *p, int family, const uint8_t *addr,
			   const char *shown, char *err, size_t errlen)
{
	const char *range = hg_ssrf_addr_refused(p, family, addr);
	char text[INET6_ADDRSTRLEN] = "";

	if (range == NULL)
		return HG_OK;
	inet_ntop(family, addr, text, sizeof(text));
	hg_errf(err, errlen,
		"url: the host %s is the address %s, in the blocked range %s; subscriber "
		"URLs must reach the public Internet (an operator may admit a range with "
		"egress_allow)",
		shown, text, range);
	return HG_EINVAL;
}

/* The host curl's URL parser finds in url, into out (brackets of an IPv6
 * literal removed). HG_OK or HG_EINVAL. */
static int ssrf_curl_host(const char *url, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int rc = HG_EINVAL;
	size_t n;

	if (u == NULL)
		return HG_ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL)
		goto out;
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if (strlen(host) >= outlen)
		goto out;
	hg_strlcpy(out, host, outlen);
	rc = HG_OK;
out:
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* Takes url apart into *u, with no policy applied: the scheme, the host
 * and what kind of host it is. Refuses what is no URL this gateway can
 * deliver to whatever the policy: bytes a URL may not hold, a scheme
 * other than http(s), user:password@, a malformed host or port, a host
 * curl's parser reads differently. HG_OK, or HG_EINVAL with err set; u is
 * filled as far as the URL was read (u->scheme_read). */
static int ssrf_parse_url(const char *url, size_t len, struct ssrf_url *u, char *err, size_t errlen)
{
	char copy[SSRF_MAX_URL + 1], curl_host[SSRF_MAX_HOST + 2];
	const char *rest, *auth_end, *h, *port = NULL;
	char *host = u->host;
	size_t i, hlen, slen;
	int lit;

	memset(u, 0, sizeof(*u));
	if (url == NULL || len == 0) {
		hg_errf(err, errlen, "url: expected an https:// URL, got an empty one");
		return HG_EINVAL;
	}
	if (len > SSRF_MAX_URL) {
		hg_errf(err, errlen, "url: longer than %d bytes", SSRF_MAX_URL);
		return HG_EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\') {
			hg_errf(err, errlen,
				"url: contains a space, a control character, a backslash or a "
				"non-ASCII byte; percent-encode the path and write the host in "
				"ASCII (punycode)");
			return HG_EINVAL;
		}
	}
	memcpy(copy, url, len);
	copy[len] = '\0';

	u->https = strncasecmp(copy, "https://", 8) == 0;
	if (!u->https && strncasecmp(copy, "http://", 7) != 0) {
		hg_errf(err, errlen, "url: expected an absolute https:// URL");
		return HG_EINVAL;
	}
	u->scheme_read = 1;
	slen = u->https ? 8 : 7;
	rest = copy + slen;
	auth_end = rest + strcspn(rest, "/?#");
	if (memchr(rest, '@', (size_t)(auth_end - rest)) != NULL) {
		hg_errf(err, errlen,
			"url: must not carry a user name or password (user:pass@host); "
			"verify deliveries with the signature instead");
		return HG_EINVAL;
	}
	h = rest;
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(auth_end - h));

		if (close == NULL) {
			hg_errf(err, errlen, "url: an IPv6 host needs a closing ']'");
			return HG_EINVAL;
		}
		hlen = (size_t)(close - h - 1);
		if (hlen == 0 || hlen >= sizeof(u->host)) {
			hg_errf(err, errlen, "url: the IPv6 host is not an address");
			return HG_EINVAL;
		}
		memcpy(host, h + 1, hlen);
		host[hlen] = '\0';
		if (close + 1 < auth_end && close[1] != ':') {
			hg_errf(err, errlen, "url: unexpected text after the IPv6 host");
			return HG_EINVAL;
		}
		if (close + 1 < auth_end)
			port = close + 2;
		if (strchr(host, '%') != NULL) {
			hg_errf(err, errlen,
				"url: an IPv6 zone (%%25...) names a local interface; subscriber "
				"URLs must reach the public Internet");
			return HG_EINVAL;
		}
		if (inet_pton(AF_INET6, host, u->addr) != 1) {
			hg_errf(err, errlen, "url: the IPv6 host [%s] is not an address", host);
			return HG_EINVAL;
		}
	} else {
		const char *colon = memchr(h, ':', (size_t)(auth_end - h));
		const char *hend = colon != NULL ? colon : auth_end;

		hlen = (size_t)(hend - h);
		if (colon != NULL)
			port = colon + 1;
		if (hlen == 0) {
			hg_errf(err, errlen, "url: has no host");
			return HG_EINVAL;
		}
		if (hlen >= sizeof(u->host) || !ssrf_valid_name(h, hlen)) {
			hg_errf(err, errlen,
				"url: the host is not a valid name (letters, digits, '-' and '.'; "
				"IDN hosts in punycode) nor an IP address");
			return HG_EINVAL;
		}
		memcpy(host, h, hlen);
		host[hlen] = '\0';
	}
	u->hlen = hlen;
	if (port != NULL) {
		unsigned long pv = 0;
		const char *q;

		if (port == auth_end) {
			hg_errf(err, errlen, "url: ':' must be followed by a port number");
			return HG_EINVAL;
		}
		for (q = port; q < auth_end; q++) {
			if (*q < '0' || *q > '9' || q - port >= 5) {
				hg_errf(err, errlen, "url: the port must be a number 1-65535");
				return HG_EINVAL;
			}
			pv = pv * 10 + (unsigned long)(*q - '0');
		}
		if (pv == 0 || pv > 65535) {
			hg_errf(err, errlen, "url: the port must be a number 1-65535");
			return HG_EINVAL;
		}
	}

	/* curl must see the same host we judge */
	if (ssrf_curl_host(copy, curl_host, sizeof(curl_host)) != HG_OK) {
		hg_errf(err, errlen, "url: not a URL this gateway can deliver to");
		return HG_EINVAL;
	}

	if (*h == '[') {
		uint8_t c6[16];

		if (inet_pton(AF_INET6, curl_host, c6) != 1 || memcmp(c6, u->addr, 16) != 0) {
			hg_errf(err, errlen, "url: the host is ambiguous");
			return HG_EINVAL;
		}
		u->kind = SSRF_HOST_IPV6;
		return HG_OK;
	}
	lit = hg_ssrf_ipv4_literal(host, hlen, u->addr, &u->canonical);
	if (lit < 0) {
		hg_errf(err, errlen, "url: the host %s ends in a number but is not an IPv4 address",
			host);
		return HG_EINVAL;
	}
	if (lit > 0) {
		u->kind = SSRF_HOST_IPV4;
		return HG_OK;
	}
	if (ssrf_is_localhost(host, hlen)) {
		static const uint8_t lo[4] = {127, 0, 0, 1};

		u->kind = SSRF_HOST_LOCALHOST;
		memcpy(u->addr, lo, sizeof(lo));
		return HG_OK;
	}
	/* a name: curl (which lower-cases nothing and may drop a trailing dot)
	 * must name the same host */
	u->kind = SSRF_HOST_NAME;
	slen = strlen(curl_host);
	if (slen > 0 && curl_host[slen - 1] == '.')
		curl_host[--slen] = '\0';
	if (hlen > 0 && host[hlen - 1] == '.')
		host[--hlen] = '\0';
	u->hlen = hlen;
	if (slen != hlen || strncasecmp(curl_host, host, hlen) != 0) {
		hg_errf(err, errlen, "url: the host is ambiguous");
		return HG_EINVAL;
	}
	return HG_OK;
}

/* The policy's first word on u, as soon as its scheme is read: plain http
 * only with allow_http. HG_OK or HG_EINVAL with err set. */
static int ssrf_judge_scheme(const struct hg_ssrf_policy *p, const struct ssrf_url *u, char *err,
			     size_t errlen)
{
	if (!u->https && (p == NULL || !p->allow_http)) {
		hg_errf(err, errlen,
			"url: must use https (this gateway does not deliver over plain http; "
			"an operator may set allow_http: true)");
		return HG_EINVAL;
	}
	return HG_OK;
}

/* The policy applied to a parsed URL: its scheme, then the address of an
 * IP literal or localhost (a name passes: the connect-time guard judges
 * what it resolves to), then the spelling of an IPv4 literal. HG_OK or
 * HG_EINVAL with err set. */
static int ssrf_judge_url(const struct hg_ssrf_policy *p, const struct ssrf_url *u, char *err,
			  size_t errlen)
{
	char text[INET_ADDRSTRLEN] = "";

	if (ssrf_judge_scheme(p, u, err, errlen) != HG_OK)
		return HG_EINVAL;
	switch (u->kind) {
	case SSRF_HOST_IPV6:
		return ssrf_judge_addr(p, AF_INET6, u->addr, u->host, err, errlen);
	case SSRF_HOST_LOCALHOST:
		return ssrf_judge_addr(p, AF_INET, u->addr, u->host, err, errlen);
	case SSRF_HOST_IPV4:
		if (ssrf_judge_addr(p, AF_INET, u->addr, u->host, err, errlen) != HG_OK)
			return HG_EINVAL;
		if (!u->canonical) {
			inet_ntop(AF_INET, u->addr, text, sizeof(text));
			hg_errf(err, errlen,
				"url: write the IPv4 host %s as four decimal numbers (%s)", u->host,
				text);
			return HG_EINVAL;
		}
		return HG_OK;
	case SSRF_HOST_NAME:
		break;
	}
	return HG_OK;
}

int hg_ssrf_check_url(const struct hg_ssrf_policy *p, const char *url, size_t len, char *err,
		      size_t errlen)
{
	struct ssrf_url u;
	int rc = ssrf_parse_url(url, len, &u, err, errlen);

	if (rc != HG_OK) {
		/* plain http is refused as that, whatever the rest of the URL
		 * got wrong: the scheme is judged as soon as it is read */
		if (u.scheme_read && ssrf_judge_scheme(p, &u, err, errlen) != HG_OK)
			return HG_EINVAL;
		return rc;
	}
	return ssrf_judge_url(p, &u, err, errlen);
}

/* ---- connect time ---- */

static void ssrf_refuse(struct hg_ssrf_guard *g, const char *addr, const char *range)
{
	g->refused = 1;
	g->range = range;
	hg_strlcpy(g->addr, addr != NULL ? addr : "", sizeof(g->addr));
}

curl_socket_t hg_ssrf_opensocket(void *guard, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct hg_ssrf_guard *g = guard;
	const uint8_t *addr = NULL;
	const char *range;
	char text[INET6_ADDRSTRLEN] = "";

	(void)purpose;
	if (a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in))
		addr = (const uint8_t *)&((const struct sockaddr_in *)(void *)&a->addr)->sin_addr;
	else if (a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6))
		addr = (const uint8_t *)&((const struct sockaddr_in6 *)(void *)&a->addr)->sin6_addr;
	if (addr == NULL) {
		ssrf_refuse(g, NULL, "unsupported address family");
		return CURL_SOCKET_BAD;
	}
	range = hg_ssrf_addr_refused(g->policy, a->family, addr);
	if (range != NULL) {
		inet_ntop(a->family, addr, text, sizeof(text));
		ssrf_refuse(g, text, range);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

int hg_ssrf_prereq(void *guard, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	struct hg_ssrf_guard *g = guard;
	uint8_t addr[16];
	const char *range;
	int family = AF_INET;

	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (primary_ip == NULL || inet_pton(AF_INET, primary_ip, addr) != 1) {
		family = AF_INET6;
		if (primary_ip == NULL || inet_pton(AF_INET6, primary_ip, addr) != 1) {
			ssrf_refuse(g, primary_ip, "unknown peer address");
			return CURL_PREREQFUNC_ABORT;
		}
	}
	range = hg_ssrf_addr_refused(g->policy, family, addr);
	if (range != NULL) {
		ssrf_refuse(g, primary_ip, range);
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

int hg_ssrf_curl_guard(CURL *h, struct hg_ssrf_guard *g)
{
	int http = g->policy != NULL && g->policy->allow_http;

	if (curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, hg_ssrf_opensocket) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, hg_ssrf_prereq) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PREREQDATA, g) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, http ? "http,https" : "https") != CURLE_OK)
		return HG_EINVAL;
	return HG_OK;
}
