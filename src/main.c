/*
 * main.c — command dispatch: serve, sign, config check, migrate, audit, version,
 * and the operator commands of src/cli (messages, dlq, purge).
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "alerts/alerts.h"
#include "api/api.h"
#include "console/console.h"
#include "cli/cli.h"
#include "housekeep/housekeep.h"
#include "config/config.h"
#include "deliver/deliver.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "media/media.h"
#include "stats/stats.h"
#include "store/store.h"
#include "util/util.h"
#include "verify/verify.h"

#ifndef HG_VERSION
#define HG_VERSION "0.0.0"
#endif

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char usage_main[] =
    "usage: hookgate COMMAND [OPTIONS]\n"
    "\n"
    "A self-hosted webhook gateway: verifies, deduplicates and durably stores\n"
    "provider webhooks before acknowledging them.\n"
    "\n"
    "commands:\n"
    "  serve [-c FILE]            run the daemon (default: built-in config,\n"
    "                             listen 127.0.0.1:8080, SQLite in ./var)\n"
    "  sign --scheme NAME --secret S [FILE|-]\n"
    "                             print the headers a provider would send\n"
    "  config check -c FILE       validate a config file\n"
    "  migrate [-c FILE]          apply schema migrations to the store\n"
    "  audit verify [-c FILE]     check the audit log's hash chain\n"
    "  audit list [-c FILE] [--since T] [--action A] [--limit N] [--json]\n"
    "                             print the audit log, newest first\n"
    "  messages list|show|replay  stored messages, via the running daemon's API\n"
    "  dlq list|retry             the dead-letter queue, via the running daemon's API\n"
    "  endpoints                  the endpoints' health (circuit, failures, backlog)\n"
    "  webhooks create|list|update|regenerate-secret|deliveries|delete\n"
    "                             outbound webhook subscriptions, via the daemon's API\n"
    "  api-keys create|list|revoke  owners' and publishers' API keys (admin token)\n"
    "  events publish             publish an event to the subscribers\n"
    "  purge [-c FILE] [--older-than D]\n"
    "                             delete old messages now (retention)\n"
    "  reload -c FILE             make the running daemon load FILE again (SIGHUP)\n"
    "  keys generate|status|rekey encryption keys: make one, see what each protects,\n"
    "                             re-encrypt everything with the active one\n"
    "  version                    print the version\n"
    "\n"
    "Run 'hookgate COMMAND --help' for a command's options.\n";

static const char usage_serve[] =
    "usage: hookgate serve [-c FILE]\n"
    "\n"
    "Runs the daemon. Without -c: listen 127.0.0.1:8080, store sqlite:./var/hookgate.db,\n"
    "no sources. SIGTERM or SIGINT stops it cleanly; SIGHUP (or 'hookgate reload')\n"
    "loads the file again without dropping a connection or a queued delivery.\n"
    "\n"
    "  -c, --config FILE   configuration file (YAML; see hookgate(1) and docs/config.md)\n"
    "  -h, --help          this help\n";

static const char usage_sign[] =
    "usage: hookgate sign --scheme NAME --secret S [OPTIONS] [FILE|-]\n"
    "\n"
    "Reads a body from FILE (or standard input) and prints the header lines a\n"
    "provider using scheme NAME would send with it.\n"
    "\n"
    "  --scheme NAME       provider scheme\n"
    "  --secret S          the signing secret (or --secret-env VAR)\n"
    "  --secret-env VAR    read the secret from an environment variable\n"
    "  --url U             URL the provider calls (twilio)\n"
    "  --timestamp T       unix seconds for timestamped schemes, milliseconds for zoho\n"
    "                      (default: now)\n"
    "  --id ID             message id (standard)\n"
    "  --header NAME       signature header (hmac); the token's header, or query:Name\n"
    "                      for a query parameter (token)\n"
    "  --algorithm A       sha1, sha256 or sha512 (hmac; default sha256)\n"
    "  --encoding E        hex or base64 (hmac; default hex)\n"
    "  --prefix P          prefix before the signature (hmac)\n"
    "  -h, --help          this help\n";

static const char usage_config[] =
    "usage: hookgate config check [--no-env] -c FILE\n"
    "\n"
    "Validates FILE and exits 0, or prints FILE:LINE: KEY: the problem and exits 2.\n"
    "Warns (and still exits 0) when the directory of a SQLite store does not\n"
    "exist yet: 'hookgate serve' would create it.\n"
    "\n"
    "  -c, --config FILE   the configuration file to check\n"
    "  --no-env            check the file alone: secrets and tokens named by\n"
    "                      *_env keys need not be set and *_file secrets are\n"
    "                      not read (for CI, or before the secrets exist)\n"
    "  -h, --help          this help\n";

static const char usage_migrate[] =
    "usage: hookgate migrate [-c FILE]\n"
    "\n"
    "Applies the missing schema migrations to the configured store and prints\n"
    "the schema version.\n"
    "\n"
    "  -c, --config FILE   configuration file (default: the built-in one)\n"
    "  -h, --help          this help\n";

static const char usage_version[] =
    "usage: hookgate version\n"
    "\n"
    "Prints \"hookgate\" and the version, such as \"hookgate 1.2.3\".\n";

static const char usage_audit[] =
    "usage: hookgate audit verify [-c FILE]\n"
    "       hookgate audit list [-c FILE] [--since T] [--action A] [--limit N] [--json]\n"
    "                           (hookgate audit list --help for its options)\n"
    "\n"
    "Recomputes the hash chain of the audit log in the configured store. Prints\n"
    "\"audit log ok: N rows\" and exits 0, or names the first row that does not\n"
    "verify (changed, removed or reordered) and exits 1. Removing the newest rows\n"
    "leaves no trace in the chain: keep a copy of the log elsewhere too.\n"
    "\n"
    "  -c, --config FILE   configuration file (default: the built-in one)\n"
    "  -h, --help          this help\n";

static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; ++i)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

/* Parses "-c FILE" for the commands that take only that. Returns the path
 * (NULL when absent) or sets *bad. */
