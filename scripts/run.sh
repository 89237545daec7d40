#!/bin/sh
# Starts hookgate for a local try-out: examples/hookgate.yaml (or $CONFIG),
# with development secrets for any variable the example needs that is not
# set in the environment. Production deployments set real secrets instead.
set -e
BIN=${BIN:-build/hookgate}
CONFIG=${CONFIG:-examples/hookgate.yaml}
for var in META_APP_SECRET WHATSAPP_VERIFY_TOKEN ZOHO_CRM_WEBHOOK_SECRET HOOKGATE_ADMIN_TOKEN; do
	if [ -z "$(printenv "$var")" ]; then
		export "$var=dev-$(echo "$var" | tr 'A-Z_' 'a-z-')"
		echo "hookgate: $var is not set; using the development value 'dev-$(echo "$var" | tr 'A-Z_' 'a-z-')'" >&2
	fi
done
mkdir -p var
exec "$BIN" serve -c "$CONFIG"
