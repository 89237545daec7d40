/*
 * inbound.c — the provider-facing handlers: /in/{source} (Meta's GET
 * handshake; POST mTLS -> verify -> post-handshake -> rate limit -> dedupe
 * -> group commit -> answer), /healthz and /readyz.
 *
 * Every refusal that says something about who is calling (no client
 * certificate, a bad signature, a replay, a rate limit) is audit-logged
 * with the source, the client address and the reason; never the body or a
 * header value. Refusals are summed per window (hg_ingest_refusal), so an
 * unauthenticated flood costs a row per window, not a row per request.
 *
 * Proxies: a request from an address in trusted_proxies is believed about
 * its client (the first X-Forwarded-For address) and about the client
 * certificate it verified (X-SSL-Client-* headers, as nginx sets them).
 * From any other address those headers are ignored: anyone can send them.
 *
 * Routing: the endpoints a message goes to are chosen here, from the
 * source's routes and the body already in hand, so its deliveries are
 * stored in the same transaction as the message itself.
 *
 * Stats: every POST that reaches a source is counted (received), and so is
 * how it ended (accepted, duplicate, invalid signature, rate limited) and,
 * for an acknowledged one, the time from the complete request to the
 * answer (stats.h; lock-free atomic adds).
 *
 * Hot path: runs on an event-loop thread. It verifies on the raw bytes the
 * loop already holds, copies the request into one heap item for the writer
 * and returns; the answer is sent from the writer's done() callback after
 * the commit, so nothing is acknowledged before it is durable.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "media/media.h"
#include "stats/stats.h"
#include "store/store.h"
#include "util/jsonpath.h"
#include "verify/verify.h"

#define HG_MAX_CHALLENGE      512
#define HG_MAX_STORED_HEADERS (16 * 1024)
#define HG_MAX_ADDR           64 /* an address as text, as in struct hg_http_req.peer */
#define HG_AUDIT_WHO_MAX      (2 * HG_MAX_ADDR + 8) /* "client via proxy" */

struct inbound_item {
	struct hg_ingest_item it;
	struct hg_http_pending *pending;
	char **keys;
	size_t nkeys;
	char *source;
	char *content_type;
	struct hg_buf headers; /* JSON object of the request's headers */
	uint8_t *body;
	struct hg_store_target *targets; /* its deliveries; names belong to cfg */
	struct hg_media_refs media;      /* its media jobs (sources with media:) */
	struct hg_config *cfg; /* a reference to the snapshot the request was taken under */
	struct hg_stats *stats;
	int64_t start_us;              /* when the request was complete (hg_mono_us) */
	char client[HG_AUDIT_WHO_MAX]; /* for its audit.received row */
	char request_id[HG_REQUEST_ID_MAX + 1];
};

static const char *const json_content_type = "application/json";

/* Headers that carry credentials of the caller are never stored. */
static int header_is_secret(const char *name, size_t len)
{
	static const char *const deny[] = {"authorization", "proxy-authorization", "cookie", NULL};
	for (const char *const *d = deny; *d != NULL; ++d)
		if (strlen(*d) == len && memcmp(*d, name, len) == 0)
			return 1;
	return 0;
}

/* The headers a message is stored with: all but credentials, which are the
 * caller's (header_is_secret) or, for a `token` source, the shared token in
 * its header. */
struct stored_headers {
	struct hg_buf *b;
	const char *token_header; /* lower-case name, or NULL */
};

static void add_header_json(const char *name, size_t nlen, const char *val, size_t vlen, void *arg)
{
	struct stored_headers *sh = arg;
	struct hg_buf *b = sh->b;
	if (header_is_secret(name, nlen) || b->len + nlen + vlen + 8 > HG_MAX_STORED_HEADERS)
		return;
	if (sh->token_header != NULL && strlen(sh->token_header) == nlen &&
	    strncasecmp(sh->token_header, name, nlen) == 0)
		return;
	hg_buf_puts(b, b->len == 1 ? "" : ",");
	hg_buf_json_str(b, name, nlen);
	hg_buf_puts(b, ":");
	hg_buf_json_str(b, val, vlen);
}

