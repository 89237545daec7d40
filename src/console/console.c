/*
 * console.c — the /ui/ handler: the embedded static files, and the session
 * endpoints under /ui/api/session (POST signs in with the admin token, GET
 * tells a reloaded page its CSRF token, DELETE signs out), plus
 * hg_console_check() for the management API.
 *
 * Hot path: everything runs on the event loop; no I/O, one mutex (the
 * session table's). Every /ui/ answer carries a strict Content-Security-
 * Policy (no inline script or style, nothing from elsewhere), X-Frame-
 * Options: DENY and no referrer; the HTTP layer adds Cache-Control:
 * no-store and nosniff to every answer.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "config/config.h"
#include "console/assets.h"
#include "console/console.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "util/util.h"

#define CONSOLE_CSP                                                                                \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "             \
	"frame-ancestors 'none'"
#define CONSOLE_MAX_TOKEN 4096

struct hg_console {
	int enabled;
	uint8_t token_hash[32];
	struct hg_ingest *ingest;
	struct hg_console_sessions *sessions;
	/* failed sign-ins, per address and in all (console.h): past them
	 * sign-in answers 429 until the minute ends (the Bearer token still
	 * works), so the admin token cannot be guessed at the speed of the
	 * event loops, and one client cannot lock the others out */
	struct hg_console_throttle *throttle;
};

int hg_console_new(const struct hg_config *cfg, struct hg_ingest *ingest, struct hg_console **out)
{
	struct hg_console *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (c == NULL)
		return HG_ENOMEM;
	rc = hg_console_sessions_new(HG_CONSOLE_MAX_SESSIONS, &c->sessions);
	if (rc != HG_OK) {
		free(c);
		return rc;
	}
	rc = hg_console_throttle_new(&c->throttle);
	if (rc != HG_OK) {
		hg_console_sessions_free(c->sessions);
		free(c);
		return rc;
	}
	c->ingest = ingest;
	if (cfg->console && cfg->admin_token.bytes != NULL && cfg->admin_token.len > 0) {
		hg_sha256(cfg->admin_token.bytes, cfg->admin_token.len, c->token_hash);
		c->enabled = 1;
	}
	*out = c;
	return HG_OK;
}

void hg_console_free(struct hg_console *c)
{
	if (c == NULL)
		return;
	hg_console_sessions_free(c->sessions);
	hg_console_throttle_free(c->throttle);
	OPENSSL_cleanse(c->token_hash, sizeof(c->token_hash));
	free(c);
}

int hg_console_enabled(const struct hg_console *c)
{
	return c != NULL && c->enabled;
}

/* ---- cookies ---- */

struct cookie_find {
	const char *val;
	size_t len;
};

/* Finds HG_CONSOLE_COOKIE in one Cookie header ("a=1; b=2"). */
static void cookie_scan(const char *name, size_t nlen, const char *v, size_t vlen, void *arg)
{
	static const char want[] = HG_CONSOLE_COOKIE "=";
	struct cookie_find *cf = arg;
	size_t i = 0, start;

	if (nlen != 6 || memcmp(name, "cookie", 6) != 0 || cf->val != NULL)
		return;
	while (i < vlen) {
		while (i < vlen && (v[i] == ' ' || v[i] == ';'))
			i++;
		start = i;
		while (i < vlen && v[i] != ';')
			i++;
		if (i - start >= sizeof(want) - 1 &&
		    memcmp(v + start, want, sizeof(want) - 1) == 0) {
			cf->val = v + start + sizeof(want) - 1;
			cf->len = i - start - (sizeof(want) - 1);
			while (cf->len > 0 && cf->val[cf->len - 1] == ' ')
				cf->len--;
			return;
		}
	}
}

