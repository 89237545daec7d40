/*
 * cli.h — the operator's commands beyond serve: `messages` and `dlq` talk to
 * a running daemon's management API over HTTP (libcurl) and print a table
 * (or, with --json, the API's JSON as it came); `purge` applies retention
 * once and `audit list` reads the audit log, both straight on the store.
 *
 * Each takes its own argv (argv[0] is the command's name) and returns the
 * process exit code: 0 ok, 1 runtime failure (the daemon unreachable or
 * answering an error), 2 usage or configuration error.
 */
#ifndef HG_CLI_H
#define HG_CLI_H

enum { HG_EXIT_OK = 0, HG_EXIT_RUNTIME = 1, HG_EXIT_USAGE = 2 };

/* The admin token's variable when the config names none (or no -c). */
#define HG_CLI_TOKEN_ENV   "HOOKGATE_ADMIN_TOKEN"
#define HG_CLI_DEFAULT_URL "http://127.0.0.1:8080"
/* An owner's or publisher's API key for webhooks and events (outbound). */
#define HG_CLI_API_KEY_ENV "HOOKGATE_TOKEN"

/* Renames *argv0 (a command's argv[0]) "hookgate GROUP NAME" ("hookgate
 * NAME" for a NULL group), so getopt's messages name the command: "hookgate
 * messages list: option '--limit' requires an argument". The name lives in
 * a static buffer: one command per process. */
void hg_cli_name(char **argv0, const char *group);

/* hookgate messages (list | show ID | replay ID) [OPTIONS] */
int hg_cli_messages(int argc, char **argv);
/* hookgate dlq (list | retry (ID | --endpoint E)) [OPTIONS] */
int hg_cli_dlq(int argc, char **argv);
/* hookgate endpoints [OPTIONS]: the endpoints' health */
int hg_cli_endpoints(int argc, char **argv);
/* hookgate webhooks (create URL --events L | list | update ID ... |
 * regenerate-secret ID | deliveries ID | delete ID) [OPTIONS] */
int hg_cli_webhooks(int argc, char **argv);
/* hookgate api-keys (create --owner ID [--role R] | list [--owner ID] |
 * revoke ID) [OPTIONS], with the admin token */
int hg_cli_api_keys(int argc, char **argv);
/* hookgate events publish --event T --data JSON [--owner ID] [OPTIONS] */
int hg_cli_events(int argc, char **argv);
/* The config of a command that works on the store directly (purge, audit
 * list): path loaded without its secrets, or the built-in one for NULL.
 * HG_EXIT_OK, or the exit code with the reason printed. */
struct hg_config;
int hg_cli_store_config(const char *path, struct hg_config **cfg);
/* hookgate purge [-c FILE] [--older-than DURATION] */
int hg_cli_purge(int argc, char **argv);
/* hookgate keys (generate | status -c FILE | rekey -c FILE [--batch N]) */
int hg_cli_keys(int argc, char **argv);
/* hookgate audit list [-c FILE] [--since T] [--until T] [--action A]
 * [--source S] [--limit N] [--json]: the audit log, straight from the store */
int hg_cli_audit_list(int argc, char **argv);
/* hookgate reload -c FILE: SIGHUP to the hookgate listening on FILE's address */
int hg_cli_reload(int argc, char **argv);

#endif
