/*
 * fetch.c — the media fetcher: one thread per daemon, blocking libcurl
 * transfers (never on an event loop), one job at a time.
 *
 * A job is claimed with a lease (HG_MEDIA_LEASE_MS, renewed while a
 * transfer makes progress: a node that dies mid-download leaves it to be
 * claimed again a minute later, by whichever node); then
 *   1. GET {graph_url}/{media-id} with the Bearer token: url, mime_type,
 *      sha256, file_size (graph_url is configuration, not guarded);
 *   2. GET url with the same token through the SSRF guard (the URL is a
 *      remote answer), streamed into the media dir, aborted past max_size,
 *      hashed as it comes;
 *   3. 401/403/404/410 on the download: the URL expired or was used; ask
 *      Graph for a fresh one (up to HG_MEDIA_URL_RENEWALS times);
 *   4. SHA-256 compared with the payload's (or Graph's) value, hex or
 *      base64; the file renamed into place; the scan command run.
 * A transient failure (network, 5xx, 429) is tried again with a doubling
 * backoff, at most HG_MEDIA_MAX_ATTEMPTS times; then, and at once for a
 * permanent one (refused address, too large, wrong hash, 4xx from Graph),
 * the job is failed with the reason recorded.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "deliver/ssrf_curl.h"
#include "media/media_internal.h"
#include "util/util.h"

#define HG_MEDIA_LEASE_MS      (60 * 1000) /* renewed every third of it while working */
#define HG_MEDIA_MAX_ATTEMPTS  8
#define HG_MEDIA_BACKOFF_MS    1000
#define HG_MEDIA_BACKOFF_MAX   (5 * 60 * 1000)
#define HG_MEDIA_URL_RENEWALS  3
#define HG_MEDIA_GRAPH_TIMEOUT 30000L
#define HG_MEDIA_GRAPH_MAX     (64 * 1024) /* bytes of a Graph answer */
#define HG_MEDIA_IDLE_MS       500         /* how often an idle fetcher looks */
#ifndef HG_VERSION
#define HG_VERSION "0.0.0"
#endif

struct hg_media_fetcher {
	struct hg_config_live *live;
	char *uri;
	struct hg_store *st;
	pthread_t thread;
	atomic_int stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* What one job's try came to. */
enum fetch_verdict { FETCH_STORED, FETCH_RETRY, FETCH_FAILED, FETCH_QUARANTINED };

struct fetch_job {
	struct hg_media_fetcher *f;
	const struct hg_media_config *mc;
	const struct hg_config *cfg;
	struct hg_store_media *m;
	char auth[1024]; /* "Authorization: Bearer ..." */
	char url[2048];  /* the download URL Graph gave */
	char graph_sha[HG_STORE_MEDIA_TEXT_MAX + 1];
	char error[256];
	int64_t renewed_ms; /* when the lease was last moved on */
};

/* Moves the job's lease on once a third of it has passed. */
static void lease_renew(struct fetch_job *j)
{
	int64_t now = hg_now_ms();

	if (now - j->renewed_ms < HG_MEDIA_LEASE_MS / 3)
		return;
	j->renewed_ms = now;
	j->m->next_try_ms = now + HG_MEDIA_LEASE_MS;
	if (hg_store_media_update(j->f->st, j->m, now) != HG_OK)
		hg_log(HG_LOG_WARN, "media lease not renewed", "id", HG_LS(j->m->id), NULL);
}

/* ---- 1. the Graph API ---- */

struct graph_buf {
	char data[HG_MEDIA_GRAPH_MAX + 1];
	size_t len;
	int over;
};

static size_t graph_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct graph_buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > HG_MEDIA_GRAPH_MAX) {
		b->over = 1;
		return 0;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return n;
}

static int abort_on_stop(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct fetch_job *j = arg;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	if (atomic_load(&j->f->stopping))
		return 1;
	lease_renew(j);
	return 0;
}

static int set_common(CURL *h, struct fetch_job *j, struct curl_slist *hdr, char *errbuf)
{
	return curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
		       curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
		       curl_easy_setopt(h, CURLOPT_USERAGENT, "hookgate/" HG_VERSION) != CURLE_OK ||
		       curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
		       curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
		       curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abort_on_stop) != CURLE_OK ||
		       curl_easy_setopt(h, CURLOPT_XFERINFODATA, j) != CURLE_OK
		   ? HG_EINVAL
		   : HG_OK;
}

/* Asks Graph where the file is. FETCH_STORED means "j->url is set". */
static enum fetch_verdict graph_lookup(struct fetch_job *j)
{
	const struct hg_media_config *mc = j->mc;
	struct curl_slist *hdr = curl_slist_append(NULL, j->auth);
	char url[1024], errbuf[CURL_ERROR_SIZE] = "";
	struct graph_buf *b = calloc(1, sizeof(*b));
	enum fetch_verdict v = FETCH_RETRY;
	json_t *root = NULL;
	const char *s;
	long code = 0;
	CURLcode cc;
	CURL *h = curl_easy_init();

