#!/bin/sh
# Installs the Debian packages hookgate needs to build, run and test.
# As root it runs apt-get; otherwise it prints the command to run.
# --fuzz adds what `make fuzz` needs: clang and its libFuzzer/sanitizer
# runtimes (libclang-rt-14-dev on Debian 12); --format adds clang-format
# (make format, make format-check); --test adds what only `make test` needs:
# prometheus (its promtool checks contrib/prometheus/hookgate-rules.yml),
# systemd (systemd-analyze verifies the unit), dpkg-dev (dpkg-shlibdeps for
# make deb), adduser (the package's postinst) and chromium (the console's
# browser tests drive it headless with puppeteer-core).
set -e
PKGS="build-essential pkg-config libh2o-evloop-dev libssl-dev libjansson-dev libyajl-dev libyaml-dev
libsqlite3-dev libpq-dev libcurl4-openssl-dev libsystemd-dev libcmocka-dev nodejs npm openssl curl sqlite3 util-linux"
if [ "${1:-}" = "--fuzz" ]; then
	PKGS="$PKGS clang libclang-rt-14-dev"
fi
if [ "${1:-}" = "--format" ]; then
	PKGS="$PKGS clang-format"
fi
if [ "${1:-}" = "--test" ]; then
	PKGS="$PKGS prometheus systemd dpkg-dev adduser chromium"
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# nodejs may come from outside Debian (a newer node on PATH is fine).
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "installing: $missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
	echo "missing Debian packages; run:" >&2
	echo "  sudo apt-get install -y $missing" >&2
	exit 1
fi