static int is_method(const struct hg_http_req *req, const char *m)
{
	return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

/* Looks the request's session up: HG_CONSOLE_NONE / _EXPIRED / _OK (with
 * csrf filled), CSRF not checked yet. */
static enum hg_console_auth session_of(struct hg_console *c, const struct hg_http_req *req,
				       struct cookie_find *cf, char csrf[HG_CONSOLE_CSRF_LEN + 1],
				       int64_t *expires_ms)
{
	memset(cf, 0, sizeof(*cf));
	if (!hg_console_enabled(c))
		return HG_CONSOLE_NONE;
	hg_http_header_each(req, cookie_scan, cf);
	if (cf->val == NULL)
		return HG_CONSOLE_NONE;
	if (hg_console_sessions_touch(c->sessions, cf->val, cf->len, hg_now_ms(), csrf,
				      expires_ms) != HG_OK)
		return HG_CONSOLE_EXPIRED;
	return HG_CONSOLE_OK;
}

enum hg_console_auth hg_console_check(struct hg_console *c, const struct hg_http_req *req)
{
	char csrf[HG_CONSOLE_CSRF_LEN + 1];
	struct cookie_find cf;
	enum hg_console_auth a = session_of(c, req, &cf, csrf, NULL);
	const char *h;
	size_t hl = 0;

	if (a != HG_CONSOLE_OK || is_method(req, "GET") || is_method(req, "HEAD"))
		return a;
	h = hg_http_header(req, HG_CONSOLE_CSRF_HEADER, &hl);
	if (h == NULL || hl != HG_CONSOLE_CSRF_LEN || !hg_ct_equal(h, csrf, HG_CONSOLE_CSRF_LEN))
		return HG_CONSOLE_CSRF;
	return HG_CONSOLE_OK;
}

/* ---- answers ---- */

/* Answers with the console's security headers plus extra (NULL or name,
 * value pairs, at most 2). */
static void reply(struct hg_http_req *req, int status, const char *type, const void *body,
		  size_t len, const char *const *extra, const char *reason)
{
	const char *h[16] = {"content-security-policy",
			     CONSOLE_CSP,
			     "x-frame-options",
			     "DENY",
			     "referrer-policy",
			     "no-referrer",
			     "cross-origin-opener-policy",
			     "same-origin"};
	size_t n = 8;

	for (; extra != NULL && extra[0] != NULL && n < 14; extra += 2) {
		h[n++] = extra[0];
		h[n++] = extra[1];
	}
	h[n] = NULL;
	struct hg_http_resp resp = {.status = status,
				    .content_type = type,
				    .body = body,
				    .body_len = len,
				    .headers = h,
				    .log_outcome = status < 400 ? "ok" : "rejected",
				    .log_reason = reason};
	hg_http_respond(req, &resp);
}

static void reply_json(struct hg_http_req *req, int status, json_t *root, const char *const *extra,
		       const char *reason)
{
	char *s = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;

	if (s == NULL)
		reply(req, 503, "application/json", "{\"error\":\"out of memory\"}", 25, NULL,
		      "out of memory");
	else
		reply(req, status, "application/json", s, strlen(s), extra, reason);
	free(s);
	json_decref(root);
}

static void reply_error(struct hg_http_req *req, int status, const char *reason,
			const char *const *extra)
{
	reply_json(req, status, json_pack("{s:s}", "error", reason), extra, reason);
}

/* ---- /ui/api/session ---- */

static void sign_in(struct hg_console *c, struct hg_http_req *req)
{
	char id[HG_CONSOLE_ID_LEN + 1], csrf[HG_CONSOLE_CSRF_LEN + 1], cookie[256];
	const char *ct, *tok;
	size_t ctlen = 0, toklen;
	uint8_t digest[32];
	char retry[24];
	int64_t retry_s;
	json_t *body;
	int ok;

	if (!hg_console_throttle_allowed(c->throttle, req->peer, hg_now_ms(), &retry_s)) {
		snprintf(retry, sizeof(retry), "%lld", (long long)retry_s);
		const char *const extra[] = {"retry-after", retry, NULL};
		reply_error(req, 429, "too many failed sign-ins; try again in a minute", extra);
		return;
	}
	ct = hg_http_header(req, "content-type", &ctlen);
	/* JSON only: a cross-site form cannot send it without a preflight */
	if (ct == NULL || ctlen < 16 || strncasecmp(ct, "application/json", 16) != 0) {
		reply_error(req, 415, "send the token as JSON: {\"token\":\"<admin token>\"}",
			    NULL);
		return;
	}
	body = json_loadb((const char *)req->body, req->body_len, 0, NULL);
	tok = json_string_value(json_object_get(body, "token"));
	toklen = json_string_length(json_object_get(body, "token"));
	if (tok == NULL || toklen == 0 || toklen > CONSOLE_MAX_TOKEN) {
		json_decref(body);
		reply_error(req, 400, "the body must be {\"token\":\"<admin token>\"}", NULL);
		return;
	}
	hg_sha256((const uint8_t *)tok, toklen, digest);
	ok = hg_ct_equal(digest, c->token_hash, sizeof(digest));
	json_decref(body);
	if (!ok) {
		hg_console_throttle_failed(c->throttle, req->peer, hg_now_ms());
		hg_ingest_refusal(c->ingest, "console_unauthorized", NULL, req->peer,
				  "invalid admin token at console sign-in");
		reply_error(req, 401, "invalid admin token", NULL);
		return;
	}
	if (hg_console_sessions_create(c->sessions, hg_now_ms(), id, csrf) != HG_OK) {
		reply_error(req, 503, "no randomness for a session; try again", NULL);
		return;
	}
	snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
		 HG_CONSOLE_COOKIE, id, (long long)(HG_CONSOLE_LIFETIME_MS / 1000),
		 hg_http_is_tls(req) ? "; Secure" : "");
	OPENSSL_cleanse(id, sizeof(id));
	const char *const extra[] = {"set-cookie", cookie, NULL};
	hg_ingest_audit(c->ingest, "console_sign_in", NULL, req->peer, "console session started");
	reply_json(req, 200,
		   json_pack("{s:s s:I}", "csrf", csrf, "idle_timeout_s",
			     (json_int_t)(HG_CONSOLE_IDLE_MS / 1000)),
		   extra, NULL);
	OPENSSL_cleanse(cookie, sizeof(cookie));
}

