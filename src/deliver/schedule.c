/*
 * schedule.c — when the next attempt of a delivery is made: the retry
 * policy's wait, its jitter, and the Retry-After an endpoint may answer
 * with (deliver.h states the rules).
 *
 * Jitter spreads the retries of many deliveries that failed together (an
 * endpoint that was down) so they do not all come back at the same
 * instant. It needs no secrecy, only independence between processes, so a
 * fast per-thread PRNG (xoshiro256**) seeded from the CSPRNG serves; no
 * lock is shared by the threads that route messages and the engine.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config/config.h"
#include "deliver/deliver.h"

static _Thread_local uint64_t rng_s[4];
static _Thread_local int rng_seeded;

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* The next 64 bits of xoshiro256** (Blackman and Vigna). */
static uint64_t rng_next(void)
{
	uint64_t result = rotl(rng_s[1] * 5, 7) * 9;
	uint64_t t = rng_s[1] << 17;

	rng_s[2] ^= rng_s[0];
	rng_s[3] ^= rng_s[1];
	rng_s[1] ^= rng_s[2];
	rng_s[0] ^= rng_s[3];
	rng_s[2] ^= t;
	rng_s[3] = rotl(rng_s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static double rng_uniform(void)
{
	if (!rng_seeded) {
		/* Without the CSPRNG, time and pid still keep processes apart;
		 * jitter protects the endpoint, not a secret. */
		if (hg_random_bytes(rng_s, sizeof(rng_s)) != HG_OK) {
			rng_s[0] = (uint64_t)hg_mono_us();
			rng_s[1] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
			rng_s[2] = (uint64_t)hg_now_ms();
			rng_s[3] = 0x2545f4914f6cdd1dull;
		}
		if ((rng_s[0] | rng_s[1] | rng_s[2] | rng_s[3]) == 0)
			rng_s[0] = 1; /* the one state xoshiro never leaves */
		rng_seeded = 1;
	}
	return (double)(rng_next() >> 11) * 0x1.0p-53;
}

int64_t hg_deliver_delay_ms(const struct hg_retry *r, size_t n)
{
	double d, cap = (double)r->max_delay_ms;

	if (n >= r->attempts)
		return -1;
	if (r->schedule_ms != NULL)
		d = (double)r->schedule_ms[n];
	else if (n == 0)
		d = 0;
	else
		d = (double)r->base_ms * pow(r->factor, (double)(n - 1));
	if (!(d <= cap)) /* also an overflow to infinity */
		d = cap;
	if (r->jitter > 0 && d > 0)
		d += d * r->jitter * (2 * rng_uniform() - 1);
	if (d > cap)
		d = cap;
	if (d < 0)
		d = 0;
	return (int64_t)llround(d);
}

int hg_deliver_retry_after_ms(const char *text, size_t len, int64_t now_ms, int64_t *delay_ms)
{
	char buf[64];
	size_t i;
	time_t t;
	int64_t s = 0;

	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return HG_EINVAL;
	if (strspn(text, "0123456789") >= len) {
		if (len > 12) /* over 30 000 years: not a delay anyone means */
			return HG_EINVAL;
		for (i = 0; i < len; i++)
			s = s * 10 + (text[i] - '0');
		*delay_ms = s * 1000;
		return HG_OK;
	}
	/* Every HTTP date form (IMF-fixdate, RFC 850, asctime) starts with
	 * the day's name; curl_getdate() reads all three. */
	if (!isalpha((unsigned char)text[0]))
		return HG_EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	t = curl_getdate(buf, NULL);
	if (t == (time_t)-1)
		return HG_EINVAL;
	*delay_ms = (int64_t)t * 1000 > now_ms ? (int64_t)t * 1000 - now_ms : 0;
	return HG_OK;
}
