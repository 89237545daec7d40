/*
 * cli.c — `hookgate messages`, `hookgate dlq`, `hookgate purge`, and the
 * outbound webhooks' `hookgate webhooks` and `hookgate events`.
 *
 * messages and dlq are thin clients of the management API (api.h): they
 * find the daemon from the config's listen address (or --url), take the
 * admin token from the environment variable the config names in
 * admin_token_env (HOOKGATE_ADMIN_TOKEN when it names none), send one
 * request with libcurl and print the answer as a table, or as the API's
 * own JSON with --json. The config is read without its secrets: an
 * operator's shell needs the admin token, not every provider's secret.
 *
 * webhooks and events speak the outbound API (docs/outbound.md) with an
 * owner's or publisher's API key from HOOKGATE_TOKEN when it is set (else
 * the admin token), and print the API's JSON as it came: a create's answer
 * holds the secret, shown this once.
 *
 * The token travels only in the Authorization header; it is never printed,
 * and the buffer that held the header is wiped.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "api/api.h"
#include "cli/cli.h"
#include "housekeep/housekeep.h"
#include "media/media.h"
#include "config/config.h"
#include "store/store.h"
#include "util/util.h"

#define HG_CLI_TIMEOUT_MS 30000
#define HG_CLI_MAX_ANSWER (64 << 20) /* a show with a large body and many attempts */

static const char usage_messages[] =
    "usage: hookgate messages list [--source S] [--status S] [--since T] [--until T]\n"
    "                              [--limit N] [--cursor C] [OPTIONS]\n"
    "       hookgate messages show ID [OPTIONS]\n"
    "       hookgate messages replay ID [OPTIONS]\n"
    "\n"
    "Lists stored messages (newest first), shows one with its headers, body and\n"
    "delivery history, or replays one: new deliveries to its source's current\n"
    "routes. Talks to the running daemon's management API.\n"
    "\n"
    "  --source S          only messages of source S\n"
    "  --status S          pending, delivering, succeeded, failed, dead or none\n"
    "  --since T, --until T  received at/after, before T (ISO 8601 or ms since the epoch)\n"
    "  --limit N           at most N (1-500, default 50)\n"
    "  --cursor C          the next page, as a previous list printed it\n"
    "  -c, --config FILE   find the daemon and the admin_token_env from FILE\n"
    "  --url URL           the daemon's address (default: from -c, else " HG_CLI_DEFAULT_URL ")\n"
    "  --cacert FILE       trust the CA certificate(s) in FILE for an https daemon\n"
    "  --json              print the API's JSON answer as it is\n"
    "  -h, --help          this help\n"
    "\n"
    "The admin token is read from the environment variable that admin_token_env\n"
    "names (" HG_CLI_TOKEN_ENV " without -c or when the config names none).\n";

static const char usage_dlq[] =
    "usage: hookgate dlq list [--endpoint E] [--limit N] [--cursor C] [OPTIONS]\n"
    "       hookgate dlq retry ID [OPTIONS]\n"
    "       hookgate dlq retry --endpoint E [OPTIONS]\n"
    "\n"
    "The dead-letter queue: deliveries that ran out of attempts. retry makes one\n"
    "dead delivery (or every dead delivery of an endpoint) pending again, due now.\n"
    "\n"
    "  --endpoint E        only (or all) dead deliveries of endpoint E\n"
    "  --limit N           at most N (1-500, default 50)\n"
    "  --cursor C          the next page, as a previous list printed it\n"
    "  -c, --config FILE   find the daemon and the admin_token_env from FILE\n"
    "  --url URL           the daemon's address (default: from -c, else " HG_CLI_DEFAULT_URL ")\n"
    "  --cacert FILE       trust the CA certificate(s) in FILE for an https daemon\n"
    "  --json              print the API's JSON answer as it is\n"
    "  -h, --help          this help\n";

static const char usage_endpoints[] =
    "usage: hookgate endpoints [OPTIONS]\n"
    "\n"
    "Every configured endpoint with its health: circuit state (closed, open until\n"
    "a time, half_open), failures in a row and the last success and failure (as\n"
    "the daemon's delivery engine saw them), and the deliveries waiting for it\n"
    "with the oldest one's age.\n"
    "\n"
    "  -c, --config FILE   find the daemon and the admin_token_env from FILE\n"
    "  --url URL           the daemon's address (default: from -c, else " HG_CLI_DEFAULT_URL ")\n"
    "  --cacert FILE       trust the CA certificate(s) in FILE for an https daemon\n"
    "  --json              print the API's JSON answer as it is\n"
    "  -h, --help          this help\n";

static const char usage_webhooks[] =
    "usage: hookgate webhooks create URL --events TYPE[,TYPE...] [--description TEXT] [OPTIONS]\n"
    "       hookgate webhooks list [OPTIONS]\n"
    "       hookgate webhooks update ID [--webhook-url URL] [--events LIST]\n"
    "                                [--description TEXT] [--enable|--disable] [OPTIONS]\n"
    "       hookgate webhooks regenerate-secret ID [OPTIONS]\n"
    "       hookgate webhooks deliveries ID [--page N] [--limit N] [OPTIONS]\n"
    "       hookgate webhooks delete ID [OPTIONS]\n"
    "\n"
    "Outbound webhook subscriptions of the owner whose API key is in\n" HG_CLI_API_KEY_ENV
    " (with the admin token instead: everyone's). create and\n"
    "regenerate-secret print the signing secret, which is shown only this once.\n"
    "update changes only what is given; --enable also clears an automatic\n"
    "disablement. deliveries: the subscription's delivery history, newest first.\n"
    "\n"
    "  --events LIST       event types or patterns, comma-separated (clip.*, *)\n"
    "  --description TEXT  a note for people\n"
    "  --webhook-url URL   update: the subscriber's new URL\n"
    "  --enable, --disable update: start or stop delivering to it\n"
    "  --page N, --limit N deliveries: which page, and its size (default 1 and 20)\n"
    "  -c, --config FILE   find the daemon (and admin_token_env) from FILE\n"
    "  --url URL           the daemon's address (default: from -c, else " HG_CLI_DEFAULT_URL ")\n"
    "  --cacert FILE       trust the CA certificate(s) in FILE for an https daemon\n"
    "  --json              print the API's JSON answer as it is\n"
    "  -h, --help          this help\n";

static const char usage_api_keys[] =
    "usage: hookgate api-keys create --owner ID [--role owner|publisher] [OPTIONS]\n"
    "       hookgate api-keys list [--owner ID] [OPTIONS]\n"
    "       hookgate api-keys revoke ID [OPTIONS]\n"
    "\n"
    "API keys of the outbound API, with the admin token. An owner key manages\n"
    "that owner's webhook subscriptions, a publisher key publishes its events.\n"
    "create prints the key's token, which is shown only this once: give it to\n"
    "the owner (who sets " HG_CLI_API_KEY_ENV " to use the webhooks commands). list\n"
    "shows the keys (never their tokens); revoke deletes one: its token is\n"
    "refused from the next request on.\n"
    "\n"
    "  --owner ID          create: the owner, 1-128 letters, digits or ._:@-;\n"
    "                      list: only this owner's keys\n"
    "  --role ROLE         owner (default) or publisher\n"
    "  -c, --config FILE   find the daemon and the admin_token_env from FILE\n"
    "  --url URL           the daemon's address (default: from -c, else " HG_CLI_DEFAULT_URL ")\n"
    "  --cacert FILE       trust the CA certificate(s) in FILE for an https daemon\n"
    "  --json              print the API's JSON answer as it is\n"
    "  -h, --help          this help\n";