static void item_free(struct inbound_item *item)
{
	hg_ingest_keys_free(item->keys, item->nkeys);
	free(item->source);
	free(item->content_type);
	hg_buf_free(&item->headers);
	free(item->body);
	free(item->targets);
	hg_media_refs_free(&item->media);
	hg_config_put(item->cfg);
	free(item);
}

/* GET /in/{source}: Meta's subscription handshake. */
static void handshake(struct hg_http_req *req, const struct hg_source *src)
{
	char mode[32], token[256], challenge[HG_MAX_CHALLENGE];
	long tl, cl;

	if (hg_query_get(req->query, req->query_len, "hub.mode", mode, sizeof(mode)) < 0 ||
	    strcmp(mode, "subscribe") != 0) {
		hg_http_respond_error(req, 403, src->name, "hub.mode must be subscribe");
		return;
	}
	tl = hg_query_get(req->query, req->query_len, "hub.verify_token", token, sizeof(token));
	cl =
	    hg_query_get(req->query, req->query_len, "hub.challenge", challenge, sizeof(challenge));
	if (src->verify_token.bytes == NULL) {
		hg_http_respond_error(req, 403, src->name,
				      "no verify token is configured for this source");
		return;
	}
	if (tl < 0 || (size_t)tl != src->verify_token.len ||
	    !hg_ct_equal(token, src->verify_token.bytes, (size_t)tl)) {
		hg_http_respond_error(req, 403, src->name, "verify token mismatch");
		return;
	}
	if (cl < 0) {
		hg_http_respond_error(req, 400, src->name, "hub.challenge missing or too long");
		return;
	}
	struct hg_http_resp resp = {.status = 200,
				    .content_type = "text/plain; charset=utf-8",
				    .body = challenge,
				    .body_len = (size_t)cl,
				    .log_source = src->name,
				    .log_outcome = "handshake"};
	hg_http_respond(req, &resp);
}

/* Runs on the writer thread once the batch holding this item committed
 * (or failed): only now may the provider hear "accepted". */
static void on_stored(struct hg_ingest_item *it)
{
	struct inbound_item *item = (struct inbound_item *)it;
	char body[128];
	struct hg_http_resp resp = {
	    .content_type = json_content_type, .body = body, .log_source = item->source};

	if (it->status != HG_OK) {
		resp.status = 503;
		resp.body_len =
		    (size_t)snprintf(body, sizeof(body), "{\"error\":\"store unavailable\"}\n");
		resp.log_outcome = "error";
		resp.log_reason = "store unavailable";
	} else {
		int dup = it->msg.outcome == HG_STORE_DUPLICATE;
		int64_t now_us = hg_mono_us(), now_ms = hg_now_ms();
		size_t sl = strlen(item->source);

		hg_stats_count(item->stats, item->source, sl,
			       dup ? HG_STAT_DUPLICATES : HG_STAT_ACCEPTED, now_ms);
		hg_stats_latency(item->stats, item->source, sl, now_us - item->start_us, now_ms);
		resp.status = 200;
		resp.log_outcome = dup ? "duplicate" : "accepted";
		resp.log_id = it->msg.first_id;
		resp.body_len =
		    (size_t)snprintf(body, sizeof(body), "{\"status\":\"%s\",\"id\":\"%s\"}\n",
				     resp.log_outcome, it->msg.first_id);
	}
	hg_http_pending_respond(item->pending, &resp);
	item_free(item);
}

static char *dup_span(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* Builds the URL the provider called from public_url, the source's own or
 * the global one (Twilio signs it). */
static char *public_url_of(const struct hg_config *cfg, const struct hg_source *src,
			   const struct hg_http_req *req, size_t *len)
{
	const char *base = src->public_url != NULL ? src->public_url : cfg->public_url;

	if (base == NULL)
		return NULL;
	struct hg_buf b = {0};
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	hg_buf_append(&b, base, bl);
	hg_buf_append(&b, req->path, req->path_len);
	if (req->query != NULL) {
		hg_buf_puts(&b, "?");
		hg_buf_append(&b, req->query, req->query_len);
	}
	*len = b.len;
	return (char *)b.data; /* NULL when an append failed (util.h) */
}

static int peer_is_trusted(const struct hg_config *cfg, const struct hg_http_req *req)
{
	for (size_t i = 0; i < cfg->n_trusted_proxies; ++i)
		if (hg_cidr_contains(&cfg->trusted_proxies[i], req->peer))
			return 1;
	return 0;
}

/* Trims spaces and tabs around s[0..*n) in place of the pointer. */
static const char *trim(const char *s, size_t *n)
{
	while (*n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*n)--;
	}
	while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
		(*n)--;
	return s;
}

