/*
 * fuzz_dedupe_scan.c — the streaming dedupe-key scanner (hg_jsonpath_scan,
 * YAJL) against the exact parser (jansson + hg_jsonpath_each), on arbitrary
 * bytes and a fixed set of JSON paths shaped like the ones sources use.
 *
 * Wherever the scanner decides (HG_JSONPATH_SCAN_OK), jansson must accept
 * the same text and every path must select exactly the values, in the same
 * order and with the same text, that the tree walk selects (nulls left out:
 * the scan never reports them). The same must hold one level up, for the
 * keys hg_ingest_dedupe_keys() makes from a source with these rules. Any
 * disagreement aborts: it is a request answered "duplicate" (or stored
 * again) differently depending on which parser happened to read it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/config.h"
#include "ingest/ingest.h"
#include "util/jsonpath.h"
#include "util/util.h"

static const char *const fz_exprs[] = {
    "$.id",
    "$.entry[*].changes[*].value.messages[*].id",
    "$.entry[*].changes[*].value.statuses[*].id",
    "$[*]",
    "$",
    "$.a[0].b",
    "$['k'][1]",
    "$.data.object.id",
    "$[1][*][0]",
    "$.event_id",
};
#define FZ_NPATHS (sizeof(fz_exprs) / sizeof(fz_exprs[0]))

static struct hg_jsonpath *fz_paths[FZ_NPATHS];
static struct hg_dedupe_rule fz_rules[FZ_NPATHS];
static struct hg_source fz_src;

/* What one side selected for each path. */
struct fz_picks {
	size_t n[FZ_NPATHS];
	char *text[FZ_NPATHS][64];
	size_t len[FZ_NPATHS][64];
	int overflow;
};

static void fz_picks_free(struct fz_picks *p)
{
	size_t i, j;

	for (i = 0; i < FZ_NPATHS; i++)
		for (j = 0; j < p->n[i]; j++)
			free(p->text[i][j]);
}

static int fz_pick(struct fz_picks *p, size_t path, const char *v, size_t len)
{
	char *t;

	if (p->n[path] == 64) {
		p->overflow = 1;
		return 0;
	}
	t = malloc(len + 1);
	if (t == NULL)
		abort();
	memcpy(t, v, len);
	t[len] = '\0';
	p->text[path][p->n[path]] = t;
	p->len[path][p->n[path]++] = len;
	return 0;
}

static int fz_on_scan(size_t path, const char *v, size_t len, void *arg)
{
	return fz_pick(arg, path, v, len);
}

struct fz_tree_arg {
	struct fz_picks *p;
	size_t path;
};

static int fz_on_tree(json_t *v, void *arg)
{
	struct fz_tree_arg *a = arg;
	char *t;
	int rc;

	if (json_is_null(v))
		return 0;
	t = hg_jsonpath_scalar_text(v);
	if (t == NULL)
		abort(); /* a scalar the tree selected always renders */
	rc = fz_pick(a->p, a->path, t, json_is_string(v) ? json_string_length(v) : strlen(t));
	free(t);
	return rc;
}

static void fz_disagree(const char *what, size_t path, const uint8_t *data, size_t size)
{
	fprintf(stderr, "dedupe scan disagrees with jansson: %s (path %s, %zu bytes)\n", what,
		path < FZ_NPATHS ? fz_exprs[path] : "-", size);
	fwrite(data, 1, size < 512 ? size : 512, stderr);
	fputc('\n', stderr);
	abort();
}