static const char usage_events[] =
    "usage: hookgate events publish --event TYPE --data JSON [--owner ID]\n"
    "                               [--idempotency-key KEY] [OPTIONS]\n"
    "\n"
    "Publishes an event to the matching subscriptions (of one owner with --owner)\n"
    "and prints the answer once it is stored. Uses a publisher key from\n" HG_CLI_API_KEY_ENV
    ", else the admin token.\n"
    "\n"
    "  --event TYPE        a configured event type, such as clip.submitted\n"
    "  --data JSON         the event's payload, such as '{\"clip\":\"x\"}'\n"
    "  --owner ID          only this owner's subscriptions\n"
    "  --idempotency-key KEY  the same key again publishes nothing new\n"
    "  -c, --config FILE   find the daemon (and admin_token_env) from FILE\n"
    "  --url URL           the daemon's address (default: from -c, else " HG_CLI_DEFAULT_URL ")\n"
    "  --cacert FILE       trust the CA certificate(s) in FILE for an https daemon\n"
    "  -h, --help          this help\n";

static const char usage_purge[] =
    "usage: hookgate purge [-c FILE] [--older-than DURATION]\n"
    "\n"
    "Deletes the messages older than DURATION, of every source, with their\n"
    "deliveries, attempts and dedupe keys, in small batches, and prints what\n"
    "went. Without --older-than, each source's messages older than its own\n"
    "retention go (the top-level retention for the others; 0 keeps forever).\n"
    "With audit_retention in the config, the audit rows older than that go too,\n"
    "behind a checkpoint row (--older-than does not change it).\n"
    "Safe while the daemon runs.\n"
    "\n"
    "  -c, --config FILE      configuration file (default: the built-in one)\n"
    "  --older-than DURATION  such as 30d, 12h or 0s (everything received until now)\n"
    "  -h, --help             this help\n";

enum {
	O_URL = 256,
	O_JSON,
	O_SOURCE,
	O_STATUS,
	O_SINCE,
	O_UNTIL,
	O_LIMIT,
	O_CURSOR,
	O_ENDPOINT,
	O_OLDER,
	O_EVENTS,
	O_DESCRIPTION,
	O_EVENT,
	O_DATA,
	O_OWNER,
	O_IDEM,
	O_CACERT,
	O_WEBHOOK_URL,
	O_ENABLE,
	O_DISABLE,
	O_PAGE,
	O_ROLE,
};

/* The options a subcommand accepts, as bits. */
enum {
	A_CONN = 1 << 0, /* -c, --url, --cacert, --json */
	A_LIST = 1 << 1, /* --limit, --cursor */
	A_MSG_FILTER = 1 << 2,
	A_ENDPOINT = 1 << 3,
	A_OLDER = 1 << 4,
	A_WEBHOOK = 1 << 5, /* --events, --description */
	A_PUBLISH = 1 << 6, /* --event, --data, --owner, --idempotency-key */
	A_UPDATE = 1 << 7,  /* --webhook-url, --enable, --disable */
	A_PAGE = 1 << 8,    /* --page, --limit */
	A_KEY = 1 << 9,     /* --owner, --role */
	A_OWNER = 1 << 10,  /* --owner */
};

struct cli_opts {
	const char *config, *url, *cacert, *source, *status, *since, *until, *limit, *cursor,
	    *endpoint, *older, *events, *description, *event, *data, *owner, *idem, *webhook_url,
	    *page, *role;
	int json, help, active; /* active: 1 --enable, 0 --disable, -1 neither */
	char **args;            /* what is left after the options */
	int nargs;
};

/* Parses argv (argv[0] is the subcommand) into o, refusing options the
 * subcommand does not take. HG_EXIT_OK or HG_EXIT_USAGE (said why). */
