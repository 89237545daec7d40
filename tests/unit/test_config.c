/*
 * test_config.c — unit tests for src/config: a full config, the defaults,
 * and every class of error, each asserting the exact "FILE:LINE:" prefix
 * and the key named in the message. Configs are written to a private
 * temporary directory; environment variables are set with setenv.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "fixture.h"
#include "util/jsonpath.h"
#include "verify/verify.h"

static char tmpdir[] = "/tmp/hg-test-config-XXXXXX";

/* ---- helpers ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

/* Writes yaml to a fresh file in tmpdir; path receives its name. */
static void write_cfg(const char *yaml, char *path, size_t pathlen)
{
	int fd;

	snprintf(path, pathlen, "%s/cfg-XXXXXX", tmpdir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	assert_int_equal(close(fd), 0);
}

static struct hg_config *load_ok(const char *yaml)
{
	char path[256], err[512];
	struct hg_config *cfg = NULL;
	int rc;

	write_cfg(yaml, path, sizeof path);
	rc = hg_config_load(path, &cfg, err, sizeof err);
	if (rc != HG_OK)
		fail_msg("expected the config to load, got %d: %s", rc, err);
	assert_non_null(cfg);
	return cfg;
}

/* The load fails with HG_EINVAL and err is "PATH:LINE: ..." containing needle. */
static void expect_error(const char *yaml, int line, const char *needle)
{
	char path[256], err[512], prefix[300];
	struct hg_config *cfg = (struct hg_config *)1;
	int rc;

	write_cfg(yaml, path, sizeof path);
	rc = hg_config_load(path, &cfg, err, sizeof err);
	if (rc != HG_EINVAL)
		fail_msg("expected HG_EINVAL for:\n%s\ngot %d: %s", yaml, rc, rc ? err : "");
	assert_null(cfg);
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("expected the error to start with \"%s\", got \"%s\"", prefix, err);
	if (!strstr(err, needle))
		fail_msg("expected the error to contain \"%s\", got \"%s\"", needle, err);
}

/* As expect_error, and the message after "PATH:LINE: " is exactly msg. */
static void expect_exact_error(const char *yaml, int line, const char *msg)
{
	char path[256], err[512], want[800];
	struct hg_config *cfg = NULL;

	write_cfg(yaml, path, sizeof path);
	assert_int_equal(hg_config_load(path, &cfg, err, sizeof err), HG_EINVAL);
	snprintf(want, sizeof want, "%s:%d: %s", path, line, msg);
	assert_string_equal(err, want);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	setenv("HGT_OLD", "old-secret", 1);
	setenv("HGT_NEW", "new-secret", 1);
	setenv("HGT_VERIFY", "verify-me", 1);
	setenv("HGT_EMPTY", "", 1);
	unsetenv("HGT_MISSING");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return hg_test_rm_rf(tmpdir);
}

static void assert_secret(const struct hg_secret *s, const char *want)
{
	assert_int_equal(s->len, strlen(want));
	assert_memory_equal(s->bytes, want, s->len);
}

/* ---- a full config ---- */

static void test_full_config(void **state)
{
	struct hg_config *cfg;
	const struct hg_source *s;

	(void)state;
	cfg = load_ok("# every key this version knows\n"
		      "listen: \"[::1]:9090\"\n"
		      "public_url: https://hooks.example.com/\n"
		      "store: postgres://hg@localhost/hookgate\n"
		      "threads: 4\n"
		      "max_connections: 200\n"
		      "request_timeout: 2500ms\n"
		      "max_body: 256k\n"
		      "log_level: debug\n"
		      "sources:\n"
		      "  - name: whatsapp\n"
		      "    provider: meta\n"
		      "    secret_env: [HGT_OLD, HGT_NEW]\n"
		      "    verify_token_env: HGT_VERIFY\n"
		      "    dedupe: [\"$.entry[*].changes[*].value.messages[*].id\",\n"
		      "             \"header:X-Request-Id\"]\n"
		      "    max_body: 2m\n"
		      "  - name: zoho-crm\n"
		      "    provider: hmac\n"
		      "    header: x-zoho-webhook-signature\n"
		      "    algorithm: sha512\n"
		      "    encoding: base64\n"
		      "    prefix: \"sha512=\"\n"
		      "    secret_env: HGT_NEW\n");
	assert_string_equal(cfg->listen_host, "::1");
	assert_int_equal(cfg->listen_port, 9090);
	assert_string_equal(cfg->public_url, "https://hooks.example.com");
	assert_string_equal(cfg->store, "postgres://hg@localhost/hookgate");
	assert_int_equal(cfg->threads, 4);
	assert_int_equal(cfg->max_connections, 200);
	assert_int_equal(cfg->request_timeout_ms, 2500);
	assert_int_equal(cfg->max_body, 256 * 1024);
	assert_int_equal(cfg->log_level, HG_LOG_DEBUG);
	assert_int_equal(cfg->n_sources, 2);

	s = &cfg->sources[0];
	assert_string_equal(s->name, "whatsapp");
	assert_string_equal(s->provider, "meta");
	assert_ptr_equal(s->scheme, hg_verify_find("meta"));
	assert_int_equal(s->line, 11);
	assert_int_equal(s->n_secrets, 2);
	assert_secret(&s->secrets[0], "old-secret");
	assert_secret(&s->secrets[1], "new-secret");
	assert_secret(&s->verify_token, "verify-me");
	assert_int_equal(s->n_dedupe, 2);
	assert_string_equal(s->dedupe[0].expr, "$.entry[*].changes[*].value.messages[*].id");
	assert_non_null(s->dedupe[0].path);
	assert_null(s->dedupe[0].header);
	assert_string_equal(s->dedupe[1].expr, "header:X-Request-Id");
	assert_string_equal(s->dedupe[1].header, "X-Request-Id");
	assert_null(s->dedupe[1].path);
	assert_int_equal(s->max_body, 2 * 1024 * 1024);
	assert_null(s->header);

	s = &cfg->sources[1];
	assert_string_equal(s->name, "zoho-crm");
	assert_int_equal(s->line, 18);
	assert_string_equal(s->header, "x-zoho-webhook-signature");
	assert_int_equal(s->algorithm, HG_SHA512);
	assert_int_equal(s->encoding, HG_ENC_BASE64);
	assert_string_equal(s->prefix, "sha512=");
	assert_int_equal(s->n_secrets, 1);
	assert_secret(&s->secrets[0], "new-secret");
	assert_null(s->verify_token.bytes);
	assert_int_equal(s->n_dedupe, 0); /* hmac has no default: SHA-256 of the body */
	assert_int_equal(s->max_body, 256 * 1024);
	hg_config_free(cfg);
}

static void test_example_file(void **state)
{
	char err[512];
	struct hg_config *cfg = NULL;
	const struct hg_source *s;

	(void)state;
	setenv("META_APP_SECRET", "meta-app-secret", 1);
	setenv("WHATSAPP_VERIFY_TOKEN", "token", 1);
	setenv("ZOHO_CRM_WEBHOOK_SECRET", "zoho", 1);
	setenv("HOOKGATE_ADMIN_TOKEN", "admin", 1);
	if (hg_config_load("examples/hookgate.yaml", &cfg, err, sizeof err) != HG_OK) {
		if (access("examples/hookgate.yaml", R_OK) != 0)
			skip(); /* run from another directory */
		fail_msg("examples/hookgate.yaml: %s", err);
	}
	assert_string_equal(cfg->listen_host, "127.0.0.1");
	assert_int_equal(cfg->listen_port, 8080);
	assert_string_equal(cfg->store, "sqlite:./var/hookgate.db");
	assert_string_equal(cfg->admin_token_env, "HOOKGATE_ADMIN_TOKEN");
	assert_secret(&cfg->admin_token, "admin");
	assert_int_equal(cfg->retention_ms, 30LL * 86400 * 1000);
	assert_int_equal(cfg->n_sources, 3);
	s = hg_config_find_source(cfg, "whatsapp", 8);
	assert_non_null(s);
	assert_int_equal(s->n_dedupe, 2);
	assert_secret(&s->verify_token, "token");
	s = hg_config_find_source(cfg, "zoho-crm", 8);
	assert_non_null(s);
	assert_string_equal(s->header, "x-zoho-webhook-signature");
	assert_non_null(hg_config_find_source(cfg, "instagram", 9));
	hg_config_free(cfg);
}

/* ---- defaults ---- */

static void assert_defaults(const struct hg_config *cfg)
{
	assert_string_equal(cfg->listen_host, HG_DEFAULT_LISTEN_HOST);
	assert_int_equal(cfg->listen_port, HG_DEFAULT_LISTEN_PORT);
	assert_null(cfg->public_url);
	assert_string_equal(cfg->store, HG_DEFAULT_STORE);
	assert_int_equal(cfg->threads, 0);
	assert_int_equal(cfg->max_connections, HG_DEFAULT_MAX_CONNECTIONS);
	assert_int_equal(cfg->request_timeout_ms, HG_DEFAULT_REQUEST_TIMEOUT_MS);
	assert_int_equal(cfg->max_body, HG_DEFAULT_MAX_BODY);
	assert_int_equal(cfg->log_level, HG_LOG_INFO);
	assert_int_equal(cfg->n_sources, 0);
}

static void test_defaults(void **state)
{
	static const char *const empties[] = {"",    "# only a comment\n\n", "---\n",
					      "~\n", "sources:\n",           "sources: []\n"};
	struct hg_config *cfg;
	size_t i;

	(void)state;
	assert_int_equal(hg_config_default(&cfg), HG_OK);
	assert_defaults(cfg);
	assert_string_equal(cfg->path, "(built-in)");
	hg_config_free(cfg);

	for (i = 0; i < sizeof empties / sizeof empties[0]; i++) {
		cfg = load_ok(empties[i]);
		assert_defaults(cfg);
		assert_true(strncmp(cfg->path, tmpdir, strlen(tmpdir)) == 0);
		hg_config_free(cfg);
	}
}

static void test_source_defaults(void **state)
{
	struct hg_config *cfg;
	const struct hg_source *s;
	const char *const *d;
	size_t n = 0;

	(void)state;
	/* the top-level max_body is the sources' default even when written after them */
	cfg = load_ok("sources:\n"
		      "  - {name: gh, provider: github, secret_env: HGT_OLD}\n"
		      "  - {name: h, provider: hmac, header: x-sig, secret_env: HGT_OLD}\n"
		      "  - {name: m, provider: meta, secret_env: HGT_OLD, dedupe: []}\n"
		      "max_body: 64k\n");
	s = &cfg->sources[0];
	assert_int_equal(s->max_body, 64 * 1024);
	assert_int_equal(s->tolerance_ms, 300 * 1000);
	assert_int_equal(s->max_age_ms, 300 * 1000);
	assert_null(s->max_age_path);
	assert_null(s->public_url);
	for (d = s->scheme->default_dedupe; d && *d; d++, n++)
		assert_string_equal(s->dedupe[n].expr, *d);
	assert_int_equal(s->n_dedupe, n);
	s = &cfg->sources[1];
	assert_int_equal(s->algorithm, HG_SHA256);
	assert_int_equal(s->encoding, HG_ENC_HEX);
	assert_null(s->prefix);
	assert_int_equal(s->n_dedupe, 0);
	assert_int_equal(cfg->sources[2].n_dedupe, 0);
	hg_config_free(cfg);
}

/* ---- listen ---- */

static void test_listen_good(void **state)
{
	static const struct {
		const char *yaml;
		const char *host;
		int port;
	} cases[] = {
	    {"listen: :8080\n", "0.0.0.0", 8080},
	    {"listen: \":9\"\n", "0.0.0.0", 9},
	    {"listen: 127.0.0.1:8080\n", "127.0.0.1", 8080},
	    {"listen: localhost:65535\n", "localhost", 65535},
	    {"listen: \"[::]:443\"\n", "::", 443},
	    {"listen: \"[fe80::1]:1\"\n", "fe80::1", 1},
	};
	struct hg_config *cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cfg = load_ok(cases[i].yaml);
		assert_string_equal(cfg->listen_host, cases[i].host);
		assert_int_equal(cfg->listen_port, cases[i].port);
		hg_config_free(cfg);
	}
}

