/*
 * config_internal.h — what the config reader's files share; not a contract.
 *
 * Other modules include config/config.h only. The reader is one load
 * (struct cfg_ctx) passed through every function: config.c reads the top
 * level and owns the public functions, config_yaml.c the node readers and
 * error messages every section uses, config_sources.c and
 * config_endpoints.c one section each. Every function that fails writes
 * its "FILE:LINE: ..." sentence through cfg_fail and returns HG_EINVAL (or
 * HG_ENOMEM through cfg_oom); what it allocated already hangs off the
 * struct hg_config being filled, which hg_config_free() releases.
 */
#ifndef HG_CONFIG_INTERNAL_H
#define HG_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "config/config.h"

#define CFG_NAME_WHAT                                                                              \
	"a name of 1-64 characters from a-z, 0-9, '_' and '-', starting with a letter or digit"
#define CFG_MAX_KEYS      1000000 /* dedupe keys per request: more is a typo */
#define CFG_MAX_KEYS_WHAT "a whole number from 1 to 1000000"
#define CFG_SIZE_WHAT     "a size above zero such as 65536, 512k or 1m"
#define CFG_DURATION_WHAT "a duration above zero such as 500ms, 10s or 5m"

/* One load in progress. */
struct cfg_ctx {
	struct hg_config *cfg;
	const char *file; /* as given, for messages */
	char *dir;        /* its directory, for relative secret_file paths */
	yaml_document_t doc;
	char *err;
	size_t errlen;
	unsigned flags; /* HG_CONFIG_* */
};

/* How a secret is written in the file. */
enum cfg_from { CFG_FROM_ENV, CFG_FROM_FILE, CFG_FROM_INLINE };

enum cfg_num { CFG_INT, CFG_SIZE, CFG_DURATION };

typedef int (*cfg_valid_fn)(const char *s);
/* Receives one string of a "string or list of strings" value; at is its node. */
typedef int (*cfg_item_fn)(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
			   const char *text, void *arg);

/* The keys a secret may be given with, in the order they are tried
 * (config_sources.c; endpoints take one of them). */
struct cfg_secret_kind {
	const char *key;
	enum cfg_from from;
	const char *what; /* for a list of them (sources) */
	const char *one;  /* for one of them (endpoints) */
	cfg_valid_fn valid;
};
extern const struct cfg_secret_kind cfg_secret_kinds[3];
#define CFG_N_SECRET_KINDS (sizeof cfg_secret_kinds / sizeof cfg_secret_kinds[0])

/* ---- config_yaml.c: errors, value checks, node readers ---- */

extern const char *const cfg_none[];  /* no keys: for "unsupported" lists */
extern const char *const cfg_bools[]; /* "false", "true": a cfg_choice of 0 or 1 */

int cfg_line(const yaml_node_t *n);
__attribute__((format(printf, 3, 4))) int cfg_fail(struct cfg_ctx *c, int line, const char *fmt,
						   ...);
int cfg_oom(struct cfg_ctx *c);
int cfg_bad_value(struct cfg_ctx *c, const yaml_node_t *at, const char *key, const char *what,
		  const char *s);
int cfg_index(const char *const *names, const char *s, int any_case);
const char *cfg_join(const char *const *names, char *buf, size_t len);
void cfg_wipe_secret(struct hg_secret *s);
int cfg_read_file(const char *path, size_t cap, uint8_t **out, size_t *outlen);
int cfg_nonempty_ok(const char *s);
int cfg_env_name_ok(const char *s);
int cfg_header_ok(const char *s);
int cfg_name_ok(const char *s);
int cfg_listen_split(const char *s, char *host, size_t hostlen, int *port);
int cfg_listen_ok(const char *s);
int cfg_endpoint_url_ok(const char *s);
int cfg_store_ok(const char *s);
int cfg_is_null(const yaml_node_t *n);
const char *cfg_kind(const yaml_node_t *n);
yaml_node_t *cfg_get(struct cfg_ctx *c, const yaml_node_t *map, const char *key);
int cfg_key_line(struct cfg_ctx *c, const yaml_node_t *map, const char *key);
/* max_body and max_dedupe_keys of map (the top level, or a source), each
 * left as it is when absent (the caller's default). 0 or the error. */
int cfg_size_limits(struct cfg_ctx *c, const yaml_node_t *map, size_t *max_body,
		    size_t *max_dedupe_keys);
