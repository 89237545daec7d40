#!/bin/sh
# tests/install/run.sh — `make test-install`: what an operator installs.
#   1. the systemd unit passes `systemd-analyze verify` with no complaint
#      (it exits 0 on a misspelt key and only prints a line, so any output
#      fails the test);
#   2. `make install DESTDIR=...` puts every file where the docs say and
#      `make uninstall` takes them away again;
#   3. as root, on a machine without hookgate installed: `make deb`, dpkg -i,
#      `hookgate version`, `config check` of the installed config, the
#      system user, the data directory, the enabled unit, then dpkg --purge
#      and nothing left. Skipped (said loudly) otherwise, so it never
#      clobbers a hookgate an operator installed.
# Needs systemd (systemd-analyze) and dpkg-dev: scripts/install-deps.sh --test.
set -eu
BUILD=${BUILD:-build}
VERSION=${VERSION:-$(cat VERSION)}
BIN=$(cd "$BUILD" && pwd)/hookgate
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }

# -- 1. the unit -------------------------------------------------------------
# The paths in the unit must exist for verify to accept it: point ExecStart
# at this build. --man=no: Documentation=man:hookgate(1) is checked against
# the installed man pages, which a build machine need not have.
mkdir -p "$WORK/unit"
sed -e "s|@BINDIR@|$(dirname "$BIN")|g" -e 's|@SYSCONFDIR@|/etc|g' \
	contrib/systemd/hookgate.service >"$WORK/unit/hookgate.service"