/* The client's address into out: the peer, or for a trusted proxy the first
 * X-Forwarded-For entry when it is an address. *via gets 1 in that case. */
static void client_address(const struct hg_http_req *req, int trusted, char out[HG_MAX_ADDR],
			   int *via)
{
	uint8_t scratch[16];
	const char *xff, *first;
	size_t n = 0;

	*via = 0;
	hg_strlcpy(out, req->peer, HG_MAX_ADDR);
	if (!trusted)
		return;
	xff = hg_http_header(req, "x-forwarded-for", &n);
	if (xff == NULL)
		return;
	first = memchr(xff, ',', n);
	n = first != NULL ? (size_t)(first - xff) : n;
	xff = trim(xff, &n);
	if (n == 0 || n >= HG_MAX_ADDR)
		return;
	char addr[HG_MAX_ADDR];
	memcpy(addr, xff, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, scratch) != 1 && inet_pton(AF_INET6, addr, scratch) != 1)
		return;
	hg_strlcpy(out, addr, HG_MAX_ADDR);
	*via = 1;
}

/* 1 when the RFC 4514 DN (as nginx's $ssl_client_s_dn writes it:
 * "CN=name,O=Org\, Inc.,C=US") has a CN attribute whose unescaped value is
 * name (case-insensitively, like a DNS name). Attributes split at unescaped
 * ',' or '+'; "\X" stands for X and "\hh" for that byte. */
static int dn_has_cn(const char *dn, size_t len, const char *name)
{
	char val[256];
	size_t i = 0, v;

	while (i < len) {
		size_t start = i;
		int is_cn;

		while (start < len && dn[start] == ' ')
			start++;
		is_cn = len - start > 3 && strncasecmp(dn + start, "CN=", 3) == 0;
		i = is_cn ? start + 3 : start;
		v = 0;
		for (; i < len && dn[i] != ',' && dn[i] != '+'; i++) {
			char c = dn[i];
			if (c == '\\' && i + 1 < len) {
				if (i + 2 < len && hg_hex_digit(dn[i + 1]) >= 0 &&
				    hg_hex_digit(dn[i + 2]) >= 0) {
					c = (char)(hg_hex_digit(dn[i + 1]) * 16 +
						   hg_hex_digit(dn[i + 2]));
					i += 2;
				} else {
					c = dn[++i];
				}
			}
			if (v + 1 < sizeof(val))
				val[v++] = c;
			else
				is_cn = 0; /* longer than any name we compare with */
		}
		val[v] = '\0';
		if (is_cn && strcasecmp(val, name) == 0)
			return 1;
		i++; /* the separator */
	}
	return 0;
}

/* 1 when the comma-separated list has an entry equal to name (any case). */
static int list_has(const char *list, size_t len, const char *name)
{
	size_t nlen = strlen(name);

	while (len > 0) {
		const char *comma = memchr(list, ',', len);
		size_t n = comma != NULL ? (size_t)(comma - list) : len;
		size_t t = n;
		const char *item = trim(list, &t);

		if (t == nlen && strncasecmp(item, name, nlen) == 0)
			return 1;
		if (comma == NULL)
			break;
		len -= n + 1;
		list = comma + 1;
	}
	return 0;
}

/* A source with mtls require: our own TLS verified a certificate for one of
 * the subjects, or a trusted proxy says it did. */