static int parse_opts(int argc, char **argv, unsigned allowed, struct cli_opts *o)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"url", required_argument, NULL, O_URL},
	    {"cacert", required_argument, NULL, O_CACERT},
	    {"json", no_argument, NULL, O_JSON},
	    {"source", required_argument, NULL, O_SOURCE},
	    {"status", required_argument, NULL, O_STATUS},
	    {"since", required_argument, NULL, O_SINCE},
	    {"until", required_argument, NULL, O_UNTIL},
	    {"limit", required_argument, NULL, O_LIMIT},
	    {"cursor", required_argument, NULL, O_CURSOR},
	    {"endpoint", required_argument, NULL, O_ENDPOINT},
	    {"older-than", required_argument, NULL, O_OLDER},
	    {"events", required_argument, NULL, O_EVENTS},
	    {"description", required_argument, NULL, O_DESCRIPTION},
	    {"event", required_argument, NULL, O_EVENT},
	    {"data", required_argument, NULL, O_DATA},
	    {"owner", required_argument, NULL, O_OWNER},
	    {"idempotency-key", required_argument, NULL, O_IDEM},
	    {"webhook-url", required_argument, NULL, O_WEBHOOK_URL},
	    {"enable", no_argument, NULL, O_ENABLE},
	    {"disable", no_argument, NULL, O_DISABLE},
	    {"page", required_argument, NULL, O_PAGE},
	    {"role", required_argument, NULL, O_ROLE},
	    {NULL, 0, NULL, 0}};
	/* The options that take a value: where it goes, which subcommands take it. */
	static const struct {
		int opt;
		size_t field;
		unsigned need;
	} valued[] = {
	    {'c', offsetof(struct cli_opts, config), A_CONN | A_OLDER},
	    {O_URL, offsetof(struct cli_opts, url), A_CONN},
	    {O_CACERT, offsetof(struct cli_opts, cacert), A_CONN},
	    {O_SOURCE, offsetof(struct cli_opts, source), A_MSG_FILTER},
	    {O_STATUS, offsetof(struct cli_opts, status), A_MSG_FILTER},
	    {O_SINCE, offsetof(struct cli_opts, since), A_MSG_FILTER},
	    {O_UNTIL, offsetof(struct cli_opts, until), A_MSG_FILTER},
	    {O_LIMIT, offsetof(struct cli_opts, limit), A_LIST | A_PAGE},
	    {O_CURSOR, offsetof(struct cli_opts, cursor), A_LIST},
	    {O_ENDPOINT, offsetof(struct cli_opts, endpoint), A_ENDPOINT},
	    {O_OLDER, offsetof(struct cli_opts, older), A_OLDER},
	    {O_EVENTS, offsetof(struct cli_opts, events), A_WEBHOOK},
	    {O_DESCRIPTION, offsetof(struct cli_opts, description), A_WEBHOOK},
	    {O_WEBHOOK_URL, offsetof(struct cli_opts, webhook_url), A_UPDATE},
	    {O_PAGE, offsetof(struct cli_opts, page), A_PAGE},
	    {O_ROLE, offsetof(struct cli_opts, role), A_KEY},
	    {O_EVENT, offsetof(struct cli_opts, event), A_PUBLISH},
	    {O_DATA, offsetof(struct cli_opts, data), A_PUBLISH},
	    {O_OWNER, offsetof(struct cli_opts, owner), A_PUBLISH | A_KEY | A_OWNER},
	    {O_IDEM, offsetof(struct cli_opts, idem), A_PUBLISH},
	};
	unsigned need;
	size_t i;
	int c, li;

	memset(o, 0, sizeof(*o));
	o->active = -1;
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, &li)) != -1) {
		need = 0;
		if (c == 'h') {
			o->help = 1;
		} else if (c == O_ENABLE || c == O_DISABLE) {
			o->active = c == O_ENABLE;
			need = A_UPDATE;
		} else if (c == O_JSON) {
			o->json = 1;
			need = A_CONN;
		} else {
			for (i = 0; i < sizeof(valued) / sizeof(valued[0]) && valued[i].opt != c;
			     i++)
				;
			if (i == sizeof(valued) / sizeof(valued[0]))
				return HG_EXIT_USAGE; /* getopt said why */
			*(const char **)((char *)o + valued[i].field) = optarg;
			need = valued[i].need;
		}
		if (need != 0 && !(need & allowed)) {
			fprintf(stderr, "%s: option %s%s is not one this command takes\n", argv[0],
				c == 'c' ? "-" : "--", c == 'c' ? "c" : opts[li].name);
			return HG_EXIT_USAGE;
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return HG_EXIT_OK;
}

void hg_cli_name(char **argv0, const char *group)
{
	static char name[96];

	if (strncmp(*argv0, "hookgate ", 9) == 0)
		return; /* named already */
	if (group != NULL)
		snprintf(name, sizeof(name), "hookgate %s %s", group, *argv0);
	else
		snprintf(name, sizeof(name), "hookgate %s", *argv0);
	*argv0 = name;
}

/* ---- talking to the daemon ---- */

struct cli_conn {
	char base[512];
	const char *cacert; /* CA file for https, or NULL: the system's */
	char *token;        /* malloc'd; wiped and freed by conn_free */
	int json;
};

static void conn_free(struct cli_conn *c)
{
	if (c->token != NULL) {
		OPENSSL_cleanse(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = NULL;
}

/* The base URL of the daemon a config listens on: a wildcard address is
 * reached on loopback, an IPv6 address in brackets. */
static void base_url_of(const struct hg_config *cfg, char *out, size_t outlen)
{
	const char *host = cfg->listen_host;
	const char *scheme = cfg->tls_cert != NULL ? "https" : "http";

	if (host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	if (strchr(host, ':') != NULL)
		snprintf(out, outlen, "%s://[%s]:%d", scheme, host, cfg->listen_port);
	else
		snprintf(out, outlen, "%s://%s:%d", scheme, host, cfg->listen_port);
}

/* Fills c from the options: the daemon's URL and the token (with api_key,
 * HG_CLI_API_KEY_ENV's API key when it is set). */
static int conn_open(const struct cli_opts *o, int api_key, struct cli_conn *c)
{
	struct hg_config *cfg = NULL;
	const char *var = HG_CLI_TOKEN_ENV, *tok;
	char err[512];
	size_t n;
	int rc;

	memset(c, 0, sizeof(*c));
	c->json = o->json;
	hg_strlcpy(c->base, HG_CLI_DEFAULT_URL, sizeof(c->base));
	if (o->config != NULL) {
		rc = hg_config_load_opts(o->config, HG_CONFIG_NO_SECRETS, &cfg, err, sizeof(err));
		if (rc != HG_OK) {
			fprintf(stderr, "hookgate: %s\n", err);
			return rc == HG_EIO ? HG_EXIT_RUNTIME : HG_EXIT_USAGE;
		}
		base_url_of(cfg, c->base, sizeof(c->base));
		if (cfg->admin_token_env != NULL)
			var = cfg->admin_token_env;
	}
	if (o->url != NULL) {
		if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) {
			fprintf(stderr, "hookgate: --url must start with http:// or https://, such "
					"as " HG_CLI_DEFAULT_URL "\n");
			hg_config_free(cfg);
			return HG_EXIT_USAGE;
		}
		hg_strlcpy(c->base, o->url, sizeof(c->base));
	}
	if (o->cacert != NULL) {
		FILE *f = fopen(o->cacert, "r");

		if (f == NULL) {
			fprintf(stderr, "hookgate: --cacert %s: %s\n", o->cacert, strerror(errno));
			hg_config_free(cfg);
			return HG_EXIT_USAGE;
		}
		fclose(f);
		c->cacert = o->cacert;
	}
	for (n = strlen(c->base); n > 0 && c->base[n - 1] == '/'; n--)
		c->base[n - 1] = '\0';
	tok = api_key ? getenv(HG_CLI_API_KEY_ENV) : NULL;
	if (tok == NULL || tok[0] == '\0')
		tok = getenv(var);
	if (tok == NULL || tok[0] == '\0') {
		fprintf(stderr,
			"hookgate: environment variable %s is not set or is empty; export the "
			"admin token there\n",
			var);
		hg_config_free(cfg);
		return HG_EXIT_USAGE;
	}
	c->token = strdup(tok);
	hg_config_free(cfg);
	if (c->token == NULL) {
		fprintf(stderr, "hookgate: out of memory\n");
		return HG_EXIT_RUNTIME;
	}
	return HG_EXIT_OK;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct hg_buf *b = arg;

	if (b->len + size * n > HG_CLI_MAX_ANSWER || hg_buf_append(b, p, size * n) != HG_OK)
		return 0; /* curl fails the transfer */
	return size * n;
}

/* One request: method on base + path. *status gets the HTTP status and
 * body the answer. HG_OK, or HG_EIO with a sentence on stderr. */
static int request(const struct cli_conn *c, const char *method, const char *path,
		   const struct hg_buf *payload, long *status, struct hg_buf *body)
{
	struct curl_slist *headers = NULL, *h;
	struct hg_buf url = {0}, auth = {0};
	CURL *curl = curl_easy_init();
	CURLcode cc = CURLE_OUT_OF_MEMORY;
	int rc = HG_EIO;

	hg_buf_printf(&url, "%s%s", c->base, path);
	hg_buf_printf(&auth, "Authorization: Bearer %s", c->token);
	if (curl == NULL || hg_buf_status(&url) != HG_OK || hg_buf_status(&auth) != HG_OK)
		goto out;
	h = curl_slist_append(headers, (const char *)auth.data);
	if (h == NULL)
		goto out;
	headers = h;
	h = curl_slist_append(headers, "Accept: application/json");
	if (h == NULL)
		goto out;
	headers = h;
	curl_easy_setopt(curl, CURLOPT_URL, (const char *)url.data);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "hookgate-cli/" HG_VERSION);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)HG_CLI_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	if (c->cacert != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, c->cacert);
	if (payload != NULL && payload->data != NULL) {
		h = curl_slist_append(headers, "Content-Type: application/json");
		if (h == NULL)
			goto out;
		headers = h;
	}
	if (strcmp(method, "POST") == 0 || (payload != NULL && payload->data != NULL)) {
		/* POST, or PATCH with a body: the method name below */
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(
		    curl, CURLOPT_POSTFIELDS,
		    payload != NULL && payload->data != NULL ? (const char *)payload->data : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
				 payload != NULL && payload->data != NULL ? (long)payload->len
									  : 0L);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}
	cc = curl_easy_perform(curl);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
		rc = HG_OK;
	}
out:
	if (rc != HG_OK)
		fprintf(stderr, "hookgate: cannot reach hookgate at %s: %s\n", c->base,
			curl_easy_strerror(cc));
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (auth.data != NULL)
		OPENSSL_cleanse(auth.data, auth.len);
	hg_buf_free(&auth);
	hg_buf_free(&url);
	return rc;
}