static void session_api(struct hg_console *c, struct hg_http_req *req)
{
	static const char *const allow[] = {"allow", "GET, POST, DELETE", NULL};
	static const char *const clear[] = {
	    "set-cookie", HG_CONSOLE_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict",
	    NULL};
	char csrf[HG_CONSOLE_CSRF_LEN + 1];
	struct cookie_find cf;
	int64_t expires_ms = 0;

	if (is_method(req, "POST")) {
		sign_in(c, req);
		return;
	}
	if (is_method(req, "GET")) {
		if (session_of(c, req, &cf, csrf, &expires_ms) != HG_CONSOLE_OK) {
			reply_error(req, 401, "not signed in", NULL);
			return;
		}
		reply_json(req, 200,
			   json_pack("{s:s s:I}", "csrf", csrf, "expires_in_s",
				     (json_int_t)((expires_ms - hg_now_ms()) / 1000)),
			   NULL, NULL);
		return;
	}
	if (is_method(req, "DELETE")) {
		switch (hg_console_check(c, req)) {
		case HG_CONSOLE_OK:
			break;
		case HG_CONSOLE_CSRF:
			reply_error(req, 403, "missing or wrong X-CSRF-Token", NULL);
			return;
		default:
			reply_error(req, 401, "not signed in", clear);
			return;
		}
		hg_http_header_each(req, cookie_scan, memset(&cf, 0, sizeof(cf)));
		hg_console_sessions_remove(c->sessions, cf.val, cf.len);
		hg_ingest_audit(c->ingest, "console_sign_out", NULL, req->peer,
				"console session ended");
		reply_json(req, 200, json_pack("{s:b}", "signed_out", 1), clear, NULL);
		return;
	}
	reply_error(req, 405, "method not allowed; this path takes GET, POST, DELETE", allow);
}

/* ---- static files ---- */

void hg_console_handle(struct hg_http_req *req, void *arg)
{
	static const char api[] = "/ui/api/session";
	static const char *const to_ui[] = {"location", "/ui/", NULL};
	struct hg_console *c = arg;
	const char *name;
	size_t len;

	if (!hg_console_enabled(c)) {
		reply_error(req, 404,
			    "the console is off: it needs admin_token_env and console: on in the "
			    "configuration",
			    NULL);
		return;
	}
	if (req->path_len == sizeof(api) - 1 && memcmp(req->path, api, req->path_len) == 0) {
		session_api(c, req);
		return;
	}
	if (!is_method(req, "GET") && !is_method(req, "HEAD")) {
		static const char *const allow[] = {"allow", "GET", NULL};

		reply_error(req, 405, "method not allowed; the console's files take GET", allow);
		return;
	}
	if (req->path_len == 3) { /* "/ui" */
		reply(req, 301, "text/plain", "", 0, to_ui, NULL);
		return;
	}
	name = req->path + 4;
	len = req->path_len - 4;
	if (len == 0) {
		name = "index.html";
		len = strlen(name);
	}
	for (size_t i = 0; i < hg_console_n_assets; i++) {
		const struct hg_console_asset *a = &hg_console_assets[i];

		if (strlen(a->name) == len && memcmp(a->name, name, len) == 0) {
			reply(req, 200, a->content_type, a->data, a->len, NULL, NULL);
			return;
		}
	}
	reply_error(req, 404, "no such console file", NULL);
}