static const char *config_arg(int argc, char **argv, int *bad)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {NULL, 0, NULL, 0}};
	const char *path = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (c == 'c')
			path = optarg;
		else
			*bad = 1;
	}
	if (optind < argc) {
		fprintf(stderr, "hookgate: unexpected argument '%s'\n", argv[optind]);
		*bad = 1;
	}
	return path;
}

static int load_config(const char *path, struct hg_config **cfg)
{
	char err[1024];
	int rc =
	    path != NULL ? hg_config_load(path, cfg, err, sizeof(err)) : hg_config_default(cfg);
	if (rc != HG_OK) {
		if (path == NULL)
			snprintf(err, sizeof(err), "cannot build the default configuration");
		fprintf(stderr, "hookgate: %s\n", err);
		return rc == HG_EIO ? EXIT_RUNTIME : EXIT_USAGE;
	}
	return EXIT_OK;
}

static size_t largest_body(const struct hg_config *cfg)
{
	size_t max = cfg->max_body;
	for (size_t i = 0; i != cfg->n_sources; ++i)
		if (cfg->sources[i].max_body > max)
			max = cfg->sources[i].max_body;
	return max;
}

static int str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

static int secret_differs(const struct hg_secret *a, const struct hg_secret *b)
{
	return a->len != b->len || (a->len > 0 && !hg_ct_equal(a->bytes, b->bytes, a->len));
}

/* Appends to out (a ", "-separated list) the settings of next that the
 * running daemon cannot take without a restart: the listening socket and
 * its TLS, the store, the event loops, the admin token (its hash is kept
 * by the API), and a max_body above what the HTTP layer was started with. */
static void restart_keys(const struct hg_config *cur, const struct hg_config *next,
			 size_t started_body, char *out, size_t outlen)
{
	const struct {
		const char *key;
		int differs;
	} k[] = {
	    {"listen", str_differs(cur->listen_host, next->listen_host) ||
			   cur->listen_port != next->listen_port},
	    {"store", str_differs(cur->store, next->store)},
	    {"tls", str_differs(cur->tls_cert, next->tls_cert) ||
			str_differs(cur->tls_key, next->tls_key) ||
			str_differs(cur->tls_client_ca, next->tls_client_ca) ||
			cur->tls_client_cert != next->tls_client_cert},
	    {"threads", cur->threads != next->threads},
	    {"max_connections", cur->max_connections != next->max_connections},
	    {"request_timeout", cur->request_timeout_ms != next->request_timeout_ms},
	    {"max_in_flight", cur->max_in_flight != next->max_in_flight},
	    {"console", cur->console != next->console},
	    {"admin_token_env", str_differs(cur->admin_token_env, next->admin_token_env) ||
				    secret_differs(&cur->admin_token, &next->admin_token)},
	    {"max_body (above the size the server started with)",
	     largest_body(next) > started_body},
	};
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (k[i].differs && used < outlen)
			used += (size_t)snprintf(out + used, outlen - used, "%s%s",
						 used ? ", " : "", k[i].key);
}

