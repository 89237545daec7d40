/*
 * audit.c — `hookgate audit list`: the audit log, newest first, read from
 * the configured store directly (as `hookgate audit verify` does), so it
 * works without a running daemon. A table for a person, or with --json one
 * JSON object per line, each the shape GET /api/v1/audit gives a row
 * (hg_api_audit_row_json). Reading the audit log is not itself audited.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "cli/cli.h"
#include "config/config.h"
#include "store/store.h"

#define AUDIT_LIST_DEFAULT 50
#define AUDIT_LIST_MAX     1000000

static const char usage_audit_list[] =
    "usage: hookgate audit list [-c FILE] [--since T] [--until T] [--action A]\n"
    "                           [--source S] [--limit N] [--json]\n"
    "\n"
    "Prints the audit log of the configured store, newest first: its row\n"
    "number, time, event, source, client, count and reason. Reads the store\n"
    "directly; the daemon need not run.\n"
    "\n"
    "  -c, --config FILE   configuration file (default: the built-in one)\n"
    "  --since T           rows at or after T (ISO 8601 or ms since the epoch)\n"
    "  --until T           rows before T\n"
    "  --action A          only the event A, such as read_message or bad_signature\n"
    "  --source S          only rows about source S\n"
    "  --limit N           at most N rows (default 50)\n"
    "  --json              one JSON object per line (seq, time, time_ms, event,\n"
    "                      source, client, reason, count, hash)\n"
    "  -h, --help          this help\n";

struct audit_list_opts {
	const char *config;
	struct hg_store_audit_filter f;
	int json, help;
};

static int bad_time(const char *opt, const char *v)
{
	fprintf(stderr,
		"hookgate: %s: expected a time such as 2024-01-15T10:30:00Z or ms since the "
		"epoch, got \"%s\"\n",
		opt, v);
	return HG_EXIT_USAGE;
}

/* Parses argv (argv[0] is "list") into o. HG_EXIT_OK or HG_EXIT_USAGE (said why). */
static int audit_list_parse(int argc, char **argv, struct audit_list_opts *o)
{
	enum { O_SINCE = 256, O_UNTIL, O_ACTION, O_SOURCE, O_LIMIT, O_JSON };
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"help", no_argument, NULL, 'h'},
					     {"since", required_argument, NULL, O_SINCE},
					     {"until", required_argument, NULL, O_UNTIL},
					     {"action", required_argument, NULL, O_ACTION},
					     {"source", required_argument, NULL, O_SOURCE},
					     {"limit", required_argument, NULL, O_LIMIT},
					     {"json", no_argument, NULL, O_JSON},
					     {NULL, 0, NULL, 0}};
	char *end;
	long long n;
	int c;

	memset(o, 0, sizeof(*o));
	o->f = (struct hg_store_audit_filter){
	    .since_ms = INT64_MIN, .until_ms = INT64_MAX, .limit = AUDIT_LIST_DEFAULT};
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'h':
			o->help = 1;
			break;
		case O_SINCE:
			if (hg_api_parse_time(optarg, &o->f.since_ms) != HG_OK)
				return bad_time("--since", optarg);
			break;
		case O_UNTIL:
			if (hg_api_parse_time(optarg, &o->f.until_ms) != HG_OK)
				return bad_time("--until", optarg);
			break;
		case O_ACTION:
			o->f.event = optarg;
			break;
		case O_SOURCE:
			o->f.source = optarg;
			break;
		case O_LIMIT:
			n = strtoll(optarg, &end, 10);
			if (optarg[0] == '\0' || *end != '\0' || n < 1 || n > AUDIT_LIST_MAX) {
				fprintf(stderr,
					"hookgate: --limit: expected a whole number from 1 to %d, "
					"got \"%s\"\n",
					AUDIT_LIST_MAX, optarg);
				return HG_EXIT_USAGE;
			}
			o->f.limit = (size_t)n;
			break;
		case O_JSON:
			o->json = 1;
			break;
		default:
			return HG_EXIT_USAGE; /* getopt said why */
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hookgate: unexpected argument '%s'\n", argv[optind]);
		return HG_EXIT_USAGE;
	}
	return HG_EXIT_OK;
}

static int print_json_row(const struct hg_store_audit_row *r, void *arg)
{
	json_t *o = hg_api_audit_row_json(r);
	int *failed = arg;

	if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) != 0 || fputc('\n', stdout) == EOF)
		*failed = 1;
	json_decref(o);
	return *failed;
}

static const char *or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

static int print_table_row(const struct hg_store_audit_row *r, void *arg)
{
	char when[32];
	int *failed = arg;

	hg_time_iso8601(r->ev.ts_ms, when, sizeof(when));
	if (printf("%-8" PRId64 " %-24s %-20s %-14s %-22s %6" PRId64 "  %s\n", r->seq, when,
		   or_dash(r->ev.event), or_dash(r->ev.source), or_dash(r->ev.client), r->ev.count,
		   or_dash(r->ev.reason)) < 0)
		*failed = 1;
	return *failed;
}

int hg_cli_audit_list(int argc, char **argv)
{
	struct audit_list_opts o;
	struct hg_config *cfg = NULL;
	struct hg_store *st = NULL;
	char err[512];
	int rc, failed = 0;

	rc = audit_list_parse(argc, argv, &o);
	if (rc == HG_EXIT_OK && o.help) {
		fputs(usage_audit_list, stdout);
		return HG_EXIT_OK;
	}
	if (rc != HG_EXIT_OK) {
		fputs(usage_audit_list, stderr);
		return rc;
	}
	rc = hg_cli_store_config(o.config, &cfg);
	if (rc != HG_EXIT_OK)
		return rc;
	rc = HG_EXIT_RUNTIME;
	if (hg_store_open(cfg->store, &st, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: cannot open the store: %s\n", err);
		goto out;
	}
	if (!o.json)
		printf("%-8s %-24s %-20s %-14s %-22s %6s  %s\n", "SEQ", "TIME", "EVENT", "SOURCE",
		       "CLIENT", "COUNT", "REASON");
	if (hg_store_audit_list(st, &o.f, o.json ? print_json_row : print_table_row, &failed) !=
	    HG_OK) {
		fprintf(stderr, "hookgate: cannot read the audit log (see the log line above)\n");
		goto out;
	}
	if (failed || fflush(stdout) != 0) {
		fprintf(stderr, "hookgate: cannot write the list (out of memory or output "
				"closed)\n");
		goto out;
	}
	rc = HG_EXIT_OK;
out:
	hg_store_close(st);
	hg_config_free(cfg);
	return rc;
}