	if (h == NULL || hdr == NULL || b == NULL) {
		snprintf(j->error, sizeof(j->error), "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/%s", mc->graph_url, j->m->graph_id);
	if (set_common(h, j, hdr, errbuf) != HG_OK ||
	    curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, HG_MEDIA_GRAPH_TIMEOUT) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, graph_body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, b) != CURLE_OK) {
		snprintf(j->error, sizeof(j->error), "cannot set up the Graph request");
		goto out;
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK) {
		snprintf(j->error, sizeof(j->error), "Graph API: %.200s",
			 b->over     ? "answer too large"
			 : errbuf[0] ? errbuf
				     : curl_easy_strerror(cc));
		goto out;
	}
	if (code != 200) {
		snprintf(j->error, sizeof(j->error), "Graph API answered HTTP %ld", code);
		/* a bad id or token does not get better by asking again */
		if (code >= 400 && code < 500 && code != 429 && code != 408)
			v = FETCH_FAILED;
		goto out;
	}
	b->data[b->len] = '\0';
	root = json_loadb(b->data, b->len, 0, NULL);
	s = json_string_value(json_object_get(root, "url"));
	if (s == NULL || strlen(s) >= sizeof(j->url)) {
		snprintf(j->error, sizeof(j->error), "Graph API answer has no usable url");
		goto out;
	}
	hg_strlcpy(j->url, s, sizeof(j->url));
	s = json_string_value(json_object_get(root, "mime_type"));
	if (s != NULL && strlen(s) <= HG_STORE_MEDIA_TEXT_MAX)
		hg_strlcpy(j->m->mime, s, sizeof(j->m->mime));
	s = json_string_value(json_object_get(root, "sha256"));
	if (s != NULL)
		hg_strlcpy(j->graph_sha, s, sizeof(j->graph_sha));
	{
		json_t *fs = json_object_get(root, "file_size");
		long long size = json_is_integer(fs)  ? json_integer_value(fs)
				 : json_is_string(fs) ? strtoll(json_string_value(fs), NULL, 10)
						      : 0;
		if (size > mc->max_size) {
			snprintf(j->error, sizeof(j->error),
				 "file of %lld bytes is larger than max_size (%lld)", size,
				 (long long)mc->max_size);
			v = FETCH_FAILED;
			goto out;
		}
	}
	v = FETCH_STORED;
out:
	json_decref(root);
	curl_slist_free_all(hdr);
	if (h != NULL)
		curl_easy_cleanup(h);
	free(b);
	return v;
}

/* ---- 2. the download ---- */

struct download {
	struct fetch_job *j;
	struct hg_media_writer w;
	EVP_MD_CTX *md;
	int64_t size;
	int too_big, write_failed;
	long code;
};

static size_t download_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct download *d = arg;
	size_t n = size * nmemb;

	if (d->size + (int64_t)n > d->j->mc->max_size) {
		d->too_big = 1;
		return 0; /* aborts the transfer: nothing more is read */
	}
	d->size += (int64_t)n;
	if (EVP_DigestUpdate(d->md, p, n) != 1 ||
	    hg_media_writer_put(&d->w, (const uint8_t *)p, n) != HG_OK) {
		d->write_failed = 1;
		return 0;
	}
	return n;
}

/* The hash as Meta may write it: lower-case hex or base64 of the digest. */
static int sha_matches(const char *want, const uint8_t dig[32])
{
	static const char hex[] = "0123456789abcdef";
	char h[65], b64[64];
	int i;

	for (i = 0; i < 32; i++) {
		h[2 * i] = hex[dig[i] >> 4];
		h[2 * i + 1] = hex[dig[i] & 15];
	}
	h[64] = '\0';
	EVP_EncodeBlock((unsigned char *)b64, dig, 32);
	return strcasecmp(want, h) == 0 || strcmp(want, b64) == 0;
}

static enum fetch_verdict download(struct fetch_job *j, int *renew)
{
	struct hg_ssrf_policy policy = {.allow_http = j->cfg->allow_http,
					.allow = j->cfg->egress_allow,
					.n_allow = j->cfg->n_egress_allow};
	struct hg_ssrf_guard guard = {.policy = &policy};
	struct curl_slist *hdr = curl_slist_append(NULL, j->auth);
	struct download d = {.j = j};
	char errbuf[CURL_ERROR_SIZE] = "";
	enum fetch_verdict v = FETCH_RETRY;
	uint8_t dig[32];
	const char *want;
	CURLcode cc;
	CURL *h = curl_easy_init();
	int rc;