/* Sends the request and hands a 2xx JSON answer to print (or prints it raw
 * with --json). Errors go to stderr as the API's reason. Exit code. */
static int call(const struct cli_conn *c, const char *method, const char *path,
		const struct hg_buf *payload, void (*print)(const json_t *root))
{
	struct hg_buf body = {0};
	json_t *root = NULL, *e;
	long status = 0;
	int rc = HG_EXIT_RUNTIME;

	if (request(c, method, path, payload, &status, &body) != HG_OK)
		goto out;
	if (body.data != NULL)
		root = json_loadb((const char *)body.data, body.len, 0, NULL);
	if (status < 200 || status > 299) {
		e = json_object_get(root, "error");
		fprintf(stderr, "hookgate: %s (HTTP %ld)\n",
			json_is_string(e) ? json_string_value(e) : "the daemon answered an error",
			status);
		goto out;
	}
	if (c->json) {
		fwrite(body.data != NULL ? body.data : (const uint8_t *)"", 1, body.len, stdout);
	} else if (root == NULL) {
		fprintf(stderr, "hookgate: the answer from %s is not JSON\n", c->base);
		goto out;
	} else {
		print(root);
	}
	rc = HG_EXIT_OK;
out:
	json_decref(root);
	hg_buf_free(&body);
	return rc;
}

/* Appends "&name=<escaped value>" (or "?..." first) when value is set. */
static void add_query(struct hg_buf *path, const char *name, const char *value)
{
	char *esc;

	if (value == NULL)
		return;
	esc = curl_easy_escape(NULL, value, 0);
	if (esc == NULL || path->data == NULL) {
		curl_free(esc);
		hg_buf_set_error(path, HG_ENOMEM); /* never a request without its filter */
		return;
	}
	hg_buf_printf(path, "%c%s=%s", strchr((const char *)path->data, '?') != NULL ? '&' : '?',
		      name, esc);
	curl_free(esc);
}

/* Appends one path segment, escaped. */
static void add_segment(struct hg_buf *path, const char *seg)
{
	char *esc = curl_easy_escape(NULL, seg, 0);

	if (esc != NULL)
		hg_buf_printf(path, "/%s", esc);
	else
		hg_buf_set_error(path, HG_ENOMEM); /* never a request to the collection */
	curl_free(esc);
}

/* ---- tables ---- */

#define HG_CLI_MAX_COLS 12
#define HG_CLI_CELL_MAX 60 /* longer cells are cut with "..." */

struct table {
	size_t ncols, nrows, cap;
	const char *head[HG_CLI_MAX_COLS];
	char **cells; /* row-major, malloc'd */
};

/* Adds a row of ncols cells (copied; NULL prints as "-"). */
static void table_row(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap != 0 ? t->cap * 2 : 16;
		char **grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));

		if (grown == NULL)
			return;
		t->cells = grown;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = strdup(cells[i] != NULL ? cells[i] : "-");
	t->nrows++;
}

static size_t cell_width(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > HG_CLI_CELL_MAX ? HG_CLI_CELL_MAX : n;
}

static void cell_print(const char *s, size_t width, int last)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > HG_CLI_CELL_MAX)
		printf("%.*s...", HG_CLI_CELL_MAX - 3, s);
	else
		printf("%s", s != NULL ? s : "");
	if (!last)
		printf("%*s", (int)(width - cell_width(s) + 2), "");
}

/* Prints and frees the table. */
static void table_print(struct table *t)
{
	size_t w[HG_CLI_MAX_COLS], r, i;

	for (i = 0; i < t->ncols; i++)
		w[i] = cell_width(t->head[i]);
	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++)
			if (t->cells[r * t->ncols + i] != NULL &&
			    cell_width(t->cells[r * t->ncols + i]) > w[i])
				w[i] = cell_width(t->cells[r * t->ncols + i]);
	for (i = 0; i < t->ncols; i++)
		cell_print(t->head[i], w[i], i + 1 == t->ncols);
	printf("\n");
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++)
			cell_print(t->cells[r * t->ncols + i], w[i], i + 1 == t->ncols);
		printf("\n");
	}
	for (r = 0; r < t->nrows * t->ncols; r++)
		free(t->cells[r]);
	free(t->cells);
	t->cells = NULL;
}