out=$(systemd-analyze verify --man=no "$WORK/unit/hookgate.service" 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
# the test can fail: a misspelt value is reported
sed 's/^Type=notify$/Type=notifie/' "$WORK/unit/hookgate.service" >"$WORK/unit/bad.service"
out=$(systemd-analyze verify --man=no "$WORK/unit/bad.service" 2>&1 || true)
[ -n "$out" ] || fail "systemd-analyze verify did not notice Type=notifie"
for k in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' ProtectSystem=strict NoNewPrivileges=yes \
	PrivateTmp=yes StateDirectory=hookgate 'CapabilityBoundingSet=' SystemCallFilter=@system-service; do
	grep -qxF "$k" "$WORK/unit/hookgate.service" || fail "the unit lacks $k"
done
ok "systemd-analyze verify: the unit is clean"

# -- 2. make install / uninstall --------------------------------------------
D=$WORK/destdir
make --no-print-directory -s install BUILD="$BUILD" DESTDIR="$D" >/dev/null
for f in /usr/local/bin/hookgate /usr/local/share/man/man1/hookgate.1 \
	/usr/local/lib/systemd/system/hookgate.service /etc/hookgate/hookgate.yaml \
	/usr/local/share/doc/hookgate/examples/hookgate.yaml; do
	[ -f "$D$f" ] || fail "make install did not install $f"
done
[ -x "$D/usr/local/bin/hookgate" ] || fail "the installed binary is not executable"
grep -q '^ExecStart=/usr/local/bin/hookgate serve -c /etc/hookgate/hookgate.yaml$' \
	"$D/usr/local/lib/systemd/system/hookgate.service" || fail "the installed unit's ExecStart"
"$D/usr/local/bin/hookgate" version | grep -qF "$VERSION" || fail "installed hookgate version"
# a config already there is kept
echo "# mine" >>"$D/etc/hookgate/hookgate.yaml"
make --no-print-directory -s install BUILD="$BUILD" DESTDIR="$D" >/dev/null
grep -q '^# mine$' "$D/etc/hookgate/hookgate.yaml" || fail "make install overwrote the config"
make --no-print-directory -s uninstall DESTDIR="$D" >/dev/null
left=$(cd "$D" && find . -type f | sort)
[ "$left" = "./etc/hookgate/hookgate.yaml" ] || fail "make uninstall left: $left"
ok "make install / uninstall (PREFIX=/usr/local, DESTDIR)"

# -- 3. the Debian package ----------------------------------------------------
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: the package test (dpkg -i) needs root"
	exit 0
fi
if dpkg-query -W -f='${Status}' hookgate 2>/dev/null | grep -q ' installed$\| config-files$' ||
	[ -e /usr/bin/hookgate ] || [ -e /etc/hookgate ] || [ -e /var/lib/hookgate ]; then
	echo "SKIP: the package test: a hookgate is already installed here (not touched)"
	exit 0
fi
had_user=0
getent passwd hookgate >/dev/null && had_user=1
DEB=$(make --no-print-directory -s deb BUILD="$BUILD" VERSION="$VERSION" | tail -n 1)
[ -f "$DEB" ] || fail "make deb made no package ($DEB)"
dpkg-deb --field "$DEB" Depends | grep -q libsystemd0 || fail "Depends lacks libsystemd0"
dpkg-deb --contents "$DEB" | grep ' ./etc/hookgate/hookgate.yaml$' >/dev/null || fail "no config in the package"
cleanup_pkg() {
	dpkg --purge hookgate >/dev/null 2>&1 || true
	[ "$had_user" = 1 ] || deluser --system --quiet hookgate >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup_pkg EXIT
dpkg -i "$DEB" >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$WORK/dpkg.log")"
/usr/bin/hookgate version | grep -qF "hookgate $VERSION" || fail "hookgate version after dpkg -i"
# The shipped config is valid as shipped, before any secret exists ...
/usr/bin/hookgate config check --no-env -c /etc/hookgate/hookgate.yaml >"$WORK/check.out" 2>&1 ||
	fail "config check --no-env: $(cat "$WORK/check.out")"
# ... and, once the admin token is set, as the service would load it, with no
# warning (its store directory exists).
HOOKGATE_ADMIN_TOKEN=test-token /usr/bin/hookgate config check -c /etc/hookgate/hookgate.yaml \
	>"$WORK/check.out" 2>&1 || fail "config check: $(cat "$WORK/check.out")"
grep -q warning "$WORK/check.out" && fail "config check warned: $(cat "$WORK/check.out")"
# ... and without it, plain config check names the variable.
env -u HOOKGATE_ADMIN_TOKEN /usr/bin/hookgate config check -c /etc/hookgate/hookgate.yaml \
	>"$WORK/check.out" 2>&1 && fail "config check passed without HOOKGATE_ADMIN_TOKEN"
grep -q HOOKGATE_ADMIN_TOKEN "$WORK/check.out" || fail "config check did not name the variable"
getent passwd hookgate >/dev/null || fail "no hookgate system user"
[ "$(stat -c '%U %a' /var/lib/hookgate)" = "hookgate 700" ] ||
	fail "/var/lib/hookgate is $(stat -c '%U %a' /var/lib/hookgate)"
[ -f /lib/systemd/system/hookgate.service ] || fail "no unit installed"
[ -L /etc/systemd/system/multi-user.target.wants/hookgate.service ] || fail "the unit is not enabled"
out=$(systemd-analyze verify --man=no /lib/systemd/system/hookgate.service 2>&1) || fail "verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify (installed unit): $out"
[ -f /usr/share/man/man1/hookgate.1.gz ] || fail "no man page installed"
# conffile kept on reinstall (an upgrade of the same version): dpkg keeps the
# changed file without asking (--force-confold, as an unattended upgrade would)
echo "# edited by the operator" >>/etc/hookgate/hookgate.yaml
dpkg -i --force-confold "$DEB" >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i again: $(cat "$WORK/dpkg.log")"
grep -q '^# edited by the operator$' /etc/hookgate/hookgate.yaml || fail "the upgrade replaced the edited config"
# remove keeps config and data; purge removes them
echo "HOOKGATE_ADMIN_TOKEN=x" >/etc/hookgate/hookgate.env
dpkg --remove hookgate >"$WORK/dpkg.log" 2>&1 || fail "dpkg --remove: $(cat "$WORK/dpkg.log")"
[ ! -e /usr/bin/hookgate ] || fail "dpkg --remove left /usr/bin/hookgate"
[ -f /etc/hookgate/hookgate.yaml ] || fail "dpkg --remove took the config"
dpkg --purge hookgate >"$WORK/dpkg.log" 2>&1 || fail "dpkg --purge: $(cat "$WORK/dpkg.log")"
for f in /usr/bin/hookgate /etc/hookgate /var/lib/hookgate /lib/systemd/system/hookgate.service \
	/etc/systemd/system/multi-user.target.wants/hookgate.service /etc/systemd/system/hookgate.service \
	/usr/share/man/man1/hookgate.1.gz \
	/usr/share/doc/hookgate; do
	[ ! -e "$f" ] && [ ! -L "$f" ] || fail "dpkg --purge left $f"
done
dpkg-query -W -f='${Status}' hookgate 2>/dev/null | grep -q 'not-installed' ||
	[ -z "$(dpkg-query -W -f='${Status}' hookgate 2>/dev/null)" ] || fail "dpkg still knows hookgate"
ok "make deb; dpkg -i; hookgate version; config check; dpkg --purge leaves nothing"