static void test_listen_bad(void **state)
{
	static const char *const cases[] = {
	    "8080",    "localhost",    "\"host:\"",     "host:0",        "host:65536",  "host:80x",
	    "host:-1", "\"::1:8080\"", "\"[::1]8080\"", "\"[::1:8080\"", "\"[zz]:80\"", "\"[]:80\"",
	    "a b:80",  "300.1.1.1:80", "ho_st:80",      "[a]",           "{a: 1}",      "",
	};
	char yaml[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(yaml, sizeof yaml, "threads: 1\nlisten: %s\n", cases[i]);
		expect_error(yaml, 2,
			     "listen: expected \"host:port\", \"[ipv6]:port\" or \":port\"");
	}
	expect_exact_error("listen: [a]\n", 1,
			   "listen: expected \"host:port\", \"[ipv6]:port\" or \":port\" (port "
			   "1-65535), got a list");
	expect_exact_error("listen: 8080\n", 1,
			   "listen: expected \"host:port\", \"[ipv6]:port\" or \":port\" (port "
			   "1-65535), got \"8080\"");
}

/* ---- wrong types and values ---- */

static void test_type_errors(void **state)
{
	static const struct {
		const char *yaml;
		int line;
		const char *msg;
	} cases[] = {
	    {"# c\nthreads: \"x\"\n", 2,
	     "threads: expected a whole number >= 0 (0 = one event loop per core), got \"x\""},
	    {"# c\nthreads: -1\n", 2,
	     "threads: expected a whole number >= 0 (0 = one event loop per core), got \"-1\""},
	    {"# c\nthreads: 1.5\n", 2,
	     "threads: expected a whole number >= 0 (0 = one event loop per core), got \"1.5\""},
	    {"# c\nthreads: [1]\n", 2,
	     "threads: expected a whole number >= 0 (0 = one event loop per core), got a list"},
	    {"# c\nmax_connections: 0\n", 2,
	     "max_connections: expected a whole number >= 1, got \"0\""},
	    {"# c\nmax_body: 5q\n", 2,
	     "max_body: expected a size above zero such as 65536, 512k or 1m, got \"5q\""},
	    {"# c\nmax_body: 0\n", 2,
	     "max_body: expected a size above zero such as 65536, 512k or 1m, got \"0\""},
	    {"# c\nrequest_timeout: 10x\n", 2,
	     "request_timeout: expected a duration above zero such as 500ms, 10s or 2m, got "
	     "\"10x\""},
	    {"# c\nrequest_timeout: 0s\n", 2,
	     "request_timeout: expected a duration above zero such as 500ms, 10s or 2m, got "
	     "\"0s\""},
	    {"# c\nrequest_timeout:\n", 2,
	     "request_timeout: expected a duration above zero such as 500ms, 10s or 2m, got "
	     "no value"},
	    {"# c\nlog_level: verbose\n", 2,
	     "log_level: expected one of debug, info, warn, error, got \"verbose\""},
	    {"# c\nstore: mysql://db\n", 2,
	     "store: expected sqlite:PATH or postgres://user@host/db, got \"mysql://db\""},
	    {"# c\npublic_url: ftp://x\n", 2,
	     "public_url: expected an http:// or https:// URL without query, such as "
	     "https://hooks.example.com, got \"ftp://x\""},
	    {"# c\npublic_url: https://x/?a=1\n", 2,
	     "public_url: expected an http:// or https:// URL without query, such as "
	     "https://hooks.example.com, got \"https://x/?a=1\""},
	    {"# c\nsources: {a: 1}\n", 2,
	     "sources: expected a list of sources, each starting with '- name:', got a mapping"},
	    {"sources:\n  - just-a-name\n", 2,
	     "sources: each source must be a mapping such as {name: ..., provider: ...}, got a "
	     "single value"},
	    {"[1, 2]\n", 1,
	     "the top level must be a mapping of settings (key: value lines), got a list"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_exact_error(cases[i].yaml, cases[i].line, cases[i].msg);
}

static void test_log_level_any_case(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("log_level: WARN\n");
	assert_int_equal(cfg->log_level, HG_LOG_WARN);
	hg_config_free(cfg);
}

/* ---- YAML and file errors ---- */

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("listen: 127.0.0.1:8080\nsources:\n  - name: [a\n", 4, "YAML syntax error: ");
	expect_error("a: b\n  c: d\n", 2, "YAML syntax error: mapping values are not allowed");
	expect_error("store: \"x\xff\"\n", 1, "YAML syntax error: invalid");
	expect_error("sources:\n\t- name: x\n", 2,
		     "; indent with spaces, YAML does not allow tabs");
	expect_exact_error("threads: 1\n---\nthreads: 2\n", 3,
			   "a second YAML document starts here; put all settings in one document");
}

/* An error quotes what the file holds, but stays one line: a value or key
 * with a newline or another control character in it (a folded scalar, an
 * escape) shows it as '?' (found by tests/fuzz/fuzz_config). */
static void test_errors_are_one_line(void **state)
{
	(void)state;
	expect_exact_error("sources:\n  - name: what\n\n     sapp\n", 2,
			   "name: expected a name of 1-64 characters from a-z, 0-9, '_' and '-', "
			   "starting with a letter or digit, got \"what?sapp\"");
	expect_error("sources:\n  - name: \"a\\tb\\e[31m\"\n", 2, "got \"a?b?[31m\"");
	expect_error("listen: 127.0.0.1:8080\n\"li\\nsten\": 1\n", 2, "li?sten");
}

static void test_unreadable_file(void **state)
{
	char err[512], want[512];
	struct hg_config *cfg = (struct hg_config *)1;

	(void)state;
	assert_int_equal(hg_config_load("/nonexistent/hookgate.yaml", &cfg, err, sizeof err),
			 HG_EIO);
	assert_null(cfg);
	assert_string_equal(err,
			    "cannot read /nonexistent/hookgate.yaml: No such file or directory");
	assert_int_equal(hg_config_load(tmpdir, &cfg, err, sizeof err), HG_EIO);
	snprintf(want, sizeof want, "cannot read %s: Is a directory", tmpdir);
	assert_string_equal(err, want);
	/* a too-small or absent error buffer is not written past */
	assert_int_equal(hg_config_load("/nonexistent/x", &cfg, err, 4), HG_EIO);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(hg_config_load("/nonexistent/x", &cfg, NULL, 0), HG_EIO);
}

/* ---- keys ---- */

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_exact_error(
	    "threads: 1\nlisen: :80\n", 2,
	    "unknown key 'lisen' in the top-level settings; expected one of listen, "
	    "public_url, store, threads, max_connections, request_timeout, max_body, "
	    "log_level, tls, trusted_proxies, sources, endpoints, max_in_flight, admin_token_env, "
	    "retention, event_types, allow_http, egress_allow, outbound, max_dedupe_keys, "
	    "audit_window, audit_max_rows, audit_retention, encryption, alerts, audit, console");
	expect_error("provider: meta\n", 1, "unknown key 'provider' in the top-level settings");
	expect_error("Listen: :80\n", 1, "unknown key 'Listen' in the top-level settings");
	expect_exact_error(
	    "sources:\n"
	    "  - name: gh\n"
	    "    provider: github\n"
	    "    secret_evn: HGT_OLD\n",
	    4,
	    "unknown key 'secret_evn' in source 'gh'; expected one of name, provider, "
	    "secret_env, secret_file, secret, verify_token_env, dedupe, max_body, "
	    "header, algorithm, encoding, prefix, tolerance, max_age, public_url, "
	    "rate_limit, mtls, routes, max_dedupe_keys, forward_headers, retention, media");
	expect_error("sources:\n  - provider: github\n    listen: :80\n", 3,
		     "unknown key 'listen' in source #1");
	expect_error("sources:\n  - {name: a, provider: meta, secret: x}\n  - {name: b, x: 1}\n", 3,
		     "unknown key 'x' in source 'b'");
	expect_error("? [a]\n: 1\n", 1, "keys in the top-level settings must be plain names");
}

/* The outbound keys (docs/outbound.md): defaults are seed 003's contract. */
static void test_outbound_keys(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("listen: :80\n");
	assert_int_equal(cfg->n_event_types, 0);
	assert_false(cfg->allow_http);
	assert_int_equal(cfg->n_egress_allow, 0);
	assert_int_equal(cfg->outbound.retry.attempts, 5);
	assert_int_equal(cfg->outbound.retry.schedule_ms[1], 60000);
	assert_int_equal(cfg->outbound.retry.schedule_ms[4], 480000);
	assert_int_equal(cfg->outbound.retry.max_delay_ms, 3600000);
	assert_int_equal(cfg->outbound.timeout_ms, 10000);
	assert_int_equal(cfg->outbound.disable_after_ms, 5LL * 86400 * 1000);
	assert_int_equal(cfg->outbound.rl_create.limit, 10);
	assert_int_equal(cfg->outbound.rl_create.per_ms, 3600000);
	assert_int_equal(cfg->outbound.rl_regenerate.limit, 5);
	assert_int_equal(cfg->outbound.rl_manage.limit, 0);
	hg_config_free(cfg);

	cfg = load_ok(
	    "event_types: [clip.submitted, clip.approved]\n"
	    "allow_http: true\n"
	    "egress_allow: [127.0.0.1/32, \"fd00::/8\"]\n"
	    "outbound:\n"
	    "  retry: {schedule: [0s, 400ms, 800ms], jitter: 0%}\n"
	    "  timeout: 2s\n"
	    "  disable_after: 1h\n"
	    "  max_in_flight: 4\n"
	    "  rate_limits: {create: {limit: 3, per: 1m}, publish: {limit: 100, per: 1s}}\n");
	assert_int_equal(cfg->n_event_types, 2);
	assert_string_equal(cfg->event_types[1], "clip.approved");
	assert_null(cfg->event_types[2]);
	assert_true(cfg->allow_http);
	assert_int_equal(cfg->n_egress_allow, 2);
	assert_int_equal(cfg->outbound.retry.attempts, 3);
	assert_int_equal(cfg->outbound.retry.schedule_ms[2], 800);
	assert_int_equal(cfg->outbound.timeout_ms, 2000);
	assert_int_equal(cfg->outbound.disable_after_ms, 3600000);
	assert_int_equal(cfg->outbound.max_in_flight, 4);
	assert_int_equal(cfg->outbound.rl_create.limit, 3);
	assert_int_equal(cfg->outbound.rl_create.per_ms, 60000);
	assert_int_equal(cfg->outbound.rl_regenerate.limit, 5);
	assert_int_equal(cfg->outbound.rl_publish.limit, 100);
	hg_config_free(cfg);

	expect_error("event_types: [Clip.Submitted]\n", 1, "event_types: expected an event type");
	expect_error("event_types: [a.b, a.b]\n", 1, "listed twice");
	expect_error("allow_http: maybe\n", 1, "allow_http: expected one of false, true");
	expect_error("console: maybe\n", 1, "console: expected one of off, on");
	cfg = load_ok("console: off\n");
	assert_false(cfg->console);
	hg_config_free(cfg);
	cfg = load_ok("threads: 1\n");
	assert_true(cfg->console); /* on by default */
	hg_config_free(cfg);
	expect_error("egress_allow: [localhost]\n", 1,
		     "egress_allow: expected an address or range");
	expect_error("outbound: {timeout: 0}\n", 1, "timeout: expected a duration above zero");
	expect_error("outbound: {retries: 1}\n", 1, "unknown key 'retries' in outbound");
	expect_error("outbound: {rate_limits: {create: {limit: -1, per: 1h}}}\n", 1, "limit:");
	expect_error("outbound: {rate_limits: {list: {limit: 1, per: 1h}}}\n", 1,
		     "unknown key 'list'");
}

static void test_duplicates(void **state)
{
	(void)state;
	expect_exact_error("sources:\n"
			   "  - {name: a, provider: meta, secret_env: HGT_OLD}\n"
			   "  - {name: b, provider: meta, secret_env: HGT_OLD}\n"
			   "  - {name: a, provider: github, secret_env: HGT_NEW}\n",
			   4,
			   "name: source 'a' is already defined at line 2; source names must be "
			   "unique");
	expect_exact_error(
	    "threads: 1\nlog_level: info\nthreads: 2\n", 3,
	    "duplicate key 'threads' in the top-level settings (first given at line 1)");
	expect_error("sources:\n  - name: a\n    provider: meta\n    name: b\n", 4,
		     "duplicate key 'name' in source 'a' (first given at line 2)");
}

/* ---- sources ---- */