/* A field as text: strings as they are, numbers in decimal, null as NULL. */
static const char *field(const json_t *o, const char *key, char *scratch, size_t len)
{
	const char *dot = strchr(key, '.');
	const json_t *v;
	char outer[32];

	if (dot != NULL) { /* a nested object's field: "circuit.state" */
		snprintf(outer, sizeof(outer), "%.*s", (int)(dot - key), key);
		v = json_object_get(json_object_get(o, outer), dot + 1);
	} else {
		v = json_object_get(o, key);
	}

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(scratch, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return scratch;
	}
	if (json_is_real(v)) {
		snprintf(scratch, len, "%.3f", json_real_value(v));
		return scratch;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "yes" : "no";
	if (json_is_array(v)) { /* event types: "a,b" (cut to the scratch) */
		const json_t *e;
		size_t i, used = 0;

		scratch[0] = '\0';
		json_array_foreach(v, i, e)
		{
			if (json_is_string(e) && used < len)
				used += (size_t)snprintf(scratch + used, len - used, "%s%s",
							 i > 0 ? "," : "", json_string_value(e));
		}
		return scratch;
	}
	return NULL;
}

/* Prints a list answer's rows with the given columns (keys), then how to
 * get the next page. */
static void print_list(const json_t *root, const char *const *heads, const char *const *keys,
		       size_t ncols)
{
	const json_t *data = json_object_get(root, "data"), *item, *next;
	char scratch[HG_CLI_MAX_COLS][HG_CLI_CELL_MAX + 4];
	const char *cells[HG_CLI_MAX_COLS];
	struct table t = {.ncols = ncols < HG_CLI_MAX_COLS ? ncols : HG_CLI_MAX_COLS};
	size_t i, k;

	ncols = t.ncols; /* a table wider than that is a mistake of this file */
	for (k = 0; k < ncols; k++)
		t.head[k] = heads[k];
	json_array_foreach(data, i, item)
	{
		for (k = 0; k < ncols; k++)
			cells[k] = field(item, keys[k], scratch[k], sizeof(scratch[k]));
		table_row(&t, cells);
	}
	if (t.nrows == 0) {
		printf("(none)\n");
		free(t.cells);
	} else {
		table_print(&t);
	}
	next = json_object_get(root, "next_cursor");
	if (json_is_string(next))
		printf("(more: add --cursor %s)\n", json_string_value(next));
	next = json_object_get(root, "meta"); /* the outbound API's pages */
	if (json_integer_value(json_object_get(next, "page")) <
	    json_integer_value(json_object_get(next, "total_pages")))
		printf("(page %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
		       ", %" JSON_INTEGER_FORMAT " in all: add --page %" JSON_INTEGER_FORMAT ")\n",
		       json_integer_value(json_object_get(next, "page")),
		       json_integer_value(json_object_get(next, "total_pages")),
		       json_integer_value(json_object_get(next, "total")),
		       json_integer_value(json_object_get(next, "page")) + 1);
}

/* ---- messages ---- */

static void print_messages(const json_t *root)
{
	static const char *const heads[] = {"ID",     "RECEIVED", "SOURCE",
					    "STATUS", "SIZE",     "DELIVERIES"};
	static const char *const keys[] = {"id",     "received_at", "source",
					   "status", "size",        "delivery_count"};

	print_list(root, heads, keys, 6);
}

static void print_deliveries(const json_t *root)
{
	static const char *const heads[] = {"ID",       "ENDPOINT",    "MESSAGE",    "STATUS",
					    "ATTEMPTS", "LAST STATUS", "LAST ERROR", "UPDATED"};
	static const char *const keys[] = {"id",         "endpoint",      "message_id",
					   "status",     "attempt_count", "last_status_code",
					   "last_error", "updated_at"};

	print_list(root, heads, keys, 8);
}

/* ---- endpoints ---- */

/* The endpoints and their health: the target is the URL or the command. */
static void print_endpoints(const json_t *root)
{
	static const char *const heads[] = {"NAME",         "TARGET",   "CIRCUIT",
					    "OPEN UNTIL",   "FAILURES", "LAST SUCCESS",
					    "LAST FAILURE", "PENDING",  "OLDEST (ms)"};
	static const char *const keys[] = {"name",
					   "url",
					   "circuit.state",
					   "circuit.open_until",
					   "failures_in_row",
					   "last_success_at",
					   "last_failure_at",
					   "pending",
					   "oldest_pending_age_ms"};
	json_t *copy = json_deep_copy(root), *item;
	size_t i;

	/* an exec endpoint's target is its command */
	json_array_foreach(json_object_get(copy, "data"), i, item)
	{
		if (json_is_null(json_object_get(item, "url")))
			json_object_set(item, "url", json_object_get(item, "command"));
	}
	print_list(copy != NULL ? copy : root, heads, keys, 9);
	json_decref(copy);
}

static void path_endpoints(struct hg_buf *path, const struct cli_opts *o)
{
	(void)o;
	hg_buf_puts(path, "/api/v1/endpoints");
}

/* Prints one message: its fields, headers, body and delivery history. */
static void print_message(const json_t *m)
{
	static const char *const fields[] = {"id",   "source",     "received_at", "content_type",
					     "size", "duplicates", "status"};
	const json_t *headers = json_object_get(m, "headers"), *v, *d, *a;
	const char *key, *enc;
	char scratch[32];
	size_t i, k;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *s = field(m, fields[i], scratch, sizeof(scratch));

		printf("%-13s %s\n", fields[i], s != NULL ? s : "-");
	}
	printf("headers:\n");
	json_object_foreach((json_t *)headers, key, v)
	    printf("  %s: %s\n", key, json_is_string(v) ? json_string_value(v) : "");
	enc = field(m, "body_encoding", scratch, sizeof(scratch));
	printf("body (%s):\n%s\n", enc != NULL ? enc : "utf-8",
	       json_string_value(json_object_get(m, "body")) != NULL
		   ? json_string_value(json_object_get(m, "body"))
		   : "");
	printf("deliveries:\n");
	json_array_foreach(json_object_get(m, "deliveries"), i, d)
	{
		char s1[32];
		const char *err = field(d, "last_error", s1, sizeof(s1));

		printf("  %s  %s  %s  attempts %" JSON_INTEGER_FORMAT "%s%s\n",
		       json_string_value(json_object_get(d, "id")),
		       json_string_value(json_object_get(d, "endpoint")),
		       json_string_value(json_object_get(d, "status")),
		       json_integer_value(json_object_get(d, "attempt_count")),
		       err != NULL ? "  last error: " : "", err != NULL ? err : "");
		json_array_foreach(json_object_get(d, "attempts"), k, a)
		{
			char s2[32], s3[32];
			const char *code = field(a, "status_code", s2, sizeof(s2));
			const char *aerr = field(a, "error", s3, sizeof(s3));

			printf("    #%" JSON_INTEGER_FORMAT "  %s  %" JSON_INTEGER_FORMAT
			       " ms  status %s%s%s\n",
			       json_integer_value(json_object_get(a, "n")),
			       json_string_value(json_object_get(a, "started_at")),
			       json_integer_value(json_object_get(a, "duration_ms")),
			       code != NULL ? code : "-", aerr != NULL ? "  " : "",
			       aerr != NULL ? aerr : "");
		}
	}
}

static void print_replayed(const json_t *root)
{
	const json_t *d;
	size_t i;

	printf("replayed message %s:\n", json_string_value(json_object_get(root, "message_id")));
	json_array_foreach(json_object_get(root, "deliveries"), i, d)
	    printf("  delivery %s -> %s\n", json_string_value(json_object_get(d, "id")),
		   json_string_value(json_object_get(d, "endpoint")));
}

/* Prints a retry's answer: one delivery, or an endpoint's dead ones. */
static void print_retried(const json_t *root)
{
	if (json_object_get(root, "endpoint") != NULL)
		printf("%" JSON_INTEGER_FORMAT
		       " dead deliveries of endpoint %s are pending again\n",
		       json_integer_value(json_object_get(root, "retried")),
		       json_string_value(json_object_get(root, "endpoint")));
	else
		printf("delivery %s is pending again\n",
		       json_string_value(json_object_get(root, "id")));
}

/* The request path of each subcommand. */
static void path_messages(struct hg_buf *path, const struct cli_opts *o)
{
	hg_buf_puts(path, "/api/v1/messages");
	add_query(path, "source", o->source);
	add_query(path, "status", o->status);
	add_query(path, "since", o->since);
	add_query(path, "until", o->until);
	add_query(path, "limit", o->limit);
	add_query(path, "cursor", o->cursor);
}

