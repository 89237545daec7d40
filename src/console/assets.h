/*
 * assets.h — the console's static files, generated at build time from ui/
 * by scripts/embed-ui.sh into build/gen/console_assets.c (not in git).
 */
#ifndef HG_CONSOLE_ASSETS_H
#define HG_CONSOLE_ASSETS_H

#include <stddef.h>
#include <stdint.h>

struct hg_console_asset {
	const char *name; /* file name under ui/, e.g. "app.js" */
	const char *content_type;
	const uint8_t *data;
	size_t len;
};

extern const struct hg_console_asset hg_console_assets[];
extern const size_t hg_console_n_assets;

#endif
