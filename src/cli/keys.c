/*
 * keys.c — `hookgate keys`: make a key, see which keys the stored values
 * need, and re-encrypt everything under the active key (README, "Data
 * protection", has the rotation steps these serve).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "config/config.h"
#include "crypt/crypt.h"
#include "store/store.h"
#include "util/util.h"

static const char usage_keys[] =
    "usage: hookgate keys generate\n"
    "       hookgate keys status -c FILE\n"
    "       hookgate keys rekey -c FILE [--batch N]\n"
    "\n"
    "generate  print a new random key: 32 bytes as 64 hex digits. Put it in a\n"
    "          file only its owner can read (chmod 600) or in an environment\n"
    "          variable, and list it under encryption: key_file / key_env.\n"
    "status    the configured keys (the last one encrypts new data) and how many\n"
    "          stored rows each key, or no key, protects.\n"
    "rekey     re-encrypt every stored value with the active key: values of\n"
    "          older keys and those stored before encryption was on; dedupe keys\n"
    "          stored in clear become keyed hashes. Runs beside the daemon, in\n"
    "          small transactions (--batch rows each, default 256), and prints\n"
    "          its progress. Afterwards an old key can leave the config.\n\n"
    "\n"
    "  -c, --config FILE   the configuration file (its encryption keys and store)\n"
    "  --batch N           rekey: rows per transaction, 1 to 100000 (default 256)\n"
    "  -h, --help          this help\n";

/* ---- generate ---- */

static int generate(void)
{
	uint8_t key[HG_KEY_LEN];
	char hex[2 * HG_KEY_LEN + 1];

	if (hg_random_bytes(key, sizeof(key)) != HG_OK) {
		fprintf(stderr, "hookgate: the system's random source failed\n");
		return HG_EXIT_RUNTIME;
	}
	hg_hex_encode(key, sizeof(key), hex);
	printf("%s\n", hex);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hex, sizeof(hex));
	return HG_EXIT_OK;
}

/* ---- status and rekey: the config's keys on its store ---- */

struct keys_opts {
	const char *config;
	long batch;
};

static int parse(int argc, char **argv, struct keys_opts *o)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"batch", required_argument, NULL, 'b'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'b':
			o->batch = strtol(optarg, &end, 10);
			if (*end != '\0' || o->batch < 1 || o->batch > 100000) {
				fprintf(stderr, "hookgate: --batch: expected rows per transaction, "
						"1 to 100000\n");
				return HG_EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(usage_keys, stdout);
			exit(HG_EXIT_OK);
		default:
			return HG_EXIT_USAGE; /* getopt said why, naming the option */
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
		return HG_EXIT_USAGE;
	}
	if (o->config == NULL) {
		fprintf(stderr, "%s needs the config file: -c FILE\n", argv[0]);
		return HG_EXIT_USAGE;
	}
	return HG_EXIT_OK;
}

/* Loads the config, checks its keys against the store and puts them in
 * use; *st is an open handle on success. */
static int open_with_keys(const char *path, struct hg_config **cfg, struct hg_store **st)
{
	char err[1024];
	int rc;

	rc = hg_config_load(path, cfg, err, sizeof(err));
	if (rc != HG_OK) {
		fprintf(stderr, "hookgate: %s\n", err);
		return rc == HG_EIO ? HG_EXIT_RUNTIME : HG_EXIT_USAGE;
	}
	if (hg_store_keys_load((*cfg)->store, (*cfg)->enc_keys, (*cfg)->n_enc_keys, err,
			       sizeof(err)) != HG_OK ||
	    hg_store_open((*cfg)->store, st, err, sizeof(err)) != HG_OK) {
		fprintf(stderr, "hookgate: %s\n", err);
		return HG_EXIT_RUNTIME;
	}
	return HG_EXIT_OK;
}

static int print_usage_row(const char *table, const char *key_id, int64_t count, void *arg)
{
	const struct hg_config *cfg = arg;
	char id[HG_KEY_ID_LEN + 1];
	const char *state = "not configured";
	size_t i;

	for (i = 0; key_id != NULL && i < cfg->n_enc_keys; i++) {
		hg_key_id(cfg->enc_keys[i], id);
		if (strcmp(id, key_id) == 0)
			state = i + 1 == cfg->n_enc_keys ? "active" : "configured";
	}
	printf("  %-14s %-18s %-15s %" PRId64 " row%s\n", table,
	       key_id != NULL ? key_id : "(not encrypted)", key_id != NULL ? state : "", count,
	       count == 1 ? "" : "s");
	return 0;
}