static void path_message(struct hg_buf *path, const struct cli_opts *o)
{
	hg_buf_puts(path, "/api/v1/messages");
	add_segment(path, o->args[0]);
}

static void path_replay(struct hg_buf *path, const struct cli_opts *o)
{
	path_message(path, o);
	hg_buf_puts(path, "/replay");
}

static void path_dead(struct hg_buf *path, const struct cli_opts *o)
{
	hg_buf_puts(path, "/api/v1/deliveries?status=dead");
	add_query(path, "endpoint", o->endpoint);
	add_query(path, "limit", o->limit);
	add_query(path, "cursor", o->cursor);
}

static void path_retry(struct hg_buf *path, const struct cli_opts *o)
{
	hg_buf_puts(path, o->endpoint != NULL ? "/api/v1/endpoints" : "/api/v1/deliveries");
	add_segment(path, o->endpoint != NULL ? o->endpoint : o->args[0]);
	hg_buf_puts(path, o->endpoint != NULL ? "/retry-dead" : "/retry");
}

/* One subcommand: what it takes and the request it makes. */
struct cli_sub {
	const char *group, *name;
	unsigned allowed; /* its options */
	int nargs;        /* arguments after the options; -1: an ID or --endpoint */
	const char *method;
	void (*path)(struct hg_buf *path, const struct cli_opts *o);
	void (*print)(const json_t *root); /* NULL: the API's JSON as it came */
	/* the request's JSON body; NULL: none. HG_OK, or HG_EINVAL (said why) */
	int (*body)(struct hg_buf *body, const struct cli_opts *o);
	int api_key; /* authenticates with HG_CLI_API_KEY_ENV when set */
};

/* ---- outbound webhooks ---- */

static void path_webhooks(struct hg_buf *path, const struct cli_opts *o)
{
	(void)o;
	hg_buf_puts(path, "/api/v1/webhooks");
}

static void path_webhook(struct hg_buf *path, const struct cli_opts *o)
{
	hg_buf_puts(path, "/api/v1/webhooks");
	add_segment(path, o->args[0]);
}

static void path_regenerate(struct hg_buf *path, const struct cli_opts *o)
{
	path_webhook(path, o);
	hg_buf_puts(path, "/regenerate-secret");
}

static void path_sub_deliveries(struct hg_buf *path, const struct cli_opts *o)
{
	path_webhook(path, o);
	hg_buf_puts(path, "/deliveries");
	add_query(path, "page", o->page);
	add_query(path, "limit", o->limit);
}

static void path_api_keys(struct hg_buf *path, const struct cli_opts *o)
{
	(void)o;
	hg_buf_puts(path, "/api/v1/api-keys");
}

static void print_subs(const json_t *root)
{
	static const char *const heads[] = {"ID",     "OWNER",       "URL",    "EVENTS",
					    "ACTIVE", "DESCRIPTION", "CREATED"};
	static const char *const keys[] = {"id",        "user_id",     "url",       "events",
					   "is_active", "description", "created_at"};

	print_list(root, heads, keys, 7);
}

static void print_sub_deliveries(const json_t *root)
{
	static const char *const heads[] = {"ID",       "EVENT",     "STATUS", "HTTP",
					    "ATTEMPTS", "DELIVERED", "CREATED"};
	static const char *const keys[] = {
	    "id",           "event_type", "status", "http_status_code", "attempt_count",
	    "delivered_at", "created_at"};

	print_list(root, heads, keys, 7);
}

/* One subscription (an answer's data) as "key value" lines, then the
 * secret when the answer carries it (create, regenerate-secret). */
static void print_sub(const json_t *root)
{
	static const char *const fields[] = {"id",         "user_id",    "url",
					     "events",     "is_active",  "description",
					     "created_at", "updated_at", "last_delivery_at"};
	const json_t *data = json_object_get(root, "data");
	char scratch[HG_CLI_CELL_MAX + 4];

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = field(data, fields[i], scratch, sizeof(scratch));

		if (json_object_get(data, fields[i]) != NULL)
			printf("%-17s %s\n", fields[i], v != NULL ? v : "-");
	}
	if (json_is_string(json_object_get(root, "secret"))) {
		printf("%-17s %s\n", "secret", json_string_value(json_object_get(root, "secret")));
		if (json_is_string(json_object_get(root, "secret_standard")))
			printf("%-17s %s\n", "secret_standard",
			       json_string_value(json_object_get(root, "secret_standard")));
		printf("(the secret is shown only this once: save it now)\n");
	}
}

static void print_deleted(const json_t *root)
{
	const json_t *m = json_object_get(root, "message");

	printf("%s\n", json_is_string(m) ? json_string_value(m) : "deleted");
}

static void print_api_keys(const json_t *root)
{
	static const char *const heads[] = {"ID", "OWNER", "ROLE", "CREATED"};
	static const char *const keys[] = {"id", "owner_id", "role", "created_at"};

	print_list(root, heads, keys, 4);
}

static void path_api_keys_list(struct hg_buf *path, const struct cli_opts *o)
{
	hg_buf_puts(path, "/api/v1/api-keys");
	add_query(path, "owner_id", o->owner);
}

static void path_api_key(struct hg_buf *path, const struct cli_opts *o)
{
	hg_buf_puts(path, "/api/v1/api-keys");
	add_segment(path, o->args[0]);
}

static void print_api_key(const json_t *root)
{
	const json_t *data = json_object_get(root, "data");

	printf("API key %s for owner %s, role %s\n", json_string_value(json_object_get(data, "id")),
	       json_string_value(json_object_get(data, "owner_id")),
	       json_string_value(json_object_get(data, "role")));
	printf("token: %s\n(shown only this once: save it now)\n",
	       json_string_value(json_object_get(root, "token")));
}

static void path_events(struct hg_buf *path, const struct cli_opts *o)
{
	(void)o;
	hg_buf_puts(path, "/api/v1/events");
}

/* Takes root (NULL: out of memory) and makes it the request body. */
static int body_json(struct hg_buf *body, json_t *root)
{
	char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
	int rc = text != NULL ? hg_buf_puts(body, text) : HG_ENOMEM;

	free(text);
	json_decref(root);
	if (rc != HG_OK)
		fprintf(stderr, "hookgate: out of memory\n");
	return rc;
}

static int body_webhook(struct hg_buf *body, const struct cli_opts *o)
{
	json_t *root, *events;
	const char *p, *comma;
	int bad = 0;

	if (o->events == NULL || o->events[0] == '\0') {
		fprintf(stderr, "hookgate: webhooks create needs --events, such as "
				"--events clip.submitted,clip.approved\n");
		return HG_EINVAL;
	}
	root = json_object();
	events = json_array();
	if (root == NULL || events == NULL || json_object_set_new(root, "events", events) != 0) {
		json_decref(events);
		return body_json(body, NULL);
	}
	for (p = o->events; *p != '\0'; p = *comma != '\0' ? comma + 1 : comma) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if (comma > p)
			bad |= json_array_append_new(events, json_stringn(p, (size_t)(comma - p)));
	}
	bad |= json_object_set_new(root, "url", json_string(o->args[0]));
	if (o->description != NULL)
		bad |= json_object_set_new(root, "description", json_string(o->description));
	if (bad) {
		json_decref(root);
		root = NULL;
	}
	return body_json(body, root);
}

