/*
 * cidr.c — address ranges ("10.0.0.0/8", "2001:db8::/32", a bare address)
 * and the membership test used for trusted proxies and, later, the egress
 * allowlist.
 *
 * A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6 text
 * ("::ffff:192.0.2.1"), so the test compares the two families through the
 * mapping: an IPv4 range matches a mapped address, and an IPv6 range over
 * ::ffff:0:0/96 matches a plain IPv4 address. Otherwise a proxy listed as
 * 192.0.2.0/24 would stop being trusted the day the listener binds [::].
 *
 * Hot path: hg_cidr_contains() runs per request; it only parses text with
 * inet_pton into stack buffers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"
#include "util/util.h"

#define CIDR_MAX_TEXT 64 /* longer than any address plus "/128" */

static const uint8_t cidr_v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses an address in either family into 16 bytes; IPv4 uses the first 4.
 * Returns AF_INET, AF_INET6 or 0. */
static int cidr_addr_parse(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, text, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, text, out) == 1)
		return AF_INET6;
	return 0;
}

int hg_cidr_parse(const char *s, struct hg_cidr *out)
{
	char text[CIDR_MAX_TEXT];
	const char *slash, *p;
	int family, max, prefix = 0, i;
	uint8_t addr[16];
	size_t alen;

	if (s == NULL || strlen(s) >= sizeof(text))
		return HG_EINVAL;
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	memcpy(text, s, alen);
	text[alen] = '\0';
	family = cidr_addr_parse(text, addr);
	if (family == 0)
		return HG_EINVAL;
	max = family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		prefix = max;
	} else {
		/* 1-3 plain digits: no sign, no spaces, no "0x" */
		p = slash + 1;
		if (p[0] == '\0' || strlen(p) > 3)
			return HG_EINVAL;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return HG_EINVAL;
			prefix = prefix * 10 + (*p - '0');
		}
		if (prefix > max)
			return HG_EINVAL;
	}
	/* Host bits below the prefix are cleared, as most tools do, so
	 * "192.0.2.1/24" means 192.0.2.0/24. */
	for (i = prefix; i < max; i++)
		addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
	memset(out, 0, sizeof(*out));
	out->family = family;
	memcpy(out->addr, addr, sizeof(addr));
	out->prefix = prefix;
	return HG_OK;
}

int hg_cidr_contains(const struct hg_cidr *c, const char *ip_text)
{
	uint8_t addr[16], mapped[16];
	int family;

	if (c == NULL || ip_text == NULL)
		return 0;
	family = cidr_addr_parse(ip_text, addr);
	if (family == 0)
		return 0;
	if (family == c->family)
		return hg_prefix_equal(addr, c->addr, c->prefix);
	if (c->family == AF_INET) {
		/* an IPv6 client: only its IPv4-mapped form can be inside */
		if (memcmp(addr, cidr_v4_mapped, sizeof(cidr_v4_mapped)) != 0)
			return 0;
		return hg_prefix_equal(addr + 12, c->addr, c->prefix);
	}
	/* an IPv4 client against an IPv6 range: compare its mapped form */
	memcpy(mapped, cidr_v4_mapped, sizeof(cidr_v4_mapped));
	memcpy(mapped + 12, addr, 4);
	return hg_prefix_equal(mapped, c->addr, c->prefix);
}