	*renew = 0;
	d.md = EVP_MD_CTX_new();
	if (h == NULL || hdr == NULL || d.md == NULL ||
	    EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) != 1) {
		snprintf(j->error, sizeof(j->error), "out of memory");
		goto out;
	}
	rc = hg_media_writer_open(&d.w, j->mc, hg_store_keyring(), j->m->id);
	if (rc != HG_OK) {
		snprintf(j->error, sizeof(j->error), "cannot write into %s: %s", j->mc->dir,
			 hg_strerror(rc));
		hg_media_writer_abort(&d.w);
		goto out;
	}
	if (set_common(h, j, hdr, errbuf) != HG_OK ||
	    curl_easy_setopt(h, CURLOPT_URL, j->url) != CURLE_OK ||
	    hg_ssrf_curl_guard(h, &guard) != HG_OK ||
	    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->mc->max_size) !=
		CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, download_body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &d) != CURLE_OK) {
		snprintf(j->error, sizeof(j->error), "cannot set up the download");
		hg_media_writer_abort(&d.w);
		goto out;
	}
	/* FAILONERROR: an error answer's body never reaches the file */
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &d.code);
	if (cc != CURLE_OK) {
		hg_media_writer_abort(&d.w);
		if (guard.refused) {
			snprintf(j->error, sizeof(j->error),
				 "download URL refused: blocked address %s (%s)", guard.addr,
				 guard.range != NULL ? guard.range : "blocked range");
			v = FETCH_FAILED;
		} else if (d.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			snprintf(j->error, sizeof(j->error),
				 "file is larger than max_size (%lld bytes)",
				 (long long)j->mc->max_size);
			v = FETCH_FAILED;
		} else if (d.code == 401 || d.code == 403 || d.code == 404 || d.code == 410) {
			snprintf(j->error, sizeof(j->error), "download URL answered HTTP %ld",
				 d.code);
			*renew = 1;
		} else if (d.code >= 400) {
			snprintf(j->error, sizeof(j->error), "download answered HTTP %ld", d.code);
		} else {
			snprintf(j->error, sizeof(j->error), "download: %.200s",
				 d.write_failed ? "cannot write the file"
				 : errbuf[0]    ? errbuf
						: curl_easy_strerror(cc));
		}
		goto out;
	}
	EVP_DigestFinal_ex(d.md, dig, NULL);
	want = j->m->sha256[0] != '\0' ? j->m->sha256 : j->graph_sha;
	if (want[0] != '\0' && !sha_matches(want, dig)) {
		hg_media_writer_abort(&d.w);
		snprintf(j->error, sizeof(j->error),
			 "SHA-256 of the file does not match the sha256 "
			 "Meta gave");
		v = FETCH_FAILED;
		goto out;
	}
	rc = hg_media_writer_finish(&d.w);
	if (rc != HG_OK) {
		snprintf(j->error, sizeof(j->error), "cannot keep the file in %s", j->mc->dir);
		goto out;
	}
	j->m->size = d.size;
	hg_strlcpy(j->m->file, j->m->id, sizeof(j->m->file));
	hg_strlcpy(j->m->key_id, d.w.key_id, sizeof(j->m->key_id));
	v = FETCH_STORED;
out:
	EVP_MD_CTX_free(d.md);
	curl_slist_free_all(hdr);
	if (h != NULL)
		curl_easy_cleanup(h);
	return v;
}

/* ---- one job ---- */

static enum fetch_verdict fetch_one(struct fetch_job *j)
{
	enum fetch_verdict v;
	int renew = 0, i;

	if (j->mc->token.len + 32 > sizeof(j->auth)) {
		snprintf(j->error, sizeof(j->error), "access token too long");
		return FETCH_FAILED;
	}
	snprintf(j->auth, sizeof(j->auth), "Authorization: Bearer %.*s", (int)j->mc->token.len,
		 (const char *)j->mc->token.bytes);
	for (i = 0; i <= HG_MEDIA_URL_RENEWALS; i++) {
		v = graph_lookup(j);
		if (v != FETCH_STORED)
			return v;
		v = download(j, &renew);
		if (!renew || atomic_load(&j->f->stopping))
			break;
	}
	if (v != FETCH_STORED)
		return v;
	if (j->mc->scan != NULL) {
		char why[256];
		int rc = hg_media_scan(j->mc, j->m, why, sizeof(why));

		if (rc == HG_EAUTH) {
			hg_strlcpy(j->error, why, sizeof(j->error));
			return FETCH_QUARANTINED;
		}
		if (rc != HG_OK) {
			hg_strlcpy(j->error, why, sizeof(j->error));
			return FETCH_RETRY;
		}
	}
	return FETCH_STORED;
}

