/*
 * fuzz_config.c — the YAML config loader (src/config) on
 * arbitrary file contents.
 *
 * The bytes are written to one temporary file (the loader takes a path;
 * relative paths in the config resolve against its directory) and loaded
 * twice: with HG_CONFIG_NO_SECRETS, and reading secrets when the text names
 * no secret_file (a fuzzed path could name /dev/zero or a FIFO). Secrets
 * from the environment come from HG_FUZZ_SECRET, set here.
 *
 * Asserts: no crash, leak or out-of-bounds access; a load either gives a
 * config (freed again) or fails with a one-line reason, never both, never
 * neither; an error names the file ("PATH:LINE: ..." or "PATH: ...").
 * Nothing is started: no socket is opened, no store created.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "util/util.h"

static char fz_dir[64];
static char fz_path[96];

static void fz_cleanup(void)
{
	unlink(fz_path);
	rmdir(fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	snprintf(fz_dir, sizeof(fz_dir), "%s/hg-fuzz-config.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(fz_dir) == NULL)
		abort();
	snprintf(fz_path, sizeof(fz_path), "%s/hookgate.yaml", fz_dir);
	atexit(fz_cleanup);
	setenv("HG_FUZZ_SECRET", "fuzz-secret-0123456789", 1);
	setenv("HG_FUZZ_TOKEN", "fuzz-admin-token-0123456789abcdef", 1);
	hg_log_set_level(HG_LOG_ERROR); /* warnings (inline secrets) would flood */
	return 0;
}

static void fz_load(unsigned flags)
{
	struct hg_config *cfg = NULL;
	char err[512];
	int rc;

	err[0] = '\0';
	rc = hg_config_load_opts(fz_path, flags, &cfg, err, sizeof(err));
	if (rc == HG_OK) {
		if (cfg == NULL)
			abort();
		hg_config_free(cfg);
		return;
	}
	if (cfg != NULL || err[0] == '\0' || strchr(err, '\n') != NULL ||
	    strncmp(err, fz_path, strlen(fz_path)) != 0) {
		fprintf(stderr, "config error not as promised (rc %d): %s\n", rc, err);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(fz_path, "wb");

	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	fz_load(HG_CONFIG_NO_SECRETS);
	if (memmem(data, size, "secret_file", 11) == NULL && memmem(data, size, "tls", 3) == NULL)
		fz_load(0);
	return 0;
}