/* update: only what was given; events as for create. */
static int body_update(struct hg_buf *body, const struct cli_opts *o)
{
	json_t *root = json_object(), *events;
	const char *p, *comma;
	int bad = root == NULL;

	if (o->webhook_url == NULL && o->events == NULL && o->description == NULL &&
	    o->active < 0) {
		json_decref(root);
		fprintf(stderr, "hookgate: webhooks update needs something to change: "
				"--webhook-url, --events, --description, --enable or --disable\n");
		return HG_EINVAL;
	}
	if (!bad && o->webhook_url != NULL)
		bad |= json_object_set_new(root, "url", json_string(o->webhook_url));
	if (!bad && o->description != NULL)
		bad |= json_object_set_new(root, "description", json_string(o->description));
	if (!bad && o->active >= 0)
		bad |= json_object_set_new(root, "is_active", json_boolean(o->active));
	if (!bad && o->events != NULL) {
		events = json_array();
		bad |= events == NULL || json_object_set_new(root, "events", events) != 0;
		for (p = o->events; !bad && *p != '\0'; p = *comma != '\0' ? comma + 1 : comma) {
			comma = strchr(p, ',');
			if (comma == NULL)
				comma = p + strlen(p);
			if (comma > p)
				bad |= json_array_append_new(events,
							     json_stringn(p, (size_t)(comma - p)));
		}
	}
	if (bad) {
		json_decref(root);
		root = NULL;
	}
	return body_json(body, root);
}

static int body_api_key(struct hg_buf *body, const struct cli_opts *o)
{
	json_t *root;

	if (o->owner == NULL || o->owner[0] == '\0') {
		fprintf(stderr, "hookgate: api-keys create needs --owner ID\n");
		return HG_EINVAL;
	}
	if (o->role != NULL && strcmp(o->role, "owner") != 0 && strcmp(o->role, "publisher") != 0) {
		fprintf(stderr, "hookgate: --role must be owner or publisher, not '%s'\n", o->role);
		return HG_EINVAL;
	}
	root = json_pack("{s:s s:s}", "owner_id", o->owner, "role",
			 o->role != NULL ? o->role : "owner");
	return body_json(body, root);
}

static int body_publish(struct hg_buf *body, const struct cli_opts *o)
{
	json_error_t jerr;
	json_t *root, *data;
	int bad = 0;

	if (o->event == NULL || o->data == NULL) {
		fprintf(stderr, "hookgate: events publish needs --event TYPE and --data JSON\n");
		return HG_EINVAL;
	}
	data = json_loads(o->data, JSON_DECODE_ANY, &jerr);
	if (data == NULL) {
		fprintf(stderr, "hookgate: --data is not JSON: %s\n", jerr.text);
		return HG_EINVAL;
	}
	root = json_object();
	if (root == NULL) {
		json_decref(data);
		return body_json(body, NULL);
	}
	bad |= json_object_set_new(root, "event", json_string(o->event));
	bad |= json_object_set_new(root, "data", data);
	if (o->owner != NULL)
		bad |= json_object_set_new(root, "owner_id", json_string(o->owner));
	if (o->idem != NULL)
		bad |= json_object_set_new(root, "idempotency_key", json_string(o->idem));
	if (bad) {
		json_decref(root);
		root = NULL;
	}
	return body_json(body, root);
}

static const struct cli_sub subs[] = {
    {"messages", "list", A_CONN | A_LIST | A_MSG_FILTER, 0, "GET", path_messages, print_messages,
     NULL, 0},
    {"messages", "show", A_CONN, 1, "GET", path_message, print_message, NULL, 0},
    {"messages", "replay", A_CONN, 1, "POST", path_replay, print_replayed, NULL, 0},
    {"dlq", "list", A_CONN | A_LIST | A_ENDPOINT, 0, "GET", path_dead, print_deliveries, NULL, 0},
    {"dlq", "retry", A_CONN | A_ENDPOINT, -1, "POST", path_retry, print_retried, NULL, 0},
    {"endpoints", "list", A_CONN, 0, "GET", path_endpoints, print_endpoints, NULL, 0},
    {"webhooks", "create", A_CONN | A_WEBHOOK, 1, "POST", path_webhooks, print_sub, body_webhook,
     1},
    {"webhooks", "list", A_CONN, 0, "GET", path_webhooks, print_subs, NULL, 1},
    {"webhooks", "update", A_CONN | A_WEBHOOK | A_UPDATE, 1, "PATCH", path_webhook, print_sub,
     body_update, 1},
    {"webhooks", "regenerate-secret", A_CONN, 1, "POST", path_regenerate, print_sub, NULL, 1},
    {"webhooks", "deliveries", A_CONN | A_PAGE, 1, "GET", path_sub_deliveries, print_sub_deliveries,
     NULL, 1},
    {"webhooks", "delete", A_CONN, 1, "DELETE", path_webhook, print_deleted, NULL, 1},
    {"api-keys", "create", A_CONN | A_KEY, 0, "POST", path_api_keys, print_api_key, body_api_key,
     0},
    {"api-keys", "list", A_CONN | A_OWNER, 0, "GET", path_api_keys_list, print_api_keys, NULL, 0},
    {"api-keys", "revoke", A_CONN, 1, "DELETE", path_api_key, print_deleted, NULL, 0},
    {"events", "publish", A_CONN | A_PUBLISH, 0, "POST", path_events, NULL, body_publish, 1},
};