static const struct hg_source *find_source(const struct hg_config *cfg, const char *name)
{
	return hg_config_find_source(cfg, name, strlen(name));
}

static int cfg_has_media(const struct hg_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_sources; i++)
		if (cfg->sources[i].media != NULL)
			return 1;
	return 0;
}

/* Claims and works one job: 1 when there was one. Without a source with
 * media: it does not even look (no write transaction every idle turn). */
static int fetch_next(struct hg_media_fetcher *f)
{
	struct hg_config *cfg = hg_config_get(f->live, NULL);
	struct hg_store_media m;
	struct fetch_job *j = NULL;
	const struct hg_source *src;
	enum fetch_verdict v = FETCH_FAILED;
	int64_t now = hg_now_ms(), wait;
	int rc, worked = 0;

	if (!cfg_has_media(cfg))
		goto out;
	rc = hg_store_media_claim(f->st, now, now + HG_MEDIA_LEASE_MS, &m);
	if (rc != HG_OK)
		goto out;
	worked = 1;
	j = calloc(1, sizeof(*j));
	src = find_source(cfg, m.source);
	if (j == NULL) {
		goto out; /* the lease brings it back */
	} else if (src == NULL || src->media == NULL) {
		snprintf(j->error, sizeof(j->error), "source %s has no media: configured",
			 m.source);
	} else {
		j->f = f;
		j->renewed_ms = now;
		j->mc = src->media;
		j->cfg = cfg;
		j->m = &m;
		v = fetch_one(j);
	}
	if (v == FETCH_RETRY && atomic_load(&f->stopping))
		goto out; /* stopped mid-way: the lease brings it back after restart */
	m.error[0] = '\0';
	if (v == FETCH_RETRY && m.attempts >= HG_MEDIA_MAX_ATTEMPTS)
		v = FETCH_FAILED;
	switch (v) {
	case FETCH_STORED:
		m.state = HG_MEDIA_STORED;
		break;
	case FETCH_QUARANTINED:
		m.state = HG_MEDIA_QUARANTINED;
		hg_strlcpy(m.error, j->error, sizeof(m.error));
		break;
	case FETCH_FAILED:
		m.state = HG_MEDIA_FAILED;
		hg_strlcpy(m.error, j->error, sizeof(m.error));
		break;
	case FETCH_RETRY:
		hg_strlcpy(m.error, j->error, sizeof(m.error));
		wait = (int64_t)HG_MEDIA_BACKOFF_MS << (m.attempts < 20 ? m.attempts - 1 : 19);
		m.next_try_ms =
		    hg_now_ms() + (wait < HG_MEDIA_BACKOFF_MAX ? wait : HG_MEDIA_BACKOFF_MAX);
		break;
	}
	rc = hg_store_media_update(f->st, &m, hg_now_ms());
	hg_log(v == FETCH_STORED ? HG_LOG_INFO : HG_LOG_WARN, "media", "id", HG_LS(m.id), "source",
	       HG_LS(m.source), "state", HG_LS(hg_store_media_state_name(m.state)), "attempt",
	       HG_LI(m.attempts), "bytes", HG_LI(m.size), "error", HG_LS(m.error), "recorded",
	       HG_LS(rc == HG_OK ? "yes" : "no"), NULL);
out:
	free(j);
	hg_config_put(cfg);
	return worked;
}

static void *fetcher_main(void *arg)
{
	struct hg_media_fetcher *f = arg;
	sigset_t all;
	struct timespec ts;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&f->stopping)) {
		if (f->st == NULL)
			hg_store_heal(&f->st, f->uri, "media fetcher");
		if (f->st != NULL && fetch_next(f))
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += HG_MEDIA_IDLE_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&f->mu);
		if (!atomic_load(&f->stopping))
			pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

int hg_media_fetcher_start(struct hg_config_live *live, const char *store_uri,
			   struct hg_media_fetcher **out)
{
	struct hg_media_fetcher *f;
	char err[256];

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return HG_ENOMEM;
	f->live = live;
	f->uri = strdup(store_uri);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (f->uri == NULL || hg_store_open(store_uri, &f->st, err, sizeof(err)) != HG_OK ||
	    pthread_create(&f->thread, NULL, fetcher_main, f) != 0) {
		hg_log(HG_LOG_ERROR, "media fetcher cannot start", NULL);
		if (f->st != NULL)
			hg_store_close(f->st);
		free(f->uri);
		free(f);
		return HG_EIO;
	}
	*out = f;
	return HG_OK;
}

void hg_media_fetcher_stop(struct hg_media_fetcher *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	atomic_store(&f->stopping, 1);
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	if (f->st != NULL)
		hg_store_close(f->st);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f->uri);
	free(f);
}