static void test_source_required(void **state)
{
	char msg[512];

	(void)state;
	expect_exact_error("sources:\n  - provider: meta\n    secret_env: HGT_OLD\n", 2,
			   "source #1 has no name; add name: (its URL is /in/NAME)");
	expect_error("sources:\n  - name: Foo\n", 2,
		     "name: expected a name of 1-64 characters from a-z, 0-9, '_' and '-', "
		     "starting with a letter or digit, got \"Foo\"");
	expect_error("sources:\n  - name: -a\n", 2, "name: expected a name of 1-64");
	expect_error("sources:\n  - name: a/b\n", 2, "name: expected a name of 1-64");
	expect_error("sources:\n  - name: "
		     "a1234567890123456789012345678901234567890123456789012345678901234\n",
		     2, "name: expected a name of 1-64");
	expect_error("sources:\n  - name: [a]\n", 2, "name: expected a name of 1-64");

	snprintf(msg, sizeof msg, "source 'a' has no provider; add provider: with one of %s",
		 hg_verify_names());
	expect_exact_error("sources:\n  - name: a\n    secret_env: HGT_OLD\n", 2, msg);
	snprintf(msg, sizeof msg, "provider: expected one of %s, got \"paypal\"",
		 hg_verify_names());
	expect_exact_error("sources:\n  - name: a\n    provider: paypal\n", 3, msg);

	expect_exact_error("sources:\n  - name: a\n    provider: meta\n", 2,
			   "source 'a' has no secret; set secret_env (environment variables), "
			   "secret_file (files) or, for development only, secret (inline)");
	expect_error("sources:\n  - {name: a, provider: meta, secret_env: []}\n", 2,
		     "source 'a' has no secret");
	expect_exact_error(
	    "sources:\n  - {name: a, provider: meta, secret_env: HGT_OLD, "
	    "max_body: 1x}\n",
	    2, "max_body: expected a size above zero such as 65536, 512k or 1m, got \"1x\"");
}

static void test_secret_rotation(void **state)
{
	struct hg_config *cfg;
	const struct hg_source *s;

	(void)state;
	cfg = load_ok("sources:\n"
		      "  - name: a\n"
		      "    provider: meta\n"
		      "    secret_env:\n"
		      "      - HGT_NEW\n"
		      "      - HGT_OLD\n"
		      "  - name: b\n"
		      "    provider: meta\n"
		      "    secret_env: HGT_OLD\n");
	s = &cfg->sources[0];
	assert_int_equal(s->n_secrets, 2);
	assert_secret(&s->secrets[0], "new-secret");
	assert_secret(&s->secrets[1], "old-secret");
	assert_int_equal(cfg->sources[1].n_secrets, 1);
	hg_config_free(cfg);

	expect_exact_error("sources:\n"
			   "  - name: a\n"
			   "    provider: meta\n"
			   "    secret_env:\n"
			   "      - HGT_OLD\n"
			   "      - HGT_MISSING\n",
			   6,
			   "secret_env: environment variable HGT_MISSING is not set or is empty; "
			   "export it before starting hookgate");
	expect_error("sources:\n  - {name: a, provider: meta, secret_env: HGT_EMPTY}\n", 2,
		     "secret_env: environment variable HGT_EMPTY is not set or is empty");
	expect_exact_error("sources:\n  - {name: a, provider: meta, secret_env: 1BAD}\n", 2,
			   "secret_env: expected an environment variable name or a list of them, "
			   "got \"1BAD\"");
	expect_exact_error("sources:\n  - {name: a, provider: meta, secret_env: {a: b}}\n", 2,
			   "secret_env: expected an environment variable name or a list of them, "
			   "got a mapping");
	expect_error("sources:\n  - {name: a, provider: meta, secret_env: [[HGT_OLD]]}\n", 2,
		     "secret_env: expected an environment variable name or a list of them, "
		     "got a list");
}

static void test_verify_token(void **state)
{
	(void)state;
	expect_exact_error("sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
			   "    verify_token_env: HGT_MISSING\n",
			   5,
			   "verify_token_env: environment variable HGT_MISSING is not set or is "
			   "empty; export it before starting hookgate");
	expect_error("sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
		     "    verify_token_env: [HGT_VERIFY]\n",
		     5, "verify_token_env: expected an environment variable name, got a list");
}

/* encryption: keys from variables or private files, 64 hex or base64 of
 * 32 bytes, the last active; never inline, never readable by others. */
static void test_encryption_keys(void **state)
{
	static const char hex[] =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	/* the same 32 bytes in base64 */
	static const char b64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	char path[256], yaml[1024], msg[1024];
	struct hg_config *cfg;

	(void)state;
	setenv("HGT_KEY_HEX", hex, 1);
	setenv("HGT_KEY_B64", b64, 1);
	setenv("HGT_KEY_SHORT", "0011", 1);
	cfg = load_ok("encryption:\n  key_env: [HGT_KEY_HEX]\n");
	assert_int_equal(cfg->n_enc_keys, 1);
	assert_int_equal(cfg->enc_keys[0][0], 0);
	assert_int_equal(cfg->enc_keys[0][31], 31);
	hg_config_free(cfg);
	expect_error("encryption:\n  key_env: [HGT_KEY_HEX, HGT_KEY_B64]\n", 2,
		     "encryption: keys 1 and 2 are the same key");
	expect_error(
	    "encryption:\n  key_env: HGT_KEY_SHORT\n", 2,
	    "key_env: HGT_KEY_SHORT: a key is 32 random bytes written as 64 hex digits or as "
	    "base64 (4 characters given)");
	expect_error("encryption:\n  key: abc\n", 2, "unknown key 'key' in encryption");
	expect_error("encryption:\n  key_env: HGT_KEY_HEX\n  key_file: k\n", 2,
		     "encryption: give the keys with key_env (environment variables) or key_file");
	expect_error("encryption: HGT_KEY_HEX\n", 1, "encryption: expected a mapping");

	/* a key file: private, or refused with the fix */
	snprintf(path, sizeof path, "%s/data.key", tmpdir);
	write_file(path, b64);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(yaml, sizeof yaml, "encryption:\n  key_file: [%s]\n", path);
	cfg = load_ok(yaml);
	assert_int_equal(cfg->n_enc_keys, 1);
	assert_int_equal(cfg->enc_keys[0][1], 1);
	hg_config_free(cfg);
	assert_int_equal(chmod(path, 0644), 0);
	snprintf(msg, sizeof msg,
		 "key_file: %s is open to every user of this machine (mode 0644); run chmod 600 %s",
		 path, path);
	expect_error(yaml, 2, msg);
	/* a group may read it (a service group), not write it */
	assert_int_equal(chmod(path, 0640), 0);
	hg_config_free(load_ok(yaml));
	assert_int_equal(chmod(path, 0660), 0);
	snprintf(msg, sizeof msg,
		 "key_file: %s is open to writes by its group (mode 0660); run chmod 600 %s", path,
		 path);
	expect_error(yaml, 2, msg);
	unsetenv("HGT_KEY_HEX");
	unsetenv("HGT_KEY_B64");
	unsetenv("HGT_KEY_SHORT");
}

/* alerts: every rule on with the seeds' thresholds by default; each can be
 * tuned or turned off; the endpoint must exist. */
static void test_alerts(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("threads: 1\n");
	assert_true(cfg->alerts.bad_signatures.on);
	assert_int_equal(cfg->alerts.bad_signatures.limit, 5);
	assert_int_equal(cfg->alerts.bad_signatures.per_ms, 3600000);
	assert_true(cfg->alerts.volume_on);
	assert_true(cfg->alerts.volume_factor == 3);
	assert_int_equal(cfg->alerts.volume_baseline_ms, 7LL * 86400000);
	assert_true(cfg->alerts.duplicate_ratio == 0.10);
	assert_true(cfg->alerts.error_ratio == 0.05);
	assert_int_equal(cfg->alerts.slow_ack_ms, 1500);
	assert_true(cfg->alerts.store_on);
	assert_null(cfg->alerts.endpoint);
	hg_config_free(cfg);
	cfg = load_ok("alerts:\n"
		      "  bad_signatures: {limit: 10, per: 10m}\n"
		      "  volume: off\n"
		      "  duplicate_ratio: 0.2\n"
		      "  error_ratio: off\n"
		      "  slow_ack: 2s\n"
		      "  store: off\n"
		      "  min_requests: 5\n"
		      "  endpoint: ops\n"
		      "endpoints:\n"
		      "  - {name: ops, url: \"http://127.0.0.1:9/alerts\"}\n");
	assert_int_equal(cfg->alerts.bad_signatures.limit, 10);
	assert_int_equal(cfg->alerts.bad_signatures.per_ms, 600000);
	assert_false(cfg->alerts.volume_on);
	assert_true(cfg->alerts.duplicate_ratio == 0.2);
	assert_false(cfg->alerts.error_on);
	assert_int_equal(cfg->alerts.slow_ack_ms, 2000);
	assert_false(cfg->alerts.store_on);
	assert_int_equal(cfg->alerts.min_requests, 5);
	assert_string_equal(cfg->alerts.endpoint, "ops");
	hg_config_free(cfg);
	expect_error(
	    "alerts:\n  endpoint: nowhere\n", 2,
	    "endpoint: alerts.endpoint names 'nowhere', which is not one of the endpoints");
	expect_error("alerts:\n  bad_signatures: {limit: 5, per: 2h}\n", 2,
		     "per: expected a duration from 1s to 1h such as 10m, got \"2h\"");
	expect_error("alerts:\n  duplicate_ratio: 2\n", 2,
		     "duplicate_ratio: expected a ratio from 0 to 1 such as 0.1, or off");
	expect_error("alerts:\n  volume: {factor: 3, baseline: 36h}\n", 2,
		     "alerts.volume.baseline: expected a whole number of days");
	expect_error("alerts:\n  bad_signature: off\n", 2, "unknown key 'bad_signature' in alerts");
}