static int status(const struct keys_opts *o)
{
	struct hg_config *cfg = NULL;
	struct hg_store *st = NULL;
	char id[HG_KEY_ID_LEN + 1];
	size_t i;
	int rc = open_with_keys(o->config, &cfg, &st);

	if (rc == HG_EXIT_OK) {
		if (cfg->n_enc_keys == 0)
			printf("encryption is off (no encryption: section)\n");
		for (i = 0; i < cfg->n_enc_keys; i++) {
			hg_key_id(cfg->enc_keys[i], id);
			printf("key %zu: %s%s\n", i + 1, id,
			       i + 1 == cfg->n_enc_keys ? " (active: encrypts new data)" : "");
		}
		printf("stored rows by key:\n");
		if (hg_store_key_usage(st, 1, print_usage_row, cfg) != HG_OK) {
			fprintf(stderr, "hookgate: cannot read the stored rows' keys\n");
			rc = HG_EXIT_RUNTIME;
		}
	}
	hg_store_close(st);
	hg_config_free(cfg);
	hg_store_keys_release();
	return rc;
}

static void progress(const struct hg_store_rekey_progress *p, void *arg)
{
	(void)arg;
	if (p->total >= 0)
		printf("%s: %" PRId64 " of %" PRId64 " re-encrypted\n", p->table, p->done,
		       p->total);
	else
		printf("%s: %" PRId64 " turned into keyed hashes\n", p->table, p->done);
	fflush(stdout);
}

static int rekey(const struct keys_opts *o)
{
	struct hg_store_rekey_report report = {.fn = progress};
	struct hg_config *cfg = NULL;
	struct hg_store *st = NULL;
	char err[512], id[HG_KEY_ID_LEN + 1];
	int rc = open_with_keys(o->config, &cfg, &st);

	if (rc == HG_EXIT_OK && cfg->n_enc_keys == 0) {
		fprintf(stderr,
			"hookgate: %s has no encryption: section; there is no key to "
			"re-encrypt with\n",
			o->config);
		rc = HG_EXIT_USAGE;
	}
	if (rc == HG_EXIT_OK) {
		hg_key_id(cfg->enc_keys[cfg->n_enc_keys - 1], id);
		printf("re-encrypting with key %s\n", id);
		if (hg_store_rekey(st, (size_t)o->batch, &report, err, sizeof(err)) != HG_OK) {
			fprintf(stderr,
				"hookgate: rekey stopped: %s; what was re-encrypted stays "
				"so, and running it again continues\n",
				err);
			rc = HG_EXIT_RUNTIME;
		} else {
			printf("done: every stored value is encrypted with key %s; keys listed "
			       "before it can now be removed from the config\n",
			       id);
		}
	}
	hg_store_close(st);
	hg_config_free(cfg);
	hg_store_keys_release();
	return rc;
}

int hg_cli_keys(int argc, char **argv)
{
	struct keys_opts o;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage_keys, argc < 2 ? stderr : stdout);
		return argc < 2 ? HG_EXIT_USAGE : HG_EXIT_OK;
	}
	if (!strcmp(argv[1], "generate")) {
		if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
			fputs(usage_keys, stdout);
			return HG_EXIT_OK;
		}
		if (argc > 2) {
			fprintf(stderr, "hookgate: keys generate takes no arguments\n");
			return HG_EXIT_USAGE;
		}
		return generate();
	}
	if (strcmp(argv[1], "status") != 0 && strcmp(argv[1], "rekey") != 0) {
		fprintf(stderr, "hookgate: unknown keys command '%s'\n\n%s", argv[1], usage_keys);
		return HG_EXIT_USAGE;
	}
	int is_status = !strcmp(argv[1], "status");
	hg_cli_name(&argv[1], "keys");
	rc = parse(argc - 1, argv + 1, &o);
	if (rc != HG_EXIT_OK) {
		fputs(usage_keys, stderr);
		return rc;
	}
	return is_status ? status(&o) : rekey(&o);
}