static int mtls_ok(const struct hg_source *src, const struct hg_http_req *req, int trusted)
{
	const char *verify, *dn, *san;
	size_t i, vn = 0, dn_len = 0, san_len = 0;

	for (i = 0; i < src->n_mtls_subjects; i++)
		if (hg_http_client_cert_matches(req, src->mtls_subjects[i]))
			return 1;
	if (!trusted)
		return 0;
	verify = hg_http_header(req, "x-ssl-client-verify", &vn);
	verify = verify != NULL ? trim(verify, &vn) : NULL;
	if (verify == NULL || vn != 7 || strncmp(verify, "SUCCESS", 7) != 0)
		return 0;
	dn = hg_http_header(req, "x-ssl-client-s-dn", &dn_len);
	san = hg_http_header(req, "x-ssl-client-san-dns", &san_len);
	for (i = 0; i < src->n_mtls_subjects; i++) {
		if (dn != NULL && dn_has_cn(dn, dn_len, src->mtls_subjects[i]))
			return 1;
		if (san != NULL && list_has(san, san_len, src->mtls_subjects[i]))
			return 1;
	}
	return 0;
}

/* What the audit log records as the client: the address, and the proxy it
 * came through when that is not the client itself. */
static void audit_who(const struct hg_http_req *req, const char *client, int via,
		      char who[HG_AUDIT_WHO_MAX])
{
	if (via)
		snprintf(who, HG_AUDIT_WHO_MAX, "%s via %s", client, req->peer);
	else
		hg_strlcpy(who, client, HG_AUDIT_WHO_MAX);
}

static void audit_refusal(const struct hg_inbound *in, const struct hg_http_req *req,
			  const struct hg_source *src, const char *event, const char *client,
			  int via, const char *reason)
{
	char who[HG_AUDIT_WHO_MAX];

	audit_who(req, client, via, who);
	hg_ingest_refusal(in->ingest, event, src->name, who, reason);
}

/* Slack's url_verification and the like: answered, not stored. */
static int post_handshake(struct hg_http_req *req, const struct hg_source *src,
			  const struct hg_verify_input *vin)
{
	struct hg_buf out = {0};

	if (src->scheme->post_handshake == NULL || src->scheme->post_handshake(vin, &out) != 1) {
		hg_buf_free(&out);
		return 0;
	}
	struct hg_http_resp resp = {.status = 200,
				    .content_type = json_content_type,
				    .body = out.data,
				    .body_len = out.len,
				    .log_source = src->name,
				    .log_outcome = "handshake"};
	hg_http_respond(req, &resp);
	hg_buf_free(&out);
	return 1;
}

/* Counts one event of src now. */
static void count(const struct hg_inbound *in, const struct hg_source *src, enum hg_stat what)
{
	hg_stats_count(in->stats, src->name, strlen(src->name), what, hg_now_ms());
}

/* 1 when the request may go on; else it was answered 429 and audited. */
static int within_rate_limit(struct hg_http_req *req, const struct hg_inbound *in,
			     const struct hg_source *src, struct hg_json_body *jb,
			     const char *client, int via)
{
	const struct hg_rate_limit *rule = &src->rate_limit;
	static const char body[] = "{\"error\":\"rate limit exceeded\"}\n";
	int64_t retry = 0;
	char *key = NULL;
	char retry_text[24], reason[96], hashed[HG_STORE_INDEX_HASH_LEN + 1];
	int allowed;

	if (rule->limit <= 0)
		return 1;
	if (hg_ratelimit_key_of(rule, client, jb, hg_http_header_cb, req, &key) != HG_OK)
		return 1; /* out of memory: the limiter fails open, the store decides */
	if (key == NULL)
		return 1; /* the rule selects nothing: not limited */
	/* with encryption on, a phone number is counted (and, shared through
	 * the store, kept) only as its keyed hash */
	if (hg_store_index_hash("ratelimit", src->name, key, hashed) != HG_OK)
		hashed[0] = '\0';
	allowed = hg_ratelimit_hit(hg_ingest_ratelimit(in->ingest), src->name,
				   hashed[0] != '\0' ? hashed : key, rule->limit, rule->per_ms,
				   hg_now_ms(), &retry);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	if (allowed)
		return 1;
	count(in, src, HG_STAT_RATE_LIMITED);
	/* The key itself (a phone number, an address) stays out of the log. */
	snprintf(reason, sizeof(reason), "over %lld requests per %lld ms by %.48s",
		 (long long)rule->limit, (long long)rule->per_ms, rule->key);
	audit_refusal(in, req, src, "rate_limited", client, via, reason);
	snprintf(retry_text, sizeof(retry_text), "%lld", (long long)retry);
	const char *const headers[] = {"retry-after", retry_text, NULL};
	struct hg_http_resp resp = {.status = 429,
				    .content_type = json_content_type,
				    .body = body,
				    .body_len = sizeof(body) - 1,
				    .headers = headers,
				    .log_source = src->name,
				    .log_outcome = "rejected",
				    .log_reason = "rate limit exceeded"};
	hg_http_respond(req, &resp);
	return 0;
}