static void test_secret_file(void **state)
{
	char path[512], yaml[1024], msg[1024];
	struct hg_config *cfg;
	const struct hg_source *s;

	(void)state;
	snprintf(path, sizeof path, "%s/one.secret", tmpdir);
	write_file(path, "from-file\n");
	snprintf(path, sizeof path, "%s/keys", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/keys/two.secret", tmpdir);
	write_file(path, "crlf\r\n");
	snprintf(path, sizeof path, "%s/three.secret", tmpdir);
	write_file(path, "two-lines\n\n");
	snprintf(path, sizeof path, "%s/empty.secret", tmpdir);
	write_file(path, "\n");

	/* relative to the config's directory, not the working directory */
	snprintf(yaml, sizeof yaml,
		 "sources:\n"
		 "  - name: a\n"
		 "    provider: meta\n"
		 "    secret_file: [one.secret, keys/two.secret, %s/three.secret]\n"
		 "    secret_env: HGT_OLD\n",
		 tmpdir);
	cfg = load_ok(yaml);
	s = &cfg->sources[0];
	assert_int_equal(s->n_secrets, 4);
	assert_secret(&s->secrets[0], "old-secret"); /* secret_env comes first */
	assert_secret(&s->secrets[1], "from-file");
	assert_secret(&s->secrets[2], "crlf");
	assert_secret(&s->secrets[3], "two-lines\n"); /* only one line break is stripped */
	hg_config_free(cfg);

	snprintf(msg, sizeof msg,
		 "secret_file: cannot read %s/missing.secret: No such file or directory", tmpdir);
	expect_exact_error(
	    "sources:\n  - name: a\n    provider: meta\n    secret_file: missing.secret\n", 4, msg);
	snprintf(msg, sizeof msg, "secret_file: %s/empty.secret is empty; put the secret in it",
		 tmpdir);
	expect_exact_error(
	    "sources:\n  - name: a\n    provider: meta\n    secret_file: empty.secret\n", 4, msg);
}

static void test_inline_secret_warns(void **state)
{
	char logpath[512], log[4096] = "";
	struct hg_config *cfg;
	int saved, fd;
	ssize_t n;

	(void)state;
	snprintf(logpath, sizeof logpath, "%s/stderr.log", tmpdir);
	fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	cfg = load_ok("sources:\n"
		      "  - name: dev-source\n"
		      "    provider: meta\n"
		      "    secret: [inline-value-1, inline-value-2]\n");
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	n = pread(fd, log, sizeof log - 1, 0);
	close(fd);
	assert_true(n > 0);
	assert_int_equal(cfg->sources[0].n_secrets, 2);
	assert_secret(&cfg->sources[0].secrets[1], "inline-value-2");
	hg_config_free(cfg);
	assert_non_null(strstr(log, "dev-source"));
	assert_non_null(strstr(log, "warn"));
	assert_null(strstr(log, "inline-value"));

	expect_exact_error("sources:\n  - {name: a, provider: meta, secret: \"\"}\n", 2,
			   "secret: expected a secret or a list of them, got \"\"");
}

static void test_hmac_fields(void **state)
{
	(void)state;
	expect_exact_error(
	    "sources:\n  - name: z\n    provider: hmac\n    secret_env: HGT_OLD\n", 2,
	    "source 'z' uses provider hmac and needs header: the request header that "
	    "carries the signature, such as x-zoho-webhook-signature");
	expect_exact_error(
	    "sources:\n  - name: m\n    provider: meta\n    secret_env: HGT_OLD\n"
	    "    header: x-sig\n",
	    5,
	    "header: only providers hmac and token take this key; source 'm' uses provider meta, "
	    "which fixes it");
	expect_error("sources:\n  - name: m\n    provider: github\n    secret_env: HGT_OLD\n"
		     "    algorithm: sha1\n",
		     5, "algorithm: only provider hmac takes this key");
	expect_exact_error("sources:\n  - name: z\n    provider: hmac\n    header: x-sig\n"
			   "    secret_env: HGT_OLD\n    algorithm: md5\n",
			   6, "algorithm: expected one of sha1, sha256, sha512, got \"md5\"");
	expect_exact_error("sources:\n  - name: z\n    provider: hmac\n    header: x-sig\n"
			   "    secret_env: HGT_OLD\n    encoding: base32\n",
			   6, "encoding: expected one of hex, base64, got \"base32\"");
	expect_error("sources:\n  - name: z\n    provider: hmac\n    header: \"x sig\"\n"
		     "    secret_env: HGT_OLD\n",
		     4, "header: expected an HTTP header name");
}

static void test_dedupe(void **state)
{
	struct hg_config *cfg;
	const struct hg_source *s;

	(void)state;
	/* Twilio: its idempotency header, else the message's SID in the form */
	cfg = load_ok("sources:\n  - name: a\n    provider: twilio\n    secret_env: HGT_OLD\n"
		      "    dedupe: [header:I-Twilio-Idempotency-Token, \"FORM: MessageSid\"]\n");
	s = &cfg->sources[0];
	assert_int_equal(s->n_dedupe, 2);
	assert_string_equal(s->dedupe[0].header, "I-Twilio-Idempotency-Token");
	assert_null(s->dedupe[0].form);
	assert_string_equal(s->dedupe[1].expr, "FORM: MessageSid");
	assert_string_equal(s->dedupe[1].form, "MessageSid");
	assert_null(s->dedupe[1].header);
	assert_null(s->dedupe[1].path);
	hg_config_free(cfg);

	expect_error("sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
		     "    dedupe:\n      - $.id\n      - \"$.a[\"\n",
		     7, "dedupe: \"$.a[\" is not a valid JSON path: ");
	expect_exact_error("sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
			   "    dedupe: id\n",
			   5,
			   "dedupe: expected \"header:Name\", \"form:Name\" or a JSON path "
			   "starting with $, got \"id\"");
	expect_exact_error("sources:\n  - name: a\n    provider: twilio\n    secret_env: HGT_OLD\n"
			   "    dedupe:\n      - header:I-Twilio-Idempotency-Token\n"
			   "      - \"form: \"\n",
			   7,
			   "dedupe: \"form: \" needs a form field name after 'form:', as in "
			   "form:MessageSid");
	expect_exact_error("sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
			   "    dedupe: \"header:\"\n",
			   5,
			   "dedupe: \"header:\" needs a header name after 'header:', as in "
			   "header:X-GitHub-Delivery");
	expect_error("sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
		     "    dedupe:\n",
		     5,
		     "dedupe: expected \"header:Name\", \"form:Name\", a JSON path starting "
		     "with $, or a list");
}

/* ---- tls and trusted proxies ---- */

/* The contents do not matter to the loader: it only checks the files can
 * be opened, the HTTP server parses them. */
static void write_tls_files(void)
{
	static const char *const names[] = {"cert.pem", "key.pem", "ca.pem"};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		write_file(path, "-----BEGIN PLACEHOLDER-----\n");
	}
	snprintf(path, sizeof path, "%s/tls-dir", tmpdir);
	if (access(path, F_OK) != 0)
		assert_int_equal(mkdir(path, 0700), 0);
}

static void test_tls(void **state)
{
	struct hg_config *cfg;
	char want[512], msg[1024];

	(void)state;
	write_tls_files();
	/* relative to the config file's directory */
	cfg = load_ok("tls: {cert: cert.pem, key: key.pem}\n");
	snprintf(want, sizeof want, "%s/cert.pem", tmpdir);
	assert_string_equal(cfg->tls_cert, want);
	snprintf(want, sizeof want, "%s/key.pem", tmpdir);
	assert_string_equal(cfg->tls_key, want);
	assert_null(cfg->tls_client_ca);
	assert_int_equal(cfg->tls_client_cert, HG_CLIENT_CERT_NONE);
	hg_config_free(cfg);

	/* client_ca alone asks for an optional certificate */
	snprintf(msg, sizeof msg,
		 "tls:\n  cert: cert.pem\n  key: %s/key.pem\n  client_ca: ca.pem\n", tmpdir);
	cfg = load_ok(msg);
	snprintf(want, sizeof want, "%s/ca.pem", tmpdir);
	assert_string_equal(cfg->tls_client_ca, want);
	assert_int_equal(cfg->tls_client_cert, HG_CLIENT_CERT_OPTIONAL);
	hg_config_free(cfg);
	cfg = load_ok("tls: {cert: cert.pem, key: key.pem, client_ca: ca.pem, client_cert: "
		      "Require}\n");
	assert_int_equal(cfg->tls_client_cert, HG_CLIENT_CERT_REQUIRE);
	hg_config_free(cfg);

	/* the default config has no TLS */
	cfg = load_ok("listen: :8443\n");
	assert_null(cfg->tls_cert);
	assert_int_equal(cfg->tls_client_cert, HG_CLIENT_CERT_NONE);
	hg_config_free(cfg);

	expect_exact_error("listen: :8443\ntls:\n  cert: cert.pem\n", 2,
			   "tls: cert and key go together; give both the certificate chain "
			   "(cert:) and its private key (key:)");
	expect_error("tls: {key: key.pem, client_ca: ca.pem}\n", 1,
		     "tls: cert and key go together");
	snprintf(msg, sizeof msg, "cert: cannot read %s/missing.pem: No such file or directory",
		 tmpdir);
	expect_exact_error("tls:\n  key: key.pem\n  cert: missing.pem\n", 3, msg);
	snprintf(msg, sizeof msg, "key: %s/tls-dir is not a regular file", tmpdir);
	expect_exact_error("tls: {cert: cert.pem, key: tls-dir}\n", 1, msg);
	expect_exact_error("tls:\n  cert: cert.pem\n  key: key.pem\n  client_cert: require\n", 4,
			   "client_cert: client certificates need client_ca: the CA file they "
			   "are verified against");
	expect_exact_error(
	    "tls: {cert: cert.pem, key: key.pem, client_ca: ca.pem, client_cert: maybe}\n", 1,
	    "client_cert: expected one of optional, require, got \"maybe\"");
	expect_exact_error("tls: yes\n", 1,
			   "tls: expected a mapping such as {cert: cert.pem, key: key.pem, "
			   "client_ca: ca.pem}, got a single value");
	expect_exact_error("tls:\n  cert: cert.pem\n  ciphers: x\n", 3,
			   "unknown key 'ciphers' in tls; expected one of cert, key, client_ca, "
			   "client_cert");
	expect_error("tls: {cert: \"\", key: key.pem}\n", 1,
		     "cert: expected a file path (PEM), got");
}

static void test_trusted_proxies(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("trusted_proxies: [127.0.0.0/8, \"::1\", 192.0.2.10, 2001:db8::/32]\n");
	assert_int_equal(cfg->n_trusted_proxies, 4);
	assert_int_equal(cfg->trusted_proxies[0].prefix, 8);
	assert_int_equal(cfg->trusted_proxies[1].prefix, 128);
	assert_int_equal(cfg->trusted_proxies[2].prefix, 32);
	assert_true(hg_cidr_contains(&cfg->trusted_proxies[0], "127.0.0.1"));
	assert_true(hg_cidr_contains(&cfg->trusted_proxies[3], "2001:db8::7"));
	hg_config_free(cfg);

	cfg = load_ok("trusted_proxies: 127.0.0.1\n");
	assert_int_equal(cfg->n_trusted_proxies, 1);
	hg_config_free(cfg);
	cfg = load_ok("trusted_proxies: []\n");
	assert_int_equal(cfg->n_trusted_proxies, 0);
	hg_config_free(cfg);

	expect_exact_error("trusted_proxies:\n  - 127.0.0.0/8\n  - 10.0.0.0/33\n", 3,
			   "trusted_proxies: expected an address or range such as 192.0.2.10, "
			   "10.0.0.0/8 or 2001:db8::/32, got \"10.0.0.0/33\"");
	expect_error("trusted_proxies: proxy.example.com\n", 1,
		     "trusted_proxies: expected an address or range");
	expect_error("trusted_proxies: {a: 1}\n", 1,
		     "trusted_proxies: expected an address or range, or a list of them, got a "
		     "mapping");
}

/* ---- replay windows, public_url, rate limits, mtls ---- */

#define SRC(provider) "sources:\n  - name: a\n    provider: " provider "\n    secret_env: HGT_OLD\n"
#define SRC_HMAC      SRC("hmac") "    header: x-sig\n"

static int first_value(json_t *v, void *arg)
{
	*(json_t **)arg = v;
	return 1;
}

/* The integer the first value path p selects in json. */
static int64_t first_int(const struct hg_jsonpath *p, const char *json)
{
	json_t *root = json_loads(json, 0, NULL), *v = NULL;
	int64_t n;

	assert_non_null(root);
	hg_jsonpath_each(p, root, first_value, &v);
	assert_non_null(v);
	n = json_integer_value(v);
	json_decref(root);
	return n;
}

static void test_tolerance(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok(SRC("stripe") "    tolerance: 60s\n");
	assert_int_equal(cfg->sources[0].tolerance_ms, 60 * 1000);
	hg_config_free(cfg);
	cfg = load_ok(SRC("slack") "    tolerance: 10m\n");
	assert_int_equal(cfg->sources[0].tolerance_ms, 10 * 60 * 1000);
	hg_config_free(cfg);
	cfg = load_ok(SRC("standard") "    tolerance: 1500ms\n");
	assert_int_equal(cfg->sources[0].tolerance_ms, 1500);
	hg_config_free(cfg);

	expect_exact_error(SRC("meta") "    tolerance: 60s\n", 5,
			   "tolerance: source 'a' uses provider meta, which signs no timestamp; "
			   "tolerance applies to stripe, slack, standard, zoho");
	expect_exact_error(
	    SRC("clipper") "    tolerance: 60s\n", 5,
	    "tolerance: source 'a' uses provider clipper, which signs no "
	    "timestamp; tolerance applies to stripe, slack, standard, zoho (use max_age "
	    "to bound a body field's age)");
	expect_exact_error(SRC("stripe") "    tolerance: 0s\n", 5,
			   "tolerance: expected a duration above zero such as 500ms, 10s or 5m, "
			   "got \"0s\"");
	expect_error(SRC("stripe") "    tolerance: 5 minutes\n", 5,
		     "tolerance: expected a duration above zero");
}