/* Scans with the paths first..first+n and compares with the tree. */
static void fz_check_scan(size_t first, size_t n, const uint8_t *data, size_t size, json_t *root)
{
	struct fz_picks scan, tree;
	size_t i, j;
	int rc;

	memset(&scan, 0, sizeof(scan));
	memset(&tree, 0, sizeof(tree));

	rc = hg_jsonpath_scan((const struct hg_jsonpath *const *)&fz_paths[first], n, data, size,
			      fz_on_scan, &scan);
	if (rc == HG_JSONPATH_SCAN_STOPPED)
		fz_disagree("stopped though the callback never stops it", first, data, size);
	if (rc == HG_JSONPATH_SCAN_OK) {
		if (root == NULL)
			fz_disagree("scan decided on text jansson refuses", first, data, size);
		for (i = 0; i < n; i++) {
			struct fz_tree_arg a = {&tree, first + i};

			hg_jsonpath_each(fz_paths[first + i], root, fz_on_tree, &a);
		}
		if (!scan.overflow && !tree.overflow) {
			for (i = 0; i < n; i++) {
				size_t p = first + i;

				/* the scan numbers paths from 0 within its slice */
				if (scan.n[i] != tree.n[p])
					fz_disagree("a path selected a different number of values",
						    p, data, size);
				for (j = 0; j < scan.n[i]; j++)
					if (scan.len[i][j] != tree.len[p][j] ||
					    memcmp(scan.text[i][j], tree.text[p][j],
						   scan.len[i][j]) != 0)
						fz_disagree("a selected value differs", p, data,
							    size);
			}
		}
	}
	fz_picks_free(&scan);
	fz_picks_free(&tree);
}

/* The keys hg_ingest_dedupe_keys() must make: the tree's picks without
 * null and "", else the body's SHA-256. */
static void fz_check_keys(const uint8_t *data, size_t size, json_t *root)
{
	struct fz_picks tree;
	char **keys = NULL;
	size_t n = 0, i, j, k = 0;

	memset(&tree, 0, sizeof(tree));

	if (hg_ingest_dedupe_keys(&fz_src, data, size, NULL, NULL, &keys, &n) != HG_OK)
		abort(); /* only running out of memory fails */
	for (i = 0; root != NULL && i < FZ_NPATHS; i++) {
		struct fz_tree_arg a = {&tree, i};

		hg_jsonpath_each(fz_paths[i], root, fz_on_tree, &a);
	}
	if (!tree.overflow) {
		for (i = 0; i < FZ_NPATHS; i++) {
			for (j = 0; j < tree.n[i]; j++) {
				size_t pl = strlen(fz_exprs[i]);

				if (tree.len[i][j] == 0)
					continue;
				if (k >= n || strncmp(keys[k], fz_exprs[i], pl) != 0 ||
				    keys[k][pl] != '=' ||
				    strlen(keys[k] + pl + 1) != tree.len[i][j] ||
				    memcmp(keys[k] + pl + 1, tree.text[i][j], tree.len[i][j]) != 0)
					fz_disagree("a dedupe key differs", i, data, size);
				k++;
			}
		}
		if (k == 0 && (n != 1 || strncmp(keys[0], "sha256:", 7) != 0))
			fz_disagree("no key selected but no body hash either", FZ_NPATHS, data,
				    size);
		if (k != 0 && k != n)
			fz_disagree("more dedupe keys than the tree selects", FZ_NPATHS, data,
				    size);
	}
	hg_ingest_keys_free(keys, n);
	fz_picks_free(&tree);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[160];
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < FZ_NPATHS; i++) {
		fz_paths[i] = hg_jsonpath_compile(fz_exprs[i], err, sizeof(err));
		if (fz_paths[i] == NULL) {
			fprintf(stderr, "%s: %s\n", fz_exprs[i], err);
			abort();
		}
		fz_rules[i].expr = (char *)fz_exprs[i];
		fz_rules[i].path = fz_paths[i];
	}
	fz_src.name = "fuzz";
	fz_src.dedupe = fz_rules;
	fz_src.n_dedupe = FZ_NPATHS;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);

	fz_check_scan(0, FZ_NPATHS, data, size, root);
	fz_check_scan(size % FZ_NPATHS, 1, data, size, root);
	fz_check_keys(data, size, root);
	json_decref(root);
	return 0;
}
