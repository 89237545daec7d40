/*
 * config_encryption.c — the `encryption:` section: the keys of encryption
 * at rest (src/crypt/crypt.h), read from environment variables or files,
 * never from the YAML itself.
 *
 *   encryption:
 *     key_env: [HOOKGATE_KEY_OLD, HOOKGATE_KEY]   # or key_file: [...]
 *
 * Every key listed decrypts; the last one encrypts new writes. A key file
 * that others may use, or its group write, is refused: a key every user
 * of the machine can read protects nothing, and one a group can replace
 * no better.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "config/config_internal.h"
#include "crypt/crypt.h"

static const char *const cfg_encryption_keys[] = {"key_env", "key_file", NULL};

struct cfg_key_arg {
	struct hg_config *cfg;
	enum cfg_from from;
};

/* A key file must not be open to others, nor writable by its group (a
 * member could replace the key): mode 0600 or 0640 is right. */
static int cfg_key_file_private(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
				const char *text)
{
	struct stat sb;
	char *path;
	int rc = HG_OK;

	if (c->flags & HG_CONFIG_NO_SECRETS)
		return HG_OK;
	path = cfg_resolve_path(c, text);
	if (!path)
		return cfg_oom(c);
	if (stat(path, &sb) != 0)
		rc =
		    cfg_fail(c, cfg_line(at), "%s: cannot read %s: %s", key, path, strerror(errno));
	else if (sb.st_mode & (S_IRWXO | S_IWGRP))
		rc = cfg_fail(c, cfg_line(at), "%s: %s is open to %s (mode %04o); run chmod 600 %s",
			      key, path,
			      sb.st_mode & S_IRWXO ? "every user of this machine"
						   : "writes by its group",
			      (unsigned)(sb.st_mode & 07777), path);
	free(path);
	return rc;
}

static int cfg_add_key(struct cfg_ctx *c, const yaml_node_t *at, const char *key, const char *text,
		       void *arg)
{
	struct cfg_key_arg *a = arg;
	struct hg_config *cfg = a->cfg;
	struct hg_secret s = {0};
	uint8_t(*grown)[HG_KEY_LEN];
	char why[160];
	int rc;

	if (a->from == CFG_FROM_FILE && (rc = cfg_key_file_private(c, at, key, text)) != HG_OK)
		return rc;
	rc = cfg_resolve_secret(c, at, key, a->from, text, &s);
	if (rc)
		return rc;
	/* not realloc: the old block would go back to the heap with keys in it */
	grown = calloc(cfg->n_enc_keys + 1, sizeof(*grown));
	if (!grown) {
		cfg_wipe_secret(&s);
		return cfg_oom(c);
	}
	if (cfg->n_enc_keys > 0) {
		memcpy(grown, cfg->enc_keys, cfg->n_enc_keys * sizeof(*grown));
		OPENSSL_cleanse(cfg->enc_keys, cfg->n_enc_keys * sizeof(*grown));
	}
	free(cfg->enc_keys);
	cfg->enc_keys = grown;
	if (c->flags & HG_CONFIG_NO_SECRETS) {
		/* a stand-in that no real key equals, one per key listed */
		memset(grown[cfg->n_enc_keys], 0, HG_KEY_LEN);
		grown[cfg->n_enc_keys][0] = (uint8_t)(cfg->n_enc_keys + 1);
		rc = HG_OK;
	} else {
		rc = hg_key_parse(s.bytes, s.len, grown[cfg->n_enc_keys], why, sizeof(why));
	}
	cfg_wipe_secret(&s);
	if (rc != HG_OK)
		OPENSSL_cleanse(grown[cfg->n_enc_keys], HG_KEY_LEN);
	if (rc == HG_ENOMEM)
		return cfg_oom(c);
	if (rc)
		return cfg_fail(c, cfg_line(at), "%s: %s: %s", key, text, why);
	cfg->n_enc_keys++;
	return HG_OK;
}

int cfg_parse_encryption(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg)
{
	const yaml_node_t *m, *env, *file;
	struct cfg_key_arg arg = {.cfg = cfg};
	size_t i, j;
	int rc;

	rc = cfg_mapping(c, root, "encryption", cfg_encryption_keys, "encryption",
			 "{key_env: HOOKGATE_KEY}", &m);
	if (rc || !m)
		return rc;
	env = cfg_get(c, m, "key_env");
	file = cfg_get(c, m, "key_file");
	if (!env == !file)
		return cfg_fail(
		    c, cfg_line(m),
		    "encryption: give the keys with key_env (environment variables) or "
		    "key_file (files), one of the two; the last key listed encrypts new "
		    "data, and every key listed decrypts");
	arg.from = env ? CFG_FROM_ENV : CFG_FROM_FILE;
	rc = cfg_each_string(c, env ? env : file, env ? "key_env" : "key_file",
			     env ? "an environment variable name or a list of them"
				 : "a file path or a list of them",
			     env ? cfg_env_name_ok : cfg_nonempty_ok, cfg_add_key, &arg);
	if (rc)
		return rc;
	for (i = 0; i < cfg->n_enc_keys; i++)
		for (j = i + 1; j < cfg->n_enc_keys; j++)
			if (CRYPTO_memcmp(cfg->enc_keys[i], cfg->enc_keys[j], HG_KEY_LEN) == 0)
				return cfg_fail(c, cfg_line(m),
						"encryption: keys %zu and %zu are the same key; "
						"list each key once",
						i + 1, j + 1);
	return HG_OK;
}