static void test_max_age(void **state)
{
	struct hg_config *cfg;
	const struct hg_source *s;

	(void)state;
	/* the short form means $.timestamp */
	cfg = load_ok(SRC("clipper") "    max_age: 2m\n");
	s = &cfg->sources[0];
	assert_int_equal(s->max_age_ms, 120 * 1000);
	assert_non_null(s->max_age_path);
	assert_int_equal(first_int(s->max_age_path, "{\"x\":1,\"timestamp\":42}"), 42);
	assert_int_equal(s->tolerance_ms, 300 * 1000);
	hg_config_free(cfg);

	cfg = load_ok(SRC_HMAC "    max_age: {path: $.meta.sent_at, within: 90s}\n");
	s = &cfg->sources[0];
	assert_int_equal(s->max_age_ms, 90 * 1000);
	assert_int_equal(first_int(s->max_age_path, "{\"meta\":{\"sent_at\":7}}"), 7);
	hg_config_free(cfg);

	/* each half of the long form has its default */
	cfg = load_ok(SRC("clipper") "    max_age: {within: 1m}\n");
	assert_int_equal(cfg->sources[0].max_age_ms, 60 * 1000);
	assert_int_equal(first_int(cfg->sources[0].max_age_path, "{\"timestamp\":3}"), 3);
	hg_config_free(cfg);
	cfg = load_ok(SRC("clipper") "    max_age:\n      path: $.ts\n");
	assert_int_equal(cfg->sources[0].max_age_ms, 300 * 1000);
	assert_int_equal(first_int(cfg->sources[0].max_age_path, "{\"ts\":9}"), 9);
	hg_config_free(cfg);

	expect_exact_error(SRC("stripe") "    max_age: 5m\n", 5,
			   "max_age: only providers clipper, hmac take this key; source 'a' uses "
			   "provider stripe, whose signed timestamp is checked against tolerance");
	expect_exact_error(SRC("meta") "    max_age: 5m\n", 5,
			   "max_age: only providers clipper, hmac take this key; source 'a' uses "
			   "provider meta");
	expect_exact_error(SRC("clipper") "    max_age: 0\n", 5,
			   "max_age: expected a duration above zero such as 5m, or {path: "
			   "$.timestamp, within: 5m}, got \"0\"");
	expect_exact_error(SRC("clipper") "    max_age:\n      path: timestamp\n", 6,
			   "path: expected a JSON path starting with $, got \"timestamp\"");
	expect_error(SRC("clipper") "    max_age: {path: \"$.a[\", within: 1m}\n", 5,
		     "path: \"$.a[\" is not a valid JSON path: ");
	expect_exact_error(SRC("clipper") "    max_age: {within: soon}\n", 5,
			   "within: expected a duration above zero such as 500ms, 10s or 5m, got "
			   "\"soon\"");
	expect_exact_error(SRC("clipper") "    max_age: {path: $.ts, age: 1m}\n", 5,
			   "unknown key 'age' in max_age; expected one of path, within");
	expect_error(SRC("clipper") "    max_age: [5m]\n", 5,
		     "max_age: expected a duration above zero such as 5m, or {path: $.timestamp, "
		     "within: 5m}, got a list");
}

static void test_source_public_url(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("public_url: https://hooks.example.com\n" SRC(
	    "twilio") "    public_url: https://sms.example.com/base//\n"
		      "  - {name: b, provider: twilio, secret_env: HGT_OLD}\n");
	assert_string_equal(cfg->public_url, "https://hooks.example.com");
	assert_string_equal(cfg->sources[0].public_url, "https://sms.example.com/base");
	assert_null(cfg->sources[1].public_url); /* inbound.c falls back to the global one */
	hg_config_free(cfg);

	expect_exact_error(SRC("twilio") "    public_url: ftp://sms.example.com\n", 5,
			   "public_url: expected an http:// or https:// URL without query, such as "
			   "https://hooks.example.com, got \"ftp://sms.example.com\"");
	expect_error(SRC("twilio") "    public_url: https://x.example.com/?a=1\n", 5,
		     "public_url: expected an http:// or https:// URL");
}

static void test_rate_limit(void **state)
{
	struct hg_config *cfg;
	const struct hg_rate_limit *rl;

	(void)state;
	/* the WhatsApp seed: 100 per hour per phone number */
	cfg = load_ok(SRC("meta") "    rate_limit: {key: \"$.entry[*].changes[*].value.messages[*]"
				  ".from\", limit: 100, per: 1h}\n");
	rl = &cfg->sources[0].rate_limit;
	assert_string_equal(rl->key, "$.entry[*].changes[*].value.messages[*].from");
	assert_non_null(rl->path);
	assert_null(rl->header);
	assert_false(rl->by_ip);
	assert_int_equal(rl->limit, 100);
	assert_int_equal(rl->per_ms, 3600 * 1000);
	hg_config_free(cfg);

	cfg =
	    load_ok(SRC("meta") "    rate_limit:\n      key: ip\n      limit: 5\n      per: 10s\n");
	rl = &cfg->sources[0].rate_limit;
	assert_true(rl->by_ip);
	assert_null(rl->path);
	assert_int_equal(rl->limit, 5);
	assert_int_equal(rl->per_ms, 10 * 1000);
	hg_config_free(cfg);

	cfg = load_ok(
	    SRC("meta") "    rate_limit: {key: \"header: X-Api-Key\", limit: 1, per: 1d}\n");
	rl = &cfg->sources[0].rate_limit;
	assert_string_equal(rl->header, "X-Api-Key");
	assert_int_equal(rl->per_ms, 86400 * 1000LL);
	hg_config_free(cfg);

	/* Twilio: 100 per hour per phone number (DESIGN §8) */
	cfg = load_ok(SRC("meta") "    rate_limit: {key: \"form:From\", limit: 100, per: 1h}\n");
	rl = &cfg->sources[0].rate_limit;
	assert_string_equal(rl->key, "form:From");
	assert_string_equal(rl->form, "From");
	assert_null(rl->header);
	assert_null(rl->path);
	assert_false(rl->by_ip);
	hg_config_free(cfg);

	/* without rate_limit nothing is limited */
	cfg = load_ok(SRC("meta"));
	assert_int_equal(cfg->sources[0].rate_limit.limit, 0);
	assert_null(cfg->sources[0].rate_limit.key);
	hg_config_free(cfg);

	expect_exact_error(SRC("meta") "    rate_limit: {key: ip, limit: 0, per: 1h}\n", 5,
			   "limit: expected a whole number >= 1, got \"0\"");
	expect_exact_error(SRC("meta") "    rate_limit: {key: ip, limit: 10, per: 0s}\n", 5,
			   "per: expected a duration above zero such as 500ms, 10s or 5m, got "
			   "\"0s\"");
	expect_exact_error(SRC("meta") "    rate_limit:\n      limit: 10\n      per: 1h\n", 5,
			   "rate_limit: source 'a' needs key: what a limit counts per, such as "
			   "ip, header:X-Api-Key or $.entry[*].changes[*].value.messages[*].from");
	expect_exact_error(SRC("meta") "    rate_limit:\n      key: ip\n      limit: 10\n", 5,
			   "rate_limit: source 'a' needs both limit: (requests) and per: (a "
			   "duration), as in {key: ip, limit: 100, per: 1h}");
	expect_exact_error(SRC("meta") "    rate_limit:\n      key: phone\n", 6,
			   "key: expected ip, \"header:Name\", \"form:Name\" or a JSON path "
			   "starting with $, got \"phone\"");
	expect_exact_error(SRC("meta") "    rate_limit:\n      key: \"form:\"\n", 6,
			   "key: \"form:\" needs a form field name after 'form:', as in "
			   "form:MessageSid");
	expect_error(SRC("meta") "    rate_limit: {key: \"$.a[\", limit: 1, per: 1s}\n", 5,
		     "key: \"$.a[\" is not a valid JSON path");
	expect_exact_error(SRC("meta") "    rate_limit: 100\n", 5,
			   "rate_limit: expected a mapping such as {key: ip, limit: 100, per: "
			   "1h}, got a single value");
	expect_exact_error(SRC("meta") "    rate_limit: {key: ip, limit: 1, per: 1s, burst: 2}\n",
			   5,
			   "unknown key 'burst' in rate_limit of source 'a'; expected one of key, "
			   "limit, per");
}

static void test_mtls(void **state)
{
	struct hg_config *cfg;
	const struct hg_source *s;

	(void)state;
	write_tls_files();
	cfg = load_ok("tls: {cert: cert.pem, key: key.pem, client_ca: ca.pem}\n" SRC(
	    "meta") "    mtls: {require: true, subject: client.webhooks.fbclientcerts.com}\n");
	s = &cfg->sources[0];
	assert_true(s->mtls_require);
	assert_int_equal(s->n_mtls_subjects, 1);
	assert_string_equal(s->mtls_subjects[0], "client.webhooks.fbclientcerts.com");
	hg_config_free(cfg);

	/* provider meta knows the name Meta's certificate carries */
	cfg = load_ok("tls: {cert: cert.pem, key: key.pem, client_ca: ca.pem}\n" SRC(
	    "meta") "    mtls: {require: true}\n");
	s = &cfg->sources[0];
	assert_true(s->mtls_require);
	assert_int_equal(s->n_mtls_subjects, 1);
	assert_string_equal(s->mtls_subjects[0], HG_META_MTLS_SUBJECT);
	hg_config_free(cfg);

	/* a list: any of the names matches */
	cfg = load_ok("tls: {cert: cert.pem, key: key.pem, client_ca: ca.pem}\n" SRC(
	    "github") "    mtls: {require: true, subject: [a.example.com, b.example.com]}\n");
	s = &cfg->sources[0];
	assert_int_equal(s->n_mtls_subjects, 2);
	assert_string_equal(s->mtls_subjects[0], "a.example.com");
	assert_string_equal(s->mtls_subjects[1], "b.example.com");
	hg_config_free(cfg);

	/* behind a TLS-terminating proxy the certificate arrives in its headers */
	cfg = load_ok("trusted_proxies: [127.0.0.1]\n" SRC(
	    "meta") "    mtls:\n      require: TRUE\n      subject: "
		    "client.webhooks.fbclientcerts.com\n");
	assert_true(cfg->sources[0].mtls_require);
	hg_config_free(cfg);

	/* as DESIGN.md writes it: not required, nothing else needed */
	cfg = load_ok(
	    SRC("meta") "    mtls: {require: false, subject: client.webhooks.fbclientcerts.com}\n");
	assert_false(cfg->sources[0].mtls_require);
	hg_config_free(cfg);
	cfg = load_ok(SRC("meta") "    mtls: {}\n");
	assert_false(cfg->sources[0].mtls_require);
	assert_int_equal(cfg->sources[0].n_mtls_subjects, 0);
	hg_config_free(cfg);

	expect_exact_error(
	    SRC("meta") "    mtls:\n      subject: client.webhooks.fbclientcerts.com\n"
			"      require: true\n",
	    7,
	    "require: source 'a' requires a client certificate, but none can reach "
	    "hookgate; set tls: {client_ca: ...} at the top level (hookgate "
	    "terminates TLS) or trusted_proxies (a proxy verifies it)");
	/* TLS without client_ca cannot ask for a certificate either */
	expect_error("tls: {cert: cert.pem, key: key.pem}\n" SRC(
			 "meta") "    mtls: {require: true, subject: x.example.com}\n",
		     6, "require: source 'a' requires a client certificate, but none can reach");
	expect_exact_error(
	    "trusted_proxies: 127.0.0.1\n" SRC("github") "    mtls:\n      require: true\n", 6,
	    "mtls: source 'a' requires a client certificate but names no subject; "
	    "add subject: the CN or DNS name the certificate must carry (or a list of "
	    "them), such as client.webhooks.fbclientcerts.com");
	expect_exact_error(SRC("meta") "    mtls: {require: maybe}\n", 5,
			   "require: expected one of false, true, got \"maybe\"");
	expect_exact_error(
	    SRC("meta") "    mtls: {subject: \"CN=x,O=y\"}\n", 5,
	    "subject: expected a certificate subject name such as "
	    "client.webhooks.fbclientcerts.com, or a list of them, got \"CN=x,O=y\"");
	expect_exact_error(SRC("meta") "    mtls: true\n", 5,
			   "mtls: expected a mapping such as {require: true, subject: "
			   "client.webhooks.fbclientcerts.com}, got a single value");
	expect_exact_error(SRC("meta") "    mtls: {require: true, cn: x}\n", 5,
			   "unknown key 'cn' in mtls of source 'a'; expected one of require, "
			   "subject");
}