/*
 * SIGHUP: loads the file again and, when it is valid, makes it the current
 * snapshot: requests that start from here on see the new sources, secrets,
 * routes and limits; work in progress finishes under the one it started
 * with. A file that fails to load is refused whole and the running config
 * stays. Either outcome is logged and audit-logged.
 */
static void reload(const char *path, struct hg_config_live *live, struct hg_ingest *ingest,
		   struct hg_deliver *deliver, size_t started_body, const char *started_store)
{
	struct hg_config *next = NULL, *cur;
	char err[1024], restart[512], summary[768];
	int rc;

	if (path == NULL) {
		hg_log(HG_LOG_WARN, "SIGHUP: nothing to reload (started without -c FILE)", NULL);
		return;
	}
	if (hg_config_load(path, &next, err, sizeof(err)) != HG_OK) {
		hg_log(HG_LOG_ERROR, "config reload refused; the running config stays", "config",
		       HG_LS(path), "error", HG_LS(err), NULL);
		hg_ingest_audit(ingest, "config_reload_failed", NULL, NULL, err);
		return;
	}
	cur = hg_config_get(live, NULL);
	restart_keys(cur, next, started_body, restart, sizeof(restart));
	/* the keys are checked against the store before anything changes (the
	 * one this daemon runs on: a new `store:` waits for a restart): a
	 * key some stored value needs cannot be dropped by a reload, and a
	 * rekey to a key this daemon lacks shows here rather than at a read */
	rc = cur->n_enc_keys > 0 || next->n_enc_keys > 0
		 ? hg_store_keys_load(started_store, next->enc_keys, next->n_enc_keys, err,
				      sizeof(err))
		 : HG_OK;
	hg_config_put(cur);
	if (rc != HG_OK) {
		hg_log(HG_LOG_ERROR, "config reload refused; the running config stays", "config",
		       HG_LS(path), "error", HG_LS(err), NULL);
		hg_ingest_audit(ingest, "config_reload_failed", NULL, NULL, err);
		hg_config_free(next);
		return;
	}
	hg_log_set_level(next->log_level);
	hg_ingest_set_audit_policy(ingest, next->audit_window_ms, next->audit_max_rows);
	snprintf(summary, sizeof(summary), "%s: %zu source%s, %zu endpoint%s%s%s", path,
		 next->n_sources, next->n_sources == 1 ? "" : "s", next->n_endpoints,
		 next->n_endpoints == 1 ? "" : "s",
		 restart[0] ? "; needs a restart to change: " : "", restart);
	hg_deliver_reload(deliver, next);
	hg_config_live_swap(live, next);
	hg_log(restart[0] ? HG_LOG_WARN : HG_LOG_INFO, "config reloaded", "config", HG_LS(path),
	       "sources", HG_LI((int64_t)next->n_sources), "endpoints",
	       HG_LI((int64_t)next->n_endpoints), "needs_restart", HG_LS(restart), NULL);
	hg_ingest_audit(ingest, "config_reloaded", NULL, NULL, summary);
}

/* The store alert's question: does this node's store take writes? */
/* The alert rules' view of the store: did a write fail since they last
 * looked (every round sees a failure, however short)? */
struct ingest_watch {
	struct hg_ingest *ingest;
	uint64_t seen; /* housekeeping's thread only */
};

static int ingest_ok(void *arg)
{
	struct ingest_watch *w = arg;

	return hg_ingest_healthy_since(w->ingest, &w->seen);
}