/* Runs `hookgate group sub ...` (argv[0] is group). */
static int dispatch(const char *group, const char *usage, int argc, char **argv)
{
	const char *name = argc >= 2 ? argv[1] : NULL;
	const struct cli_sub *sub = NULL;
	struct cli_conn c = {0};
	struct hg_buf path = {0}, payload = {0};
	struct cli_opts o;
	int rc;

	if (name == NULL || strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
		fputs(usage, name != NULL ? stdout : stderr);
		return name != NULL ? HG_EXIT_OK : HG_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(subs[i].group, group) == 0 && strcmp(subs[i].name, name) == 0)
			sub = &subs[i];
	if (sub == NULL) {
		fprintf(stderr, "hookgate: unknown %s command '%s'\n", group, name);
		fputs(usage, stderr);
		return HG_EXIT_USAGE;
	}
	hg_cli_name(&argv[1], group);
	rc = parse_opts(argc - 1, argv + 1, sub->allowed, &o);
	if (rc == HG_EXIT_OK && o.help) {
		fputs(usage, stdout);
		return HG_EXIT_OK;
	}
	if (rc == HG_EXIT_OK && sub->nargs >= 0 && o.nargs != sub->nargs) {
		fprintf(stderr,
			o.nargs < sub->nargs ? "hookgate: %s %s needs an ID\n"
					     : "hookgate: %s %s takes no more arguments\n",
			group, name);
		rc = HG_EXIT_USAGE;
	} else if (rc == HG_EXIT_OK && sub->nargs < 0 && (o.nargs == 1) == (o.endpoint != NULL)) {
		fprintf(stderr,
			"hookgate: %s %s takes a delivery ID or --endpoint E (one of them)\n",
			group, name);
		rc = HG_EXIT_USAGE;
	}
	if (rc == HG_EXIT_OK && sub->body != NULL && sub->body(&payload, &o) != HG_OK)
		rc = HG_EXIT_USAGE;
	if (rc != HG_EXIT_OK) {
		hg_buf_free(&payload);
		fputs(usage, stderr);
		return rc;
	}
	rc = conn_open(&o, sub->api_key, &c);
	if (rc == HG_EXIT_OK) {
		if (sub->print == NULL)
			c.json = 1;
		sub->path(&path, &o);
		rc = hg_buf_status(&path) == HG_OK
			 ? call(&c, sub->method, (const char *)path.data,
				sub->body != NULL ? &payload : NULL, sub->print)
			 : HG_EXIT_RUNTIME;
	}
	conn_free(&c);
	hg_buf_free(&path);
	hg_buf_free(&payload);
	return rc;
}

int hg_cli_messages(int argc, char **argv)
{
	return dispatch("messages", usage_messages, argc, argv);
}

int hg_cli_dlq(int argc, char **argv)
{
	return dispatch("dlq", usage_dlq, argc, argv);
}

/* `hookgate endpoints [OPTIONS]` is `endpoints list`: one thing to show. */
int hg_cli_endpoints(int argc, char **argv)
{
	char **args = calloc((size_t)argc + 2, sizeof(*args));
	int rc, i, k = 0;

	if (args == NULL) {
		fprintf(stderr, "hookgate: out of memory\n");
		return HG_EXIT_RUNTIME;
	}
	args[k++] = argv[0];
	if (argc < 2 || strcmp(argv[1], "list") != 0)
		args[k++] = (char *)"list";
	for (i = 1; i < argc; i++)
		args[k++] = argv[i];
	rc = dispatch("endpoints", usage_endpoints, k, args);
	free(args);
	return rc;
}

int hg_cli_webhooks(int argc, char **argv)
{
	return dispatch("webhooks", usage_webhooks, argc, argv);
}

int hg_cli_api_keys(int argc, char **argv)
{
	return dispatch("api-keys", usage_api_keys, argc, argv);
}

int hg_cli_events(int argc, char **argv)
{
	return dispatch("events", usage_events, argc, argv);
}

/* ---- purge ---- */

int hg_cli_store_config(const char *path, struct hg_config **cfg)
{
	char err[512];
	int rc;

	rc = path != NULL ? hg_config_load_opts(path, HG_CONFIG_NO_SECRETS, cfg, err, sizeof(err))
			  : hg_config_default(cfg);
	if (rc == HG_OK)
		return HG_EXIT_OK;
	fprintf(stderr, "hookgate: %s\n",
		path != NULL ? err : "cannot build the default configuration");
	return rc == HG_EIO ? HG_EXIT_RUNTIME : HG_EXIT_USAGE;
}

int hg_cli_purge(int argc, char **argv)
{
	struct hg_store_purged got = {0};
	struct hg_config *cfg = NULL;
	struct hg_store *st = NULL;
	struct cli_opts o;
	int64_t older = -1, before;
	char err[512], when[32];
	int rc;

	rc = parse_opts(argc, argv, A_OLDER, &o);
	if (rc == HG_EXIT_OK && o.help) {
		fputs(usage_purge, stdout);
		return HG_EXIT_OK;
	}
	if (rc == HG_EXIT_OK && o.nargs > 0) {
		fprintf(stderr, "hookgate: unexpected argument '%s'\n", o.args[0]);
		rc = HG_EXIT_USAGE;
	}
	if (rc == HG_EXIT_OK && o.older != NULL &&
	    (hg_duration_parse_ms(o.older, &older) != HG_OK || older < 0)) {
		fprintf(stderr,
			"hookgate: --older-than: expected a duration such as 30d, 12h or 0s, "
			"got \"%s\"\n",
			o.older);
		rc = HG_EXIT_USAGE;
	}
	if (rc != HG_EXIT_OK) {
		fputs(usage_purge, stderr);
		return rc;
	}
	rc = hg_cli_store_config(o.config, &cfg);
	if (rc != HG_EXIT_OK)
		return rc;
	if (older < 0 && !hg_housekeep_retention_set(cfg) && cfg->audit_retention_ms <= 0) {
		fprintf(stderr, "hookgate: no retention is configured; pass --older-than DURATION "
				"(such as 30d)\n");
		hg_config_free(cfg);
		return HG_EXIT_USAGE;
	}
	rc = HG_EXIT_RUNTIME;
	if (hg_store_open(cfg->store, &st, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: cannot open the store: %s\n", err);
		goto out;
	}
	rc = HG_EXIT_OK;
	if (older >= 0 || hg_housekeep_retention_set(cfg)) {
		int64_t now = hg_now_ms();

		before = now - older;
		if ((older >= 0 ? hg_media_purge(st, cfg, now, older, NULL, &got.media_files) ||
				      hg_housekeep_purge(st, NULL, before, NULL, &got)
				: hg_housekeep_purge_config(st, cfg, now, NULL, &got)) != HG_OK) {
			fprintf(stderr,
				"hookgate: the purge stopped: the store failed (see the log line "
				"above); what was purged before stays purged\n");
			rc = HG_EXIT_RUNTIME;
		}
		hg_time_iso8601(before, when, sizeof(when));
		if (older >= 0)
			printf("purged messages received before %s: ", when);
		else
			printf("purged messages past their source's retention: ");
		printf("%" PRId64 " messages, %" PRId64 " deliveries, %" PRId64
		       " attempts, %" PRId64 " dedupe keys, %" PRId64 " hours of stats",
		       got.messages, got.deliveries, got.attempts, got.dedupe_keys,
		       got.stats_hours);
		if (got.media_files > 0)
			printf(", %" PRId64 " media files", got.media_files);
		printf("\n");
	}
	if (rc == HG_EXIT_OK && cfg->audit_retention_ms > 0) {
		int64_t removed = 0;

		before = hg_now_ms() - cfg->audit_retention_ms;
		if (hg_housekeep_audit_purge(st, before, NULL, &removed) != HG_OK) {
			fprintf(stderr,
				"hookgate: the audit purge stopped: the store failed (see the log "
				"line above); what was purged before stays purged\n");
			rc = HG_EXIT_RUNTIME;
		}
		hg_time_iso8601(before, when, sizeof(when));
		printf("purged audit rows older than %s: %" PRId64 " rows%s\n", when, removed,
		       removed > 0 ? ", behind a checkpoint row" : "");
	}
out:
	hg_store_close(st);
	hg_config_free(cfg);
	return rc;
}