static void test_token_source(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok(SRC("token") "    header: x-zoho-token\n");
	assert_string_equal(cfg->sources[0].header, "x-zoho-token");
	assert_int_equal(cfg->sources[0].n_dedupe, 0);
	hg_config_free(cfg);
	cfg = load_ok(SRC("token") "    header: query:token\n");
	assert_string_equal(cfg->sources[0].header, "query:token");
	hg_config_free(cfg);

	expect_exact_error(SRC("token"), 2,
			   "source 'a' uses provider token and needs header: the request header "
			   "that carries the token, such as x-zoho-token, or query:Name for a "
			   "query parameter");
	expect_exact_error(SRC("token") "    header: \"query:\"\n", 5,
			   "header: expected a header name such as x-zoho-token, or query:Name, "
			   "got \"query:\"");
	expect_exact_error(SRC("token") "    header: x-zoho-token\n    prefix: t=\n", 6,
			   "prefix: only provider hmac takes this key; source 'a' uses provider "
			   "token, which fixes it");
}

static void test_zoho_source(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok(SRC("zoho"));
	assert_int_equal(cfg->sources[0].tolerance_ms, 300 * 1000);
	assert_int_equal(cfg->sources[0].n_dedupe, 0);
	hg_config_free(cfg);
	cfg = load_ok(SRC("zoho") "    tolerance: 60s\n");
	assert_int_equal(cfg->sources[0].tolerance_ms, 60 * 1000);
	hg_config_free(cfg);
	expect_exact_error(
	    SRC("zoho") "    header: x-zoho-webhook-signature\n", 5,
	    "header: only providers hmac and token take this key; source 'a' uses provider "
	    "zoho, which fixes it");
}

static void test_find_source(void **state)
{
	struct hg_config *cfg;
	const char *path = "zoho-crm/extra";

	(void)state;
	cfg = load_ok("sources:\n"
		      "  - {name: zoho, provider: meta, secret_env: HGT_OLD}\n"
		      "  - {name: zoho-crm, provider: meta, secret_env: HGT_OLD}\n");
	assert_ptr_equal(hg_config_find_source(cfg, path, 8), &cfg->sources[1]);
	assert_ptr_equal(hg_config_find_source(cfg, path, 4), &cfg->sources[0]);
	assert_null(hg_config_find_source(cfg, path, 3));
	assert_null(hg_config_find_source(cfg, path, strlen(path)));
	assert_null(hg_config_find_source(NULL, path, 4));
	hg_config_free(cfg);
	hg_config_free(NULL);
}

/* ---- endpoints, retry policies and routes ---- */

