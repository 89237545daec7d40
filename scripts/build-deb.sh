#!/bin/sh
# Builds build/hookgate_VERSION_ARCH.deb from the built binary with dpkg-deb
# (no debian/ directory, no dpkg-buildpackage): `make install` into a
# staging root with PREFIX=/usr, the maintainer scripts of contrib/debian,
# and a Depends line computed by dpkg-shlibdeps from the binary's libraries.
# Needs dpkg-dev (dpkg-shlibdeps) and fakeroot is not needed: dpkg-deb
# --root-owner-group makes every file root's.
set -e
BUILD=${BUILD:-build}
VERSION=${VERSION:-$(cat VERSION)}
ARCH=$(dpkg --print-architecture)
WORK=$BUILD/deb
ROOT=$WORK/root
OUT=$BUILD/hookgate_${VERSION}_${ARCH}.deb

rm -rf "$WORK"
mkdir -p "$ROOT/DEBIAN"
make --no-print-directory -s install BUILD="$BUILD" DESTDIR="$(pwd)/$ROOT" PREFIX=/usr \
	DOCDIR=/usr/share/doc/hookgate >/dev/null
# The package's copy of the config is the one it ships, whatever the
# machine that builds it has in its own /etc.
install -m 0644 contrib/hookgate.yaml "$ROOT/etc/hookgate/hookgate.yaml"
install -d -m 0700 "$ROOT/var/lib/hookgate"
gzip -9n "$ROOT/usr/share/man/man1/hookgate.1"
cat >"$ROOT/usr/share/doc/hookgate/copyright" <<'COPY'
hookgate — a self-hosted webhook gateway. See README.md.
COPY
strip --strip-unneeded -o "$ROOT/usr/bin/hookgate.stripped" "$ROOT/usr/bin/hookgate"
mv "$ROOT/usr/bin/hookgate.stripped" "$ROOT/usr/bin/hookgate"

# dpkg-shlibdeps reads debian/control in the directory it runs in.
mkdir -p "$WORK/src/debian"
printf 'Source: hookgate\n\nPackage: hookgate\nArchitecture: any\n' >"$WORK/src/debian/control"
DEPENDS=$(cd "$WORK/src" && dpkg-shlibdeps -O "../root/usr/bin/hookgate" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$DEPENDS" ] || {
	echo "build-deb: dpkg-shlibdeps found no dependencies" >&2
	exit 1
}

SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
cat >"$ROOT/DEBIAN/control" <<CONTROL
Package: hookgate
Version: $VERSION
Architecture: $ARCH
Maintainer: hookgate maintainers <hookgate@localhost>
Installed-Size: $SIZE
Depends: $DEPENDS, adduser
Section: net
Priority: optional
Description: self-hosted webhook gateway
 hookgate receives provider webhooks (Meta, GitHub, Stripe, Twilio, Slack,
 Shopify, Standard Webhooks, generic HMAC), verifies their signatures,
 deduplicates them and stores them durably in SQLite or PostgreSQL before
 acknowledging, then delivers them to your application with retries. It
 also sends signed outbound webhooks to subscribers.
CONTROL
echo /etc/hookgate/hookgate.yaml >"$ROOT/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 0755 "contrib/debian/$s" "$ROOT/DEBIAN/$s"
done
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$OUT" >/dev/null
echo "$OUT"