static void receive(struct hg_http_req *req, const struct hg_inbound *in, struct hg_config *cfg,
		    const struct hg_source *src)
{
	const char *reason = "signature mismatch";
	struct inbound_item *item = NULL;
	char client[HG_MAX_ADDR];
	size_t url_len = 0;
	char *url = NULL;
	int rc, via = 0, trusted;
	/* The body's JSON tree, made at most once for every check below that
	 * needs one (max_age, a handshake, a rate-limit key, dedupe keys the
	 * streaming scan cannot decide, route filters). */
	struct hg_json_body jb;

	hg_json_body_init(&jb, req->body, req->body_len);

	count(in, src, HG_STAT_RECEIVED);
	if (req->body_len > src->max_body) {
		hg_http_respond_error(req, 413, src->name, "body too large for this source");
		return;
	}
	trusted = peer_is_trusted(cfg, req);
	client_address(req, trusted, client, &via);
	if (src->mtls_require && !mtls_ok(src, req, trusted)) {
		count(in, src, HG_STAT_INVALID_SIGNATURES);
		audit_refusal(in, req, src, "mtls_failure", client, via,
			      "no verified client certificate for the required subject");
		hg_http_respond_error(req, 401, src->name, "client certificate required");
		return;
	}
	url = public_url_of(cfg, src, req, &url_len);
	struct hg_verify_input vin = {.body = req->body,
				      .body_len = req->body_len,
				      .header = hg_http_header_cb,
				      .ctx = req,
				      .url = url,
				      .url_len = url_len,
				      .query = req->query,
				      .query_len = req->query_len,
				      .now_s = (int64_t)time(NULL),
				      .json = &jb};
	rc = src->scheme->verify(src, &vin, &reason);
	if (rc != HG_OK) {
		count(in, src, HG_STAT_INVALID_SIGNATURES);
		audit_refusal(in, req, src, rc == HG_EREPLAY ? "replay" : "bad_signature", client,
			      via, reason);
		hg_http_respond_error(req, 401, src->name, rc == HG_EREPLAY ? "replay" : reason);
		goto out;
	}
	if (post_handshake(req, src, &vin) || !within_rate_limit(req, in, src, &jb, client, via))
		goto out;

	item = calloc(1, sizeof(*item));
	if (item == NULL)
		goto oom;
	item->cfg = hg_config_hold(cfg);
	rc = hg_ingest_dedupe_keys_of(src, &jb, hg_http_header_cb, req, &item->keys, &item->nkeys);
	if (rc == HG_ETOOBIG) {
		/* Each key is an index lookup in the writer's one transaction:
		 * a request may not buy an unbounded share of every source's
		 * ingest. */
		char why[128];

		snprintf(why, sizeof(why),
			 "too many dedupe keys: the source's rules select more than %zu",
			 src->max_dedupe_keys);
		item_free(item);
		hg_http_respond_error(req, 413, src->name, why);
		goto out;
	}
	if (rc != HG_OK)
		goto oom;
	size_t ctl = 0;
	const char *ct = hg_http_header(req, "content-type", &ctl);
	item->source = strdup(src->name);
	item->content_type = ct != NULL ? dup_span(ct, ctl) : NULL;
	item->body = malloc(req->body_len > 0 ? req->body_len : 1);
	if (item->source == NULL || (ct != NULL && item->content_type == NULL) ||
	    item->body == NULL)
		goto oom;
	memcpy(item->body, req->body, req->body_len);
	hg_buf_puts(&item->headers, "{");
	struct stored_headers sh = {.b = &item->headers};
	if (strcmp(src->scheme->name, "token") == 0 && src->header != NULL &&
	    strncmp(src->header, "query:", 6) != 0)
		sh.token_header = src->header;
	hg_http_header_each(req, add_header_json, &sh);
	if (hg_buf_puts(&item->headers, "}") != HG_OK)
		goto oom;

	struct hg_store_msg *m = &item->it.msg;
	hg_uuid7(m->id);
	m->source = item->source;
	m->received_ms = hg_now_ms();
	if (src->n_routes > 0) {
		item->targets = calloc(src->n_routes, sizeof(*item->targets));
		if (item->targets == NULL ||
		    hg_deliver_route_of(src, &jb, hg_http_header_cb, req, m->received_ms,
					item->targets, &m->n_targets) != HG_OK)
			goto oom;
		m->targets = item->targets;
	}
	if (src->media != NULL) {
		if (hg_media_refs_of(hg_json_body_root(&jb), &item->media) != HG_OK)
			goto oom;
		m->media = item->media.refs;
		m->n_media = item->media.n;
	}
	m->content_type = item->content_type;
	m->headers_json = (const char *)item->headers.data;
	hg_strlcpy(item->request_id, req->request_id, sizeof(item->request_id));
	m->request_id = item->request_id;
	m->body = item->body;
	m->body_len = req->body_len;
	m->dedupe_keys = (const char *const *)item->keys;
	m->n_dedupe_keys = item->nkeys;
	m->audit_received = cfg->audit_received;
	audit_who(req, client, via, item->client);
	m->client = item->client;
	item->it.done = on_stored;
	item->stats = in->stats;
	item->start_us = req->start_us;
	item->pending = hg_http_defer(req);
	if (item->pending == NULL)
		goto oom;
	hg_ingest_submit(in->ingest, &item->it);
	goto out;
oom:
	if (item != NULL)
		item_free(item);
	hg_http_respond_error(req, 503, src->name, "out of memory");
out:
	hg_json_body_release(&jb);
	free(url);
}