static int cmd_serve(int argc, char **argv)
{
	struct hg_config *cfg = NULL;
	struct hg_config_live *live = NULL;
	struct hg_ingest *ingest = NULL;
	struct hg_deliver *deliver = NULL;
	struct hg_stats *stats = NULL;
	struct hg_api *api = NULL;
	struct hg_console *console = NULL;
	struct hg_housekeep *hk = NULL;
	struct hg_media_fetcher *fetcher = NULL;
	struct hg_alerts *alerts = NULL;
	struct hg_http_server *srv = NULL;
	char err[512];
	int bad = 0, rc = EXIT_RUNTIME, sig = 0;
	sigset_t set;

	if (wants_help(argc, argv)) {
		fputs(usage_serve, stdout);
		return EXIT_OK;
	}
	const char *path = config_arg(argc, argv, &bad);
	if (bad) {
		fputs(usage_serve, stderr);
		return EXIT_USAGE;
	}
	if ((rc = load_config(path, &cfg)) != EXIT_OK)
		return rc;
	rc = EXIT_RUNTIME;
	hg_log_set_level(cfg->log_level);
	if (hg_config_live_new(cfg, &live) != HG_OK) {
		hg_config_free(cfg);
		fprintf(stderr, "hookgate: out of memory\n");
		return EXIT_RUNTIME;
	}
	/* cfg stays valid while we hold this reference: the startup settings
	 * (listen, store, TLS) are read from it below and at shutdown. */
	hg_config_hold(cfg);

	/* Signals are taken by sigwait() below; every thread started from here
	 * on inherits the mask, so none of them is interrupted. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Past a file-size limit a write must fail (and the request get 503),
	 * not kill the process with SIGXFSZ. */
	signal(SIGXFSZ, SIG_IGN);

	if (hg_store_keys_load(cfg->store, cfg->enc_keys, cfg->n_enc_keys, err, sizeof(err)) !=
	    HG_OK) {
		fprintf(stderr, "hookgate: encryption: %s\n", err);
		goto out;
	}
	if (hg_ingest_start(cfg->store, &ingest, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: cannot open the store: %s\n", err);
		goto out;
	}
	hg_ingest_set_audit_policy(ingest, cfg->audit_window_ms, cfg->audit_max_rows);
	if (hg_stats_new(&stats) != HG_OK) {
		fprintf(stderr, "hookgate: out of memory\n");
		goto out;
	}
	if (hg_deliver_start(cfg, &deliver, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: cannot start the delivery engine: %s\n", err);
		goto out;
	}
	hg_deliver_set_stats(deliver, stats);
	if (hg_alerts_new(&alerts) != HG_OK) {
		fprintf(stderr, "hookgate: out of memory\n");
		goto out;
	}
	hg_alerts_set_engine(alerts, deliver);
	if (hg_console_new(cfg, ingest, &console) != HG_OK) {
		fprintf(stderr, "hookgate: out of memory\n");
		goto out;
	}
	/* Replays and retries wake the engine as a commit of the writer does. */
	struct hg_api_opts aopts = {.cfg = cfg,
				    .console = console,
				    .live = live,
				    .stats = stats,
				    .ingest = ingest,
				    .alerts = alerts,
				    .wake = hg_deliver_wake_cb,
				    .wake_arg = deliver,
				    .deliver = deliver};
	if (hg_api_start(&aopts, &api, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: cannot start the management API: %s\n", err);
		goto out;
	}
	struct ingest_watch watch = {.ingest = ingest};
	struct hg_housekeep_opts kopts = {.store_uri = cfg->store,
					  .live = live,
					  .stats = stats,
					  .alerts = alerts,
					  .store_ok = ingest_ok,
					  .store_ok_arg = &watch};
	if (hg_housekeep_start(&kopts, &hk, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: cannot start housekeeping: %s\n", err);
		goto out;
	}
	if (hg_media_fetcher_start(live, cfg->store, &fetcher) != HG_OK) {
		fprintf(stderr, "hookgate: cannot start the media fetcher\n");
		goto out;
	}
	/* Every commit that stores deliveries wakes the engine. */
	hg_ingest_set_commit_hook(ingest, hg_deliver_wake_cb, deliver);
	struct hg_inbound inbound = {.live = live, .ingest = ingest, .stats = stats};
	struct hg_http_opts hopts = {.host = cfg->listen_host,
				     .port = cfg->listen_port,
				     .threads = cfg->threads,
				     .max_body = largest_body(cfg),
				     .request_timeout_ms = cfg->request_timeout_ms,
				     .max_connections = cfg->max_connections,
				     .tls_cert = cfg->tls_cert,
				     .tls_key = cfg->tls_key,
				     .tls_client_ca = cfg->tls_client_ca,
				     .tls_client_cert = (int)cfg->tls_client_cert};
	if (hg_http_server_new(&hopts, &srv) != HG_OK ||
	    hg_http_server_route(srv, "/in/", hg_inbound_handle, &inbound) != HG_OK ||
	    hg_http_server_route(srv, "/healthz", hg_inbound_healthz, &inbound) != HG_OK ||
	    hg_http_server_route(srv, "/readyz", hg_inbound_readyz, &inbound) != HG_OK ||
	    hg_http_server_route(srv, "/api/", hg_api_handle, api) != HG_OK ||
	    hg_http_server_route(srv, "/metrics", hg_api_metrics, api) != HG_OK ||
	    hg_http_server_route(srv, "/api/v1/api-keys", hg_api_outbound_handle, api) != HG_OK ||
	    hg_http_server_route(srv, "/api/v1/api-keys/", hg_api_outbound_handle, api) != HG_OK ||
	    hg_http_server_route(srv, "/api/v1/webhooks", hg_api_outbound_handle, api) != HG_OK ||
	    hg_http_server_route(srv, "/api/v1/webhooks/", hg_api_outbound_handle, api) != HG_OK ||
	    hg_http_server_route(srv, "/api/v1/events", hg_api_outbound_handle, api) != HG_OK ||
	    hg_http_server_route(srv, "/ui", hg_console_handle, console) != HG_OK ||
	    hg_http_server_route(srv, "/ui/", hg_console_handle, console) != HG_OK) {
		fprintf(stderr, "hookgate: out of memory\n");
		goto out;
	}
	if (hg_http_server_start(srv, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: %s:%d: %s\n", cfg->listen_host, cfg->listen_port, err);
		goto out;
	}
	hg_ingest_audit(ingest, "config_loaded", NULL, NULL, cfg->path);
	hg_log(HG_LOG_INFO, "listening", "host", HG_LS(cfg->listen_host), "port",
	       HG_LI(hg_http_server_port(srv)), "config", HG_LS(cfg->path), "sources",
	       HG_LI(cfg->n_sources), "version", HG_LS(HG_VERSION), NULL);
	/* Under systemd (Type=notify) the unit counts as started only now:
	 * the store is open and the listeners take connections. Without
	 * NOTIFY_SOCKET this does nothing. */
	sd_notify(0, "READY=1\nSTATUS=serving");

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			sd_notify(0, "RELOADING=1\nSTATUS=reloading the config");
			reload(path, live, ingest, deliver, largest_body(cfg), cfg->store);
			sd_notify(0, "READY=1\nSTATUS=serving");
			continue;
		}
		break;
	}
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	hg_log(HG_LOG_INFO, "shutting down", "signal", HG_LS(sig == SIGINT ? "SIGINT" : "SIGTERM"),
	       NULL);
	rc = EXIT_OK;
out:
	/* Order matters: the server stops taking requests and waits (a while)
	 * for the deferred answers, which the writer and the API workers
	 * produce; answers still coming after that are dropped by the server,
	 * which is freed only once nothing can answer any more. The engine
	 * stops before the writer, once the writer no longer calls its
	 * wake-up. */
	if (srv != NULL)
		hg_http_server_stop(srv);
	if (ingest != NULL)
		hg_ingest_set_commit_hook(ingest, NULL, NULL);
	hg_alerts_set_engine(alerts, NULL); /* housekeeping outlives the engine */
	hg_deliver_stop(deliver);
	hg_media_fetcher_stop(fetcher);
	hg_api_stop(api);
	hg_console_free(console);
	/* After the engine: its last outcomes are in the final stats flush. */
	hg_housekeep_stop(hk);
	if (ingest != NULL)
		hg_ingest_stop(ingest);
	if (srv != NULL)
		hg_http_server_free(srv);
	hg_stats_free(stats);
	hg_alerts_free(alerts);
	hg_config_put(cfg);
	hg_config_live_free(live);
	hg_store_keys_release();
	if (rc == EXIT_OK)
		hg_log(HG_LOG_INFO, "stopped", NULL);
	return rc;
}

static int read_all(const char *path, struct hg_buf *out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[65536];
	size_t n;
	if (f == NULL)
		return HG_EIO;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (hg_buf_append(out, chunk, n) != HG_OK)
			break;
	int rc = ferror(f) ? HG_EIO : HG_OK;
	if (f != stdin)
		fclose(f);
	return rc;
}

static int cmd_sign(int argc, char **argv)
{
	enum {
		O_SCHEME = 256,
		O_SECRET,
		O_SECRET_ENV,
		O_URL,
		O_TS,
		O_ID,
		O_HEADER,
		O_ALG,
		O_ENC,
		O_PREFIX
	};
	static const struct option opts[] = {{"scheme", required_argument, NULL, O_SCHEME},
					     {"secret", required_argument, NULL, O_SECRET},
					     {"secret-env", required_argument, NULL, O_SECRET_ENV},
					     {"url", required_argument, NULL, O_URL},
					     {"timestamp", required_argument, NULL, O_TS},
					     {"id", required_argument, NULL, O_ID},
					     {"header", required_argument, NULL, O_HEADER},
					     {"algorithm", required_argument, NULL, O_ALG},
					     {"encoding", required_argument, NULL, O_ENC},
					     {"prefix", required_argument, NULL, O_PREFIX},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *scheme_name = NULL, *secret = NULL, *file = "-";
	struct hg_sign_input in = {.algorithm = HG_SHA256, .encoding = HG_ENC_HEX};
	struct hg_buf body = {0}, out = {0};
	int c, rc = EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_SCHEME:
			scheme_name = optarg;
			break;
		case O_SECRET:
			secret = optarg;
			break;
		case O_SECRET_ENV:
			secret = getenv(optarg);
			if (secret == NULL) {
				fprintf(stderr, "hookgate: environment variable %s is not set\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case O_URL:
			in.url = optarg;
			break;
		case O_TS: {
			char *end;
			errno = 0;
			in.timestamp = strtoll(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || in.timestamp < 0) {
				fprintf(stderr,
					"hookgate: --timestamp expects whole seconds (milliseconds "
					"for zoho) since the epoch, "
					"not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case O_ID:
			in.id = optarg;
			break;
		case O_HEADER:
			in.header = optarg;
			break;
		case O_ALG:
			if (strcmp(optarg, "sha1") == 0)
				in.algorithm = HG_SHA1;
			else if (strcmp(optarg, "sha256") == 0)
				in.algorithm = HG_SHA256;
			else if (strcmp(optarg, "sha512") == 0)
				in.algorithm = HG_SHA512;
			else {
				fprintf(stderr,
					"hookgate: --algorithm must be sha1, sha256 or sha512\n");
				return EXIT_USAGE;
			}
			break;
		case O_ENC:
			if (strcmp(optarg, "hex") == 0)
				in.encoding = HG_ENC_HEX;
			else if (strcmp(optarg, "base64") == 0)
				in.encoding = HG_ENC_BASE64;
			else {
				fprintf(stderr, "hookgate: --encoding must be hex or base64\n");
				return EXIT_USAGE;
			}
			break;
		case O_PREFIX:
			in.prefix = optarg;
			break;
		case 'h':
			fputs(usage_sign, stdout);
			printf("\nschemes: %s\n", hg_verify_names());
			return EXIT_OK;
		default:
			fputs(usage_sign, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc || scheme_name == NULL || secret == NULL) {
		fputs(usage_sign, stderr);
		return EXIT_USAGE;
	}
	const struct hg_verify_scheme *scheme = hg_verify_find(scheme_name);
	if (scheme == NULL) {
		fprintf(stderr, "hookgate: unknown scheme '%s' (known: %s)\n", scheme_name,
			hg_verify_names());
		return EXIT_USAGE;
	}
	if (in.header == NULL && (!strcmp(scheme_name, "hmac") || !strcmp(scheme_name, "token"))) {
		fprintf(stderr,
			"hookgate: --scheme %s needs --header NAME (the header it goes in%s)\n",
			scheme_name, strcmp(scheme_name, "token") ? "" : ", or query:Name");
		return EXIT_USAGE;
	}
	if (read_all(file, &body) != HG_OK) {
		fprintf(stderr, "hookgate: cannot read %s: %s\n", file, strerror(errno));
		rc = EXIT_RUNTIME;
		goto out;
	}
	in.secret = (const uint8_t *)secret;
	in.secret_len = strlen(secret);
	in.body = body.data != NULL ? body.data : (const uint8_t *)"";
	in.body_len = body.len;
	if (in.url == NULL && strcmp(scheme_name, "twilio") == 0) {
		fprintf(stderr, "hookgate: --scheme twilio needs --url URL (the URL Twilio "
				"calls: it signs it)\n");
		goto out;
	}
	int src = scheme->sign(&in, &out);
	if (src == HG_EINVAL) {
		fprintf(stderr, "hookgate: cannot sign with scheme %s: %s\n", scheme_name,
			strcmp(scheme_name, "standard") == 0
			    ? "--secret must be the whsec_... secret (base64 after whsec_)"
			    : "--secret or another option is not one this scheme takes");
		goto out;
	}
	if (src != HG_OK) {
		fprintf(stderr, "hookgate: cannot sign with scheme %s: %s\n", scheme_name,
			hg_strerror(src));
		rc = EXIT_RUNTIME;
		goto out;
	}
	fwrite(out.data, 1, out.len, stdout);
	rc = EXIT_OK;
out:
	hg_buf_free(&body);
	hg_buf_free(&out);
	return rc;
}

/* Warns when the directory that will hold a SQLite store does not exist:
 * serve creates it (0700) on its first start, which is right for `make
 * run` and a surprise on a server where it names the wrong place. */
static void warn_store_dir(const char *path, const struct hg_config *cfg)
{
	const char *file = cfg->store != NULL ? hg_store_sqlite_file(cfg->store) : NULL;
	const char *slash = file != NULL ? strrchr(file, '/') : NULL;
	struct stat sb;
	char dir[4096];

	if (slash == NULL || slash == file || (size_t)(slash - file) >= sizeof(dir))
		return; /* the working directory, /, or not SQLite */
	memcpy(dir, file, (size_t)(slash - file));
	dir[slash - file] = '\0';
	if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return;
	fprintf(stderr,
		"hookgate: warning: %s: store: the directory %s does not exist; 'hookgate "
		"serve' will create it (mode 0700) - create it yourself if that is not the "
		"place you meant\n",
		path, dir);
}

static int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"no-env", no_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	struct hg_config *cfg = NULL;
	const char *path = NULL;
	unsigned flags = 0;
	char err[1024];
	int c, bad = 0;

	if (argc < 2 || wants_help(argc, argv)) {
		fputs(usage_config, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "hookgate: unknown config command '%s'\n", argv[1]);
		fputs(usage_config, stderr);
		return EXIT_USAGE;
	}
	hg_cli_name(&argv[1], "config");
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "c:", opts, NULL)) != -1) {
		if (c == 'c')
			path = optarg;
		else if (c == 'n')
			flags |= HG_CONFIG_NO_SECRETS;
		else
			bad = 1;
	}
	if (optind < argc - 1) {
		fprintf(stderr, "hookgate: unexpected argument '%s'\n", argv[1 + optind]);
		bad = 1;
	} else if (!bad && path == NULL) {
		fprintf(stderr, "hookgate: config check needs -c FILE\n");
		bad = 1;
	}
	if (bad) {
		fputs(usage_config, stderr);
		return EXIT_USAGE;
	}
	int rc = hg_config_load_opts(path, flags, &cfg, err, sizeof(err));
	if (rc != HG_OK) {
		fprintf(stderr, "hookgate: %s\n", err);
		return rc == HG_EIO ? EXIT_RUNTIME : EXIT_USAGE;
	}
	warn_store_dir(path, cfg);
	printf("%s: ok (%zu source%s%s)\n", path, cfg->n_sources, cfg->n_sources == 1 ? "" : "s",
	       flags & HG_CONFIG_NO_SECRETS ? "; secrets not read" : "");
	hg_config_free(cfg);
	return EXIT_OK;
}

static int cmd_migrate(int argc, char **argv)
{
	struct hg_config *cfg = NULL;
	struct hg_store *st = NULL;
	char err[512];
	int bad = 0, rc;
	if (wants_help(argc, argv)) {
		fputs(usage_migrate, stdout);
		return EXIT_OK;
	}
	const char *path = config_arg(argc, argv, &bad);
	if (bad) {
		fputs(usage_migrate, stderr);
		return EXIT_USAGE;
	}
	if ((rc = load_config(path, &cfg)) != EXIT_OK)
		return rc;
	if (hg_store_open(cfg->store, &st, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: cannot open the store: %s\n", err);
		hg_config_free(cfg);
		return EXIT_RUNTIME;
	}
	char shown[512];
	hg_store_uri_redact(cfg->store, shown, sizeof(shown));
	printf("%s: schema version %d\n", shown, hg_store_schema_version(st));
	hg_store_close(st);
	hg_config_free(cfg);
	return EXIT_OK;
}

static int cmd_audit(int argc, char **argv)
{
	struct hg_config *cfg = NULL;
	struct hg_store *st = NULL;
	int64_t rows = 0, bad_seq = 0;
	char err[512], why[256];
	int bad = 0, rc;

	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		hg_cli_name(&argv[1], "audit");
		return hg_cli_audit_list(argc - 1, argv + 1);
	}
	if (argc < 2 || wants_help(argc, argv)) {
		fputs(usage_audit, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "hookgate: unknown audit command '%s'\n", argv[1]);
		fputs(usage_audit, stderr);
		return EXIT_USAGE;
	}
	hg_cli_name(&argv[1], "audit");
	const char *path = config_arg(argc - 1, argv + 1, &bad);
	if (bad) {
		fputs(usage_audit, stderr);
		return EXIT_USAGE;
	}
	if ((rc = load_config(path, &cfg)) != EXIT_OK)
		return rc;
	rc = EXIT_RUNTIME;
	if (hg_store_open(cfg->store, &st, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: cannot open the store: %s\n", err);
		goto out;
	}
	switch (hg_store_audit_verify(st, &rows, &bad_seq, why, sizeof(why))) {
	case HG_OK:
		if (why[0] != '\0') /* it starts at a retention checkpoint */
			printf("audit log ok: %lld rows; %s\n", (long long)rows, why);
		else
			printf("audit log ok: %lld rows\n", (long long)rows);
		rc = EXIT_OK;
		break;
	case HG_EAUTH:
		printf("audit log broken at row %lld: %s\n", (long long)bad_seq, why);
		break;
	default:
		fprintf(stderr, "hookgate: %s\n", why);
		break;
	}
out:
	hg_store_close(st);
	hg_config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	/* getopt's messages start with argv[0]: "hookgate serve: option
	 * requires an argument -- 'c'" names the command and the flag */
	hg_cli_name(&argv[1], NULL);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	if (strcmp(cmd, "config") == 0)
		return cmd_config(argc - 1, argv + 1);
	if (strcmp(cmd, "migrate") == 0)
		return cmd_migrate(argc - 1, argv + 1);
	if (strcmp(cmd, "audit") == 0)
		return cmd_audit(argc - 1, argv + 1);
	if (strcmp(cmd, "messages") == 0)
		return hg_cli_messages(argc - 1, argv + 1);
	if (strcmp(cmd, "dlq") == 0)
		return hg_cli_dlq(argc - 1, argv + 1);
	if (strcmp(cmd, "endpoints") == 0)
		return hg_cli_endpoints(argc - 1, argv + 1);
	if (strcmp(cmd, "webhooks") == 0)
		return hg_cli_webhooks(argc - 1, argv + 1);
	if (strcmp(cmd, "api-keys") == 0)
		return hg_cli_api_keys(argc - 1, argv + 1);
	if (strcmp(cmd, "events") == 0)
		return hg_cli_events(argc - 1, argv + 1);
	if (strcmp(cmd, "purge") == 0)
		return hg_cli_purge(argc - 1, argv + 1);
	if (strcmp(cmd, "reload") == 0)
		return hg_cli_reload(argc - 1, argv + 1);
	if (strcmp(cmd, "keys") == 0)
		return hg_cli_keys(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		if (wants_help(argc - 1, argv + 1)) {
			fputs(usage_version, stdout);
			return EXIT_OK;
		}
		printf("hookgate %s\n", HG_VERSION);
		return EXIT_OK;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_main, stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "hookgate: unknown command '%s'\n\n%s", cmd, usage_main);
	return EXIT_USAGE;
}