static void test_endpoints(void **state)
{
	struct hg_config *cfg;
	const struct hg_endpoint *e;

	(void)state;
	cfg =
	    load_ok("max_in_flight: 16\n"
		    "retention: 30d\n"
		    "admin_token_env: HGT_NEW\n"
		    "endpoints:\n"
		    "  - name: orders\n"
		    "    url: http://127.0.0.1:9000/process?queue=1\n"
		    "    timeout: 5s\n"
		    "    max_in_flight: 2\n"
		    "    retry: {schedule: [0s, 300ms, 2m], max_delay: 1m, jitter: 25%}\n"
		    "    secret_env: HGT_OLD\n"
		    "  - {name: worker, exec: /bin/sh  -c   'exit'}\n"
		    "  - {name: on-path, exec: sh -c true, retry: {attempts: 3, base: 2s, factor: "
		    "1.5}}\n"
		    "  - {name: signed, url: https://app.internal/hook, secret: "
		    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}\n");
	assert_int_equal(cfg->max_in_flight, 16);
	assert_int_equal(cfg->retention_ms, 30LL * 86400000);
	assert_string_equal(cfg->admin_token_env, "HGT_NEW");
	assert_secret(&cfg->admin_token, "new-secret");
	assert_int_equal(cfg->n_endpoints, 4);

	e = hg_config_find_endpoint(cfg, "orders");
	assert_ptr_equal(e, &cfg->endpoints[0]);
	assert_string_equal(e->url, "http://127.0.0.1:9000/process?queue=1");
	assert_null(e->argv);
	assert_int_equal(e->timeout_ms, 5000);
	assert_int_equal(e->max_in_flight, 2);
	assert_int_equal(e->retry.attempts, 3);
	assert_int_equal(e->retry.schedule_ms[1], 300);
	assert_int_equal(e->retry.schedule_ms[2], 120000);
	assert_int_equal(e->retry.max_delay_ms, 60000);
	assert_true(e->retry.jitter > 0.2499 && e->retry.jitter < 0.2501);
	/* a raw secret becomes the Standard Webhooks form of the same key */
	assert_secret(&e->secret, "whsec_b2xkLXNlY3JldA==");

	/* exec: split at spaces, no shell, no quotes */
	e = &cfg->endpoints[1];
	assert_null(e->url);
	assert_string_equal(e->argv[0], "/bin/sh");
	assert_string_equal(e->argv[1], "-c");
	assert_string_equal(e->argv[2], "'exit'");
	assert_null(e->argv[3]);
	/* defaults */
	assert_int_equal(e->timeout_ms, HG_DEFAULT_ENDPOINT_TIMEOUT_MS);
	assert_int_equal(e->max_in_flight, HG_DEFAULT_ENDPOINT_MAX_IN_FLIGHT);
	assert_int_equal(e->retry.attempts, 5);
	assert_int_equal(e->retry.schedule_ms[0], 0);
	assert_int_equal(e->retry.schedule_ms[4], 480000);
	assert_int_equal(e->retry.max_delay_ms, 3600000);
	assert_true(e->retry.jitter > 0.0999 && e->retry.jitter < 0.1001);
	assert_null(e->secret.bytes);

	/* a bare command is looked up on PATH now */
	e = &cfg->endpoints[2];
	assert_int_equal(e->argv[0][0], '/');
	assert_non_null(strstr(e->argv[0], "/sh"));
	assert_null(e->retry.schedule_ms);
	assert_int_equal(e->retry.attempts, 3);
	assert_int_equal(e->retry.base_ms, 2000);
	assert_true(e->retry.factor > 1.49 && e->retry.factor < 1.51);

	assert_secret(&cfg->endpoints[3].secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
	/* secrets from the environment are kept from exec commands */
	assert_int_equal(cfg->n_secret_envs, 2);
	assert_string_equal(cfg->secret_envs[0], "HGT_NEW");
	assert_string_equal(cfg->secret_envs[1], "HGT_OLD");
	hg_config_free(cfg);

	cfg = load_ok("listen: :80\n");
	assert_int_equal(cfg->max_in_flight, HG_DEFAULT_MAX_IN_FLIGHT);
	assert_int_equal(cfg->retention_ms, 0);
	assert_null(cfg->admin_token.bytes);
	hg_config_free(cfg);
}

/* circuit: {failures, cooldown} per endpoint, and alerts.endpoint naming one */
static void test_circuit_and_alerts(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("endpoints:\n"
		      "  - {name: orders, url: http://127.0.0.1:9/, circuit: {failures: 20, "
		      "cooldown: 1m}}\n"
		      "  - {name: ops, url: http://127.0.0.1:9/}\n"
		      "alerts: {endpoint: ops}\n");
	assert_int_equal(cfg->endpoints[0].circuit.failures, 20);
	assert_int_equal(cfg->endpoints[0].circuit.cooldown_ms, 60000);
	assert_int_equal(cfg->endpoints[1].circuit.failures, 0); /* off when absent */
	assert_string_equal(cfg->alerts.endpoint, "ops");
	hg_config_free(cfg);
	cfg = load_ok("listen: :80\n");
	assert_null(cfg->alerts.endpoint);
	hg_config_free(cfg);

	expect_exact_error(
	    "endpoints:\n  - {name: a, url: http://x/, circuit: {failures: 3}}\n", 2,
	    "circuit: circuit of endpoint 'a' needs both failures: (how many failed "
	    "attempts in a row open it) and cooldown: (how long it stays open), such "
	    "as {failures: 20, cooldown: 1m}");
	expect_error("endpoints:\n  - {name: a, url: http://x/, circuit: {failures: 0, cooldown: "
		     "1m}}\n",
		     2, "failures: expected a whole number from 1 to 1000000");
	expect_error("endpoints:\n  - {name: a, url: http://x/, circuit: {failures: 2, cooldown: "
		     "soon}}\n",
		     2, "cooldown: expected a duration above zero");
	expect_error("endpoints:\n  - {name: a, url: http://x/, circuit: {failure: 2}}\n", 2,
		     "unknown key 'failure' in circuit of endpoint 'a'");
	expect_error("endpoints:\n  - {name: a, url: http://x/, circuit: 5}\n", 2,
		     "circuit: expected a mapping such as {failures: 20, cooldown: 1m}");
	expect_exact_error(
	    "endpoints:\n  - {name: a, url: http://x/}\nalerts:\n  endpoint: b\n", 4,
	    "endpoint: alerts.endpoint names 'b', which is not one of the endpoints; "
	    "add it under endpoints: or name one that is there");
	expect_error("alerts: {endpoint: \"Not A Name\"}\n", 1,
		     "endpoint: expected the name of one of the config's endpoints");
	expect_error("alerts: [ops]\n", 1, "alerts: expected a mapping");
	expect_error("alerts: {endpont: ops}\n", 1, "unknown key 'endpont' in alerts");
}

static void test_endpoint_errors(void **state)
{
	(void)state;
	expect_exact_error("endpoints:\n  - {name: a, url: http://x/, exec: /bin/true}\n", 2,
			   "exec: endpoint 'a' has both url and exec; an endpoint is either an "
			   "HTTP URL or a command");
	expect_exact_error("endpoints:\n  - name: a\n", 2,
			   "endpoint 'a' has no target; add url: (an http:// or https:// URL) or "
			   "exec: (a command to run)");
	expect_error("endpoints:\n  - {url: http://x/}\n", 2, "endpoint #1 has no name");
	expect_error("endpoints:\n  - {name: a, url: ftp://x/}\n", 2,
		     "url: expected an http:// or https:// URL");
	expect_error("endpoints:\n  - {name: a, url: \"http://x/#frag\"}\n", 2, "url: expected");
	expect_error("endpoints:\n  - {name: a, exec: ./run.sh}\n", 2,
		     "exec: \"./run.sh\" is a relative path");
	expect_error("endpoints:\n  - {name: a, exec: hg-no-such-command-here}\n", 2,
		     "exec: command 'hg-no-such-command-here' was not found on PATH");
	expect_error("endpoints:\n  - {name: a, exec: /nonexistent/run}\n", 2,
		     "exec: cannot run /nonexistent/run: No such file or directory");
	expect_error("endpoints:\n  - {name: a, exec: /tmp}\n", 2,
		     "exec: cannot run /tmp: not a regular file");
	expect_error("endpoints:\n  - {name: a, exec: \"   \"}\n", 2,
		     "exec: expected a command line");
	expect_error("endpoints:\n  - {name: a, exec: /bin/true}\n  - {name: a, exec: /bin/true}\n",
		     3, "name: endpoint 'a' is already defined at line 2");
	expect_error("endpoints:\n  - {name: a, url: http://x/, timeout: 0}\n", 2, "timeout:");
	expect_error("endpoints:\n  - {name: a, url: http://x/, max_in_flight: 0}\n", 2,
		     "max_in_flight: expected a whole number from 1 to 4096");
	expect_error("endpoints:\n  - {name: a, url: http://x/, retry: {schedule: [0s], "
		     "attempts: 3}}\n",
		     2, "attempts: retry of endpoint 'a' gives both schedule: and attempts:");
	expect_error("endpoints:\n  - {name: a, url: http://x/, retry: {schedule: []}}\n", 2,
		     "schedule: expected 1 to 100 waits");
	expect_error("endpoints:\n  - {name: a, url: http://x/, retry: {schedule: 5s}}\n", 2,
		     "schedule: expected a list of waits");
	expect_error("endpoints:\n  - {name: a, url: http://x/, retry: {schedule: [1x]}}\n", 2,
		     "schedule: expected a duration such as 0s");
	expect_error("endpoints:\n  - {name: a, url: http://x/, retry: {jitter: 10}}\n", 2,
		     "jitter: expected a percentage from 0% to 100% such as 10%, got \"10\"");
	expect_error("endpoints:\n  - {name: a, url: http://x/, retry: {jitter: 101%}}\n", 2,
		     "jitter: expected a percentage");
	expect_error("endpoints:\n  - {name: a, url: http://x/, retry: {factor: 0.5}}\n", 2,
		     "factor: expected a number from 1 to 100");
	expect_error("endpoints:\n  - {name: a, url: http://x/, retry: {tries: 3}}\n", 2,
		     "unknown key 'tries' in retry of endpoint 'a'");
	expect_error("endpoints:\n  - {name: a, url: http://x/, secret: s, secret_env: HGT_OLD}\n",
		     2, "already has a secret (secret_env); an endpoint signs with one secret");
	expect_error("endpoints:\n  - {name: a, url: http://x/, secret: \"whsec_!!\"}\n", 2,
		     "secret: the secret starts with whsec_ but is not followed by base64");
	expect_error("endpoints:\n  - {name: a, url: http://x/, secret_env: HGT_MISSING}\n", 2,
		     "secret_env: environment variable HGT_MISSING is not set or is empty");
	expect_error("endpoints:\n  - {name: a, url: http://x/, secret_env: [HGT_OLD]}\n", 2,
		     "secret_env: expected an environment variable name, got a list");
	expect_error("endpoints: {name: a}\n", 1, "endpoints: expected a list of endpoints");
	expect_error("admin_token_env: HGT_MISSING\n", 1,
		     "admin_token_env: environment variable HGT_MISSING is not set");
	expect_error("retention: forever\n", 1,
		     "retention: expected a duration such as 30d, or 0 to keep everything");
	expect_error("max_in_flight: 5000\n", 1, "max_in_flight: expected a whole number");
	expect_error("max_dedupe_keys: 0\n", 1,
		     "max_dedupe_keys: expected a whole number from 1 to 1000000, got \"0\"");
	expect_error("sources:\n  - name: gh\n    provider: github\n    secret_env: HGT_OLD\n"
		     "    max_dedupe_keys: lots\n",
		     5, "max_dedupe_keys: expected a whole number from 1 to 1000000, got \"lots\"");
}

/* audit_window (divides an hour) and audit_max_rows, with their defaults. */
static void test_audit_keys(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("listen: 127.0.0.1:8080\n");
	assert_int_equal(cfg->audit_window_ms, 10000);
	assert_int_equal(cfg->audit_max_rows, 100);
	assert_int_equal(cfg->audit_retention_ms, 0); /* kept forever */
	hg_config_free(cfg);
	cfg = load_ok("audit_window: 1m\naudit_max_rows: 20\n");
	assert_int_equal(cfg->audit_window_ms, 60000);
	assert_int_equal(cfg->audit_max_rows, 20);
	hg_config_free(cfg);
	expect_error("listen: 127.0.0.1:8080\naudit_window: 7s\n", 2,
		     "audit_window: expected a duration from 100ms to 1h that divides an hour, "
		     "such as 1s, 10s or 1m, got \"7s\"");
	expect_error("audit_window: 50ms\n", 1, "audit_window: expected a duration");
	expect_error("audit_window: 2h\n", 1, "audit_window: expected a duration");
	cfg = load_ok("audit_retention: 2557d\n");
	assert_int_equal(cfg->audit_retention_ms, 2557LL * 86400 * 1000);
	hg_config_free(cfg);
	expect_error("audit_retention: forever\n", 1,
		     "audit_retention: expected a duration such as 400d or 2557d, or 0 to keep the "
		     "audit log forever, got \"forever\"");
	expect_error("audit_max_rows: 0\n", 1,
		     "audit_max_rows: expected a whole number from 1 to 1000000, got \"0\"");
}

/* audit: {received, reads}: both off by default, reads "not set" until said. */
static void test_audit_map(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("listen: 127.0.0.1:8080\n");
	assert_int_equal(cfg->audit_received, 0);
	assert_int_equal(cfg->audit_reads, -1);
	assert_int_equal(hg_config_audit_reads(cfg), 0);
	hg_config_free(cfg);
	cfg = load_ok("audit: {received: true, reads: true}\n");
	assert_int_equal(cfg->audit_received, 1);
	assert_int_equal(cfg->audit_reads, 1);
	assert_int_equal(hg_config_audit_reads(cfg), 1);
	hg_config_free(cfg);
	cfg = load_ok("audit:\n  reads: false\n");
	assert_int_equal(cfg->audit_received, 0);
	assert_int_equal(cfg->audit_reads, 0);
	assert_int_equal(hg_config_audit_reads(cfg), 0);
	hg_config_free(cfg);
	cfg = load_ok("audit:\n  received: true\n");
	assert_int_equal(cfg->audit_received, 1);
	assert_int_equal(cfg->audit_reads, -1);
	hg_config_free(cfg);
	expect_error("audit:\n  recieved: true\n", 2,
		     "unknown key 'recieved' in audit; expected one of received, reads");
	expect_error("audit: {reads: sometimes}\n", 1,
		     "reads: expected one of false, true, got \"sometimes\"");
	expect_error("audit: true\n", 1, "audit");
}

/* retention per source: its own, else the top-level one; 0 keeps forever. */
static void test_source_retention(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("retention: 30d\n"
		      "sources:\n"
		      "  - {name: phi, provider: github, secret_env: HGT_OLD, retention: 2557d}\n"
		      "  - {name: wa, provider: github, secret_env: HGT_OLD, retention: 0}\n"
		      "  - {name: gh, provider: github, secret_env: HGT_OLD}\n");
	assert_int_equal(cfg->sources[0].retention_ms, 2557LL * 86400 * 1000);
	assert_int_equal(hg_config_retention(cfg, &cfg->sources[0]), 2557LL * 86400 * 1000);
	assert_int_equal(cfg->sources[1].retention_ms, 0);
	assert_int_equal(hg_config_retention(cfg, &cfg->sources[1]), 0); /* forever */
	assert_int_equal(cfg->sources[2].retention_ms, -1);
	assert_int_equal(hg_config_retention(cfg, &cfg->sources[2]), 30LL * 86400 * 1000);
	assert_int_equal(hg_config_retention(cfg, NULL), 30LL * 86400 * 1000);
	hg_config_free(cfg);
	expect_error(SRC("github") "    retention: forever\n", 5,
		     "retention: expected a duration such as 30d or 2557d, or 0 to keep its "
		     "messages forever, got \"forever\"");
	expect_error(SRC("github") "    retention: -1d\n", 5, "retention: expected a duration");
}

/* max_dedupe_keys: 1000 unless the top level or the source says otherwise. */
static void test_max_dedupe_keys(void **state)
{
	struct hg_config *cfg;

	(void)state;
	cfg = load_ok("sources:\n  - {name: a, provider: github, secret_env: HGT_OLD}\n");
	assert_int_equal(cfg->max_dedupe_keys, 1000);
	assert_int_equal(cfg->sources[0].max_dedupe_keys, 1000);
	hg_config_free(cfg);
	cfg = load_ok(
	    "max_dedupe_keys: 50\n"
	    "sources:\n"
	    "  - {name: a, provider: github, secret_env: HGT_OLD}\n"
	    "  - {name: b, provider: github, secret_env: HGT_OLD, max_dedupe_keys: 5000}\n");
	assert_int_equal(cfg->max_dedupe_keys, 50);
	assert_int_equal(cfg->sources[0].max_dedupe_keys, 50);
	assert_int_equal(cfg->sources[1].max_dedupe_keys, 5000);
	hg_config_free(cfg);
}

static void test_routes(void **state)
{
	struct hg_config *cfg;
	const struct hg_source *s;

	(void)state;
	cfg = load_ok(
	    "sources:\n"
	    "  - name: wa\n"
	    "    provider: meta\n"
	    "    secret_env: HGT_OLD\n"
	    "    routes:\n"
	    "      - orders\n"
	    "      - {endpoint: statuses, when: \"$.entry[*].changes[*].field != 'a b' \"}\n"
	    "  - {name: gh, provider: github, secret_env: HGT_OLD, routes: orders}\n"
	    "endpoints:\n"
	    "  - {name: orders, url: http://127.0.0.1:9/o}\n"
	    "  - {name: statuses, url: http://127.0.0.1:9/s}\n");
	s = &cfg->sources[0];
	assert_int_equal(s->n_routes, 2);
	assert_ptr_equal(s->routes[0].endpoint, &cfg->endpoints[0]);
	assert_null(s->routes[0].when);
	assert_null(s->routes[0].path);
	assert_ptr_equal(s->routes[1].endpoint, &cfg->endpoints[1]);
	assert_non_null(s->routes[1].path);
	assert_int_equal(s->routes[1].negate, 1);
	assert_string_equal(s->routes[1].value, "a b");
	assert_int_equal(s->routes[1].line, 7);
	assert_int_equal(cfg->sources[1].n_routes, 1);
	hg_config_free(cfg);

	expect_exact_error("endpoints:\n  - {name: e, url: http://x/}\n"
			   "sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
			   "    routes: [e, nope]\n",
			   7,
			   "routes: source 'a' routes to endpoint 'nope', which is not defined; "
			   "defined endpoints: e");
	expect_error("sources:\n  - {name: a, provider: meta, secret_env: HGT_OLD, routes: [x]}\n",
		     2, "which is not defined; define it under endpoints:");
	expect_error("endpoints:\n  - {name: e, url: http://x/}\n"
		     "sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
		     "    routes:\n      - {endpoint: e, when: \"$.a\"}\n",
		     8,
		     "when: expected \"$.json.path == value\", \"$.json.path != value\" or "
		     "\"header:Name == value\"");
	expect_error("endpoints:\n  - {name: e, url: http://x/}\n"
		     "sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
		     "    routes:\n      - {endpoint: e, when: \"a.b == 1\"}\n",
		     8, "when: expected a JSON path starting with $");
	expect_error("endpoints:\n  - {name: e, url: http://x/}\n"
		     "sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
		     "    routes:\n      - {when: \"$.a == 1\"}\n",
		     8, "routes: a route of source 'a' names no endpoint");
	expect_error("endpoints:\n  - {name: e, url: http://x/}\n"
		     "sources:\n  - name: a\n    provider: meta\n    secret_env: HGT_OLD\n"
		     "    routes:\n      - {endpoint: e, if: \"$.a == 1\"}\n",
		     8,
		     "unknown key 'if' in a route of source 'a'; expected one of endpoint, when");
}

/* Shape only (the CLI): no secret is read, so unset variables and missing
 * files do not matter, and the admin token's variable is still named. */
/* forward_headers: the provider's defaults, a list of one's own, and the
 * names that may never be forwarded (each an error at its line). */
static void test_forward_headers(void **state)
{
	struct hg_config *cfg;
	const struct hg_source *s;

	(void)state;
	cfg = load_ok(
	    "sources:\n"
	    "  - {name: gh, provider: github, secret_env: HGT_OLD}\n"
	    "  - {name: st, provider: stripe, secret_env: HGT_OLD}\n"
	    "  - name: own\n"
	    "    provider: github\n"
	    "    secret_env: HGT_OLD\n"
	    "    forward_headers: [X-GitHub-Event, x-github-event, X-Request-Id]\n"
	    "  - {name: none, provider: shopify, secret_env: HGT_OLD, forward_headers: []}\n"
	    "  - {name: sh, provider: shopify, secret_env: HGT_OLD}\n");
	s = &cfg->sources[0];
	assert_int_equal(s->n_forward_headers, 3);
	assert_string_equal(s->forward_headers[0], "X-GitHub-Event");
	assert_string_equal(s->forward_headers[1], "X-GitHub-Delivery");
	assert_string_equal(s->forward_headers[2], "X-GitHub-Hook-ID");
	assert_int_equal(cfg->sources[1].n_forward_headers, 0);
	s = &cfg->sources[2];
	assert_int_equal(s->n_forward_headers, 2); /* the same name twice is one */
	assert_string_equal(s->forward_headers[1], "X-Request-Id");
	assert_int_equal(cfg->sources[3].n_forward_headers, 0);
	assert_int_equal(cfg->sources[4].n_forward_headers, 4);
	hg_config_free(cfg);

	expect_error("sources:\n  - name: gh\n    provider: github\n    secret_env: HGT_OLD\n"
		     "    forward_headers:\n      - X-GitHub-Event\n      - X-Hub-Signature-256\n",
		     7, "forward_headers: X-Hub-Signature-256 is a signature header");
	expect_error("sources:\n  - {name: s, provider: stripe, secret_env: HGT_OLD,\n"
		     "     forward_headers: stripe-signature}\n",
		     3, "stripe-signature is a signature header");
	expect_error("sources:\n  - {name: h, provider: hmac, header: X-Sig, secret_env: HGT_OLD,\n"
		     "     forward_headers: [x-sig]}\n",
		     3, "x-sig is a signature header");
	expect_error("sources:\n  - {name: s, provider: meta, secret_env: HGT_OLD,\n"
		     "     forward_headers: [Authorization]}\n",
		     3, "Authorization carries the caller's credentials");
	expect_error("sources:\n  - {name: s, provider: meta, secret_env: HGT_OLD,\n"
		     "     forward_headers: [X-Hookgate-Source]}\n",
		     3, "is set by hookgate");
	expect_error("sources:\n  - {name: s, provider: meta, secret_env: HGT_OLD,\n"
		     "     forward_headers: [\"bad name\"]}\n",
		     3, "forward_headers");
}

/* An endpoint's headers: ${VAR} from the environment (a secret env exec
 * commands do not inherit), and the errors: a missing variable named, a
 * header of hookgate's own, headers on an exec endpoint. */
static void test_endpoint_headers(void **state)
{
	struct hg_config *cfg;
	const struct hg_endpoint *ep;
	char path[256], err[512];
	size_t i;
	int found = 0;

	(void)state;
	setenv("HGT_HDR_TOKEN", "t0k3n", 1);
	cfg = load_ok(
	    "endpoints:\n"
	    "  - name: e\n"
	    "    url: http://127.0.0.1:9/e\n"
	    "    headers: {Authorization: \"Bearer ${HGT_HDR_TOKEN}\", X-Plain: \"a $b\"}\n");
	ep = &cfg->endpoints[0];
	assert_int_equal(ep->n_headers, 2);
	assert_string_equal(ep->headers[0].name, "Authorization");
	assert_string_equal(ep->headers[0].value, "Bearer t0k3n");
	assert_string_equal(ep->headers[1].value, "a $b");
	for (i = 0; i < cfg->n_secret_envs; i++)
		found |= !strcmp(cfg->secret_envs[i], "HGT_HDR_TOKEN");
	assert_true(found);
	hg_config_free(cfg);

	expect_error("endpoints:\n  - name: e\n    url: http://127.0.0.1:9/e\n"
		     "    headers:\n      Authorization: \"Bearer ${HGT_HDR_MISSING}\"\n",
		     5, "environment variable HGT_HDR_MISSING is not set");
	expect_error("endpoints:\n  - name: e\n    url: http://127.0.0.1:9/e\n"
		     "    headers:\n      X-A: \"${HGT_HDR_TOKEN\"\n",
		     5, "headers: a ${ without");
	expect_error("endpoints:\n  - name: e\n    url: http://127.0.0.1:9/e\n"
		     "    headers:\n      webhook-signature: x\n",
		     5, "headers: webhook-signature is set by hookgate");
	expect_error("endpoints:\n  - name: e\n    url: http://127.0.0.1:9/e\n"
		     "    headers:\n      X-Hookgate-Attempt: \"1\"\n",
		     5, "cannot be overridden");
	expect_error("endpoints:\n  - name: e\n    url: http://127.0.0.1:9/e\n"
		     "    headers: [a, b]\n",
		     4, "expected a mapping");
	expect_error("endpoints:\n  - name: e\n    url: http://127.0.0.1:9/e\n"
		     "    headers:\n      X-A: \"\"\n",
		     5, "headers: the value of X-A is empty");
	expect_error("endpoints:\n  - name: e\n    exec: /bin/true\n"
		     "    headers: {X-A: b}\n",
		     4, "headers are sent with HTTP deliveries only");

	/* Shape only: the variable need not exist, and its value is not read. */
	write_cfg("endpoints:\n  - name: e\n    url: http://127.0.0.1:9/e\n"
		  "    headers: {Authorization: \"Bearer ${HGT_HDR_MISSING}\"}\n",
		  path, sizeof path);
	assert_int_equal(hg_config_load_opts(path, HG_CONFIG_NO_SECRETS, &cfg, err, sizeof err),
			 HG_OK);
	assert_string_equal(cfg->endpoints[0].headers[0].value, "Bearer (secret not read)");
	hg_config_free(cfg);
}

/* when: on a request header. */
static void test_route_header_filter(void **state)
{
	struct hg_config *cfg;
	const struct hg_route *r;

	(void)state;
	cfg = load_ok("endpoints:\n  - {name: pushes, url: http://127.0.0.1:9/p}\n"
		      "sources:\n  - name: gh\n    provider: github\n    secret_env: HGT_OLD\n"
		      "    routes:\n"
		      "      - {endpoint: pushes, when: \"header:X-GitHub-Event == push\"}\n"
		      "      - {endpoint: pushes, when: \"header:X-GitHub-Event != 'a b'\"}\n");
	r = &cfg->sources[0].routes[0];
	assert_string_equal(r->header, "x-github-event");
	assert_null(r->path);
	assert_string_equal(r->value, "push");
	assert_int_equal(r->negate, 0);
	r = &cfg->sources[0].routes[1];
	assert_int_equal(r->negate, 1);
	assert_string_equal(r->value, "a b");
	hg_config_free(cfg);

	expect_error("endpoints:\n  - {name: e, url: http://127.0.0.1:9/p}\n"
		     "sources:\n  - name: gh\n    provider: github\n    secret_env: HGT_OLD\n"
		     "    routes:\n      - {endpoint: e, when: \"header:Bad Name == x\"}\n",
		     8, "header:Name == value");
}

static void test_no_secrets(void **state)
{
	static const char yaml[] = "listen: 127.0.0.1:9191\n"
				   "admin_token_env: HG_TEST_UNSET_ADMIN\n"
				   "retention: 30d\n"
				   "sources:\n"
				   "  - name: a\n"
				   "    provider: meta\n"
				   "    secret_env: HG_TEST_UNSET_SECRET\n"
				   "  - name: b\n"
				   "    provider: github\n"
				   "    secret_file: /nonexistent/secret\n";
	char path[256], err[512];
	struct hg_config *cfg = NULL;

	(void)state;
	unsetenv("HG_TEST_UNSET_ADMIN");
	unsetenv("HG_TEST_UNSET_SECRET");
	write_cfg(yaml, path, sizeof path);
	assert_int_equal(hg_config_load(path, &cfg, err, sizeof err), HG_EINVAL);
	assert_non_null(strstr(err, "HG_TEST_UNSET_ADMIN"));
	assert_int_equal(hg_config_load_opts(path, HG_CONFIG_NO_SECRETS, &cfg, err, sizeof err),
			 HG_OK);
	assert_int_equal(cfg->listen_port, 9191);
	assert_string_equal(cfg->admin_token_env, "HG_TEST_UNSET_ADMIN");
	assert_int_equal(cfg->retention_ms, 30LL * 86400 * 1000);
	assert_int_equal(cfg->n_sources, 2);
	/* a stand-in, never the (absent) real value */
	assert_int_equal(cfg->sources[0].n_secrets, 1);
	assert_null(getenv("HG_TEST_UNSET_SECRET"));
	hg_config_free(cfg);
}

/* media: defaults, every key, and the errors a newcomer meets first. */
static void test_media(void **state)
{
	struct hg_config *cfg;
	const struct hg_media_config *m;

	(void)state;
	setenv("HGT_WA_TOKEN", "wa-token", 1);
	cfg = load_ok("sources:\n"
		      "  - name: wa\n"
		      "    provider: meta\n"
		      "    secret: x\n"
		      "    media: {token_env: HGT_WA_TOKEN}\n");
	m = cfg->sources[0].media;
	assert_non_null(m);
	assert_int_equal(m->token.len, 8);
	assert_memory_equal(m->token.bytes, "wa-token", 8);
	assert_string_equal(m->graph_url, HG_DEFAULT_MEDIA_GRAPH_URL);
	assert_string_equal(m->dir, HG_DEFAULT_MEDIA_DIR);
	assert_int_equal(m->ttl_ms, 30LL * 86400 * 1000);
	assert_int_equal(m->max_size, 100LL << 20);
	assert_int_equal(m->wait_ms, 120000);
	assert_null(m->scan);
	hg_config_free(cfg);

	cfg = load_ok("sources:\n"
		      "  - name: wa\n"
		      "    provider: meta\n"
		      "    secret: x\n"
		      "    media:\n"
		      "      token_env: HGT_WA_TOKEN\n"
		      "      graph_url: http://127.0.0.1:9/v21.0/\n"
		      "      dir: /tmp/media\n"
		      "      ttl: 1h\n"
		      "      max_size: 2m\n"
		      "      wait: 0\n"
		      "      scan: [sh, -c, 'exit 0']\n");
	m = cfg->sources[0].media;
	assert_string_equal(m->graph_url, "http://127.0.0.1:9/v21.0");
	assert_string_equal(m->dir, "/tmp/media");
	assert_int_equal(m->ttl_ms, 3600000);
	assert_int_equal(m->max_size, 2 << 20);
	assert_int_equal(m->wait_ms, 0);
	assert_non_null(m->scan);
	assert_true(m->scan[0][0] == '/'); /* resolved on PATH */
	assert_string_equal(m->scan[1], "-c");
	assert_string_equal(m->scan[2], "exit 0");
	assert_null(m->scan[3]);
	hg_config_free(cfg);

	cfg = load_ok("sources:\n  - {name: gh, provider: github, secret: x}\n");
	assert_null(cfg->sources[0].media);
	hg_config_free(cfg);

	expect_error("sources:\n"
		     "  - name: gh\n"
		     "    provider: github\n"
		     "    secret: x\n"
		     "    media: {token_env: HGT_WA_TOKEN}\n",
		     5, "media are fetched from the WhatsApp Cloud API only");
	expect_error("sources:\n"
		     "  - name: wa\n"
		     "    provider: meta\n"
		     "    secret: x\n"
		     "    media: {dir: /tmp/m}\n",
		     5, "has no token_env");
	expect_error("sources:\n"
		     "  - name: wa\n"
		     "    provider: meta\n"
		     "    secret: x\n"
		     "    media: {token_env: HGT_WA_TOKEN, max_size: 0}\n",
		     5, "max_size");
	expect_error("sources:\n"
		     "  - name: wa\n"
		     "    provider: meta\n"
		     "    secret: x\n"
		     "    media: {token_env: HGT_WA_TOKEN, colour: red}\n",
		     5, "unknown key 'colour' in media of source 'wa'");
	expect_error("sources:\n"
		     "  - name: wa\n"
		     "    provider: meta\n"
		     "    secret: x\n"
		     "    media: {token_env: HGT_WA_TOKEN, scan: [hg-no-such-scanner]}\n",
		     5, "scan: command 'hg-no-such-scanner' was not found on PATH");
	expect_error("sources:\n"
		     "  - name: wa\n"
		     "    provider: meta\n"
		     "    secret: x\n"
		     "    media: ./var/media\n",
		     5, "media: expected a mapping");
	unsetenv("HGT_WA_TOKEN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_config),
	    cmocka_unit_test(test_example_file),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_source_defaults),
	    cmocka_unit_test(test_listen_good),
	    cmocka_unit_test(test_listen_bad),
	    cmocka_unit_test(test_type_errors),
	    cmocka_unit_test(test_log_level_any_case),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_errors_are_one_line),
	    cmocka_unit_test(test_unreadable_file),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_outbound_keys),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_source_required),
	    cmocka_unit_test(test_secret_rotation),
	    cmocka_unit_test(test_verify_token),
	    cmocka_unit_test(test_secret_file),
	    cmocka_unit_test(test_encryption_keys),
	    cmocka_unit_test(test_alerts),
	    cmocka_unit_test(test_inline_secret_warns),
	    cmocka_unit_test(test_hmac_fields),
	    cmocka_unit_test(test_dedupe),
	    cmocka_unit_test(test_tls),
	    cmocka_unit_test(test_trusted_proxies),
	    cmocka_unit_test(test_tolerance),
	    cmocka_unit_test(test_max_age),
	    cmocka_unit_test(test_source_public_url),
	    cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test(test_mtls),
	    cmocka_unit_test(test_token_source),
	    cmocka_unit_test(test_zoho_source),
	    cmocka_unit_test(test_find_source),
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_endpoint_errors),
	    cmocka_unit_test(test_circuit_and_alerts),
	    cmocka_unit_test(test_routes),
	    cmocka_unit_test(test_max_dedupe_keys),
	    cmocka_unit_test(test_audit_keys),
	    cmocka_unit_test(test_audit_map),
	    cmocka_unit_test(test_source_retention),
	    cmocka_unit_test(test_no_secrets),
	    cmocka_unit_test(test_forward_headers),
	    cmocka_unit_test(test_endpoint_headers),
	    cmocka_unit_test(test_route_header_filter),
	    cmocka_unit_test(test_media),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