static int method_is(const struct hg_http_req *req, const char *m)
{
	return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

void hg_inbound_handle(struct hg_http_req *req, void *arg)
{
	const struct hg_inbound *in = arg;
	static const char prefix[] = "/in/";
	const char *name = req->path + (sizeof(prefix) - 1);
	size_t nlen = req->path_len - (sizeof(prefix) - 1);
	const struct hg_source *src = NULL;
	/* The whole request works under one snapshot, whatever a reload does
	 * meanwhile; a stored message keeps it until its answer (item->cfg). */
	struct hg_config *cfg = hg_config_get(in->live, NULL);

	if (nlen > 0 && memchr(name, '/', nlen) == NULL)
		src = hg_config_find_source(cfg, name, nlen);
	if (src == NULL) {
		hg_http_respond_error(req, 404, NULL, "unknown source");
	} else if (method_is(req, "POST")) {
		receive(req, in, cfg, src);
	} else if (method_is(req, "GET")) {
		handshake(req, src);
	} else {
		static const char *const allow[] = {"allow", "GET, POST", NULL};
		static const char body[] = "{\"error\":\"method not allowed\"}\n";
		struct hg_http_resp resp = {.status = 405,
					    .content_type = json_content_type,
					    .body = body,
					    .body_len = sizeof(body) - 1,
					    .headers = allow,
					    .log_source = src->name,
					    .log_outcome = "rejected",
					    .log_reason = "method not allowed"};
		hg_http_respond(req, &resp);
	}
	hg_config_put(cfg);
}

void hg_inbound_healthz(struct hg_http_req *req, void *arg)
{
	(void)arg;
	static const char body[] = "{\"status\":\"ok\"}\n";
	struct hg_http_resp resp = {.status = 200,
				    .content_type = json_content_type,
				    .body = body,
				    .body_len = sizeof(body) - 1,
				    .log_quiet = 1};
	hg_http_respond(req, &resp);
}

void hg_inbound_readyz(struct hg_http_req *req, void *arg)
{
	const struct hg_inbound *in = arg;
	static const char ok[] = "{\"status\":\"ready\"}\n";
	static const char bad[] = "{\"status\":\"store unavailable\"}\n";
	int ready = hg_ingest_healthy(in->ingest);
	struct hg_http_resp resp = {.status = ready ? 200 : 503,
				    .content_type = json_content_type,
				    .body = ready ? ok : bad,
				    .body_len = ready ? sizeof(ok) - 1 : sizeof(bad) - 1,
				    .log_quiet = 1};
	hg_http_respond(req, &resp);
}