int cfg_check(struct cfg_ctx *c, const yaml_node_t *v, const char *key, const char *what,
	      cfg_valid_fn valid, const char **out);
int cfg_value(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *what,
	      cfg_valid_fn valid, const yaml_node_t **node, const char **text);
int cfg_text(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *what,
	     cfg_valid_fn valid, char **out);
int cfg_real(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *what,
	     int percent, double min, double max, double *out);
int cfg_number_node(struct cfg_ctx *c, const yaml_node_t *v, const char *key, enum cfg_num type,
		    const char *what, int64_t min, int64_t max, int64_t *out);
int cfg_number(struct cfg_ctx *c, const yaml_node_t *map, const char *key, enum cfg_num type,
	       const char *what, int64_t min, int64_t max, int64_t *out);
int cfg_url(struct cfg_ctx *c, const yaml_node_t *map, const char *key, char **out);
int cfg_choice(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *const *names,
	       int *out);
int cfg_each_string(struct cfg_ctx *c, const yaml_node_t *v, const char *key, const char *what,
		    cfg_valid_fn valid, cfg_item_fn fn, void *arg);
int cfg_check_keys(struct cfg_ctx *c, const yaml_node_t *map, const char *const *known,
		   const char *const *unsupported, const char *where);
int cfg_mapping(struct cfg_ctx *c, const yaml_node_t *map, const char *key, const char *const *keys,
		const char *where, const char *example, const yaml_node_t **out);
void cfg_where(struct cfg_ctx *c, const yaml_node_t *node, const char *noun, size_t index,
	       char *where, size_t len);

/* ---- config_alerts.c ---- */

void cfg_alerts_default(struct hg_alert_config *a);
int cfg_parse_alerts(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg);
/* After the endpoints: alerts.endpoint names one of them. */
int cfg_check_alerts(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg);

/* ---- config_encryption.c ---- */

int cfg_parse_encryption(struct cfg_ctx *c, const yaml_node_t *root, struct hg_config *cfg);

/* ---- config_sources.c ---- */

char *cfg_resolve_path(const struct cfg_ctx *c, const char *path);
int cfg_resolve_secret(struct cfg_ctx *c, const yaml_node_t *at, const char *key,
		       enum cfg_from from, const char *text, struct hg_secret *out);
void cfg_warn_inline(const struct cfg_ctx *c, const char *what, const char *name, int line);
int cfg_compile_path(struct cfg_ctx *c, const yaml_node_t *at, const char *key, const char *text,
		     struct hg_jsonpath **out);
int cfg_parse_source(struct cfg_ctx *c, const yaml_node_t *node, size_t index, void *item);
/* Remembers that environment variable name holds a secret, so exec
 * endpoints can be started without it. */
int cfg_note_secret_env(struct cfg_ctx *c, const char *name);

/* ---- config_headers.c: forwarded and added headers ---- */

/* A source's forward_headers:, or its provider's defaults. */
int cfg_parse_forward_headers(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src);
/* An endpoint's headers: map, with ${VAR} taken from the environment. */
int cfg_parse_endpoint_headers(struct cfg_ctx *c, const yaml_node_t *node, struct hg_endpoint *ep,
			       const char *where);

/* ---- config_media.c ---- */

/* A source's media: mapping (WhatsApp Cloud API media). */
int cfg_parse_media(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
		    const char *where);
void cfg_media_free(struct hg_media_config *m);

/* ---- config_endpoints.c ---- */

/* Makes *cmd an absolute path: as written when it has a '/' (then it must
 * be absolute), else the first executable of that name on PATH. */
int cfg_resolve_command(struct cfg_ctx *c, const yaml_node_t *at, const char *key, char **cmd);

/* The default retry schedule, for endpoints and outbound subscriptions. */
extern const int64_t cfg_default_schedule_ms[5];

int cfg_max_in_flight(struct cfg_ctx *c, const yaml_node_t *map, int *out);
int cfg_parse_retry(struct cfg_ctx *c, const yaml_node_t *node, struct hg_retry *r,
		    const char *where);
int cfg_parse_endpoint(struct cfg_ctx *c, const yaml_node_t *node, size_t index, void *item);
int cfg_parse_routes(struct cfg_ctx *c, const yaml_node_t *node, struct hg_source *src,
		     const char *where);

#endif
