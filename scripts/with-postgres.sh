#!/bin/sh
# with-postgres.sh COMMAND...: runs COMMAND against a throwaway PostgreSQL
# cluster, then stops the cluster and deletes it, whatever COMMAND did.
#
# The cluster lives in a fresh temp dir, listens on 127.0.0.1 only (a free
# port) and on a Unix socket in that dir, and asks for a password (a random
# one, so tests also prove it never shows up in hookgate's output). initdb
# refuses to run as root, so as root the server runs as the `postgres` user
# (Debian's postgresql package creates it); otherwise as the caller.
#
# COMMAND sees:
#   HOOKGATE_TEST_PG     postgres://hookgate:PW@127.0.0.1:PORT/postgres, the
#                        admin URI unit tests create their databases with
#   HOOKGATE_E2E_STORE   the same URI: the e2e harness runs every daemon on
#                        a fresh database of this cluster
#   HOOKGATE_E2E_PGCTL   a script: `$HOOKGATE_E2E_PGCTL stop|start` stops
#                        (-m fast) or starts the cluster (database restarts)
#   HOOKGATE_E2E_PGDATA  the cluster's data directory, for tests that read
#                        its files (the server's log is outside it)
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PGBIN/initdb" ]; then
	newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then
		PGBIN=$newest
	elif [ "$(id -u)" = 0 ]; then
		echo "installing: postgresql"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
		PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	else
		echo "PostgreSQL server binaries are missing; run:" >&2
		echo "  sudo apt-get install -y postgresql" >&2
		exit 1
	fi
fi

DIR=$(mktemp -d /tmp/hookgate-pg.XXXXXX)
chmod 755 "$DIR"
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$DIR"
	AS="runuser -u postgres --"
else
	AS=""
fi

cleanup() {
	rc=$?
	if [ -f "$DIR/data/postmaster.pid" ]; then
		$AS "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$DIR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PORT=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
printf '%s\n' "$PASSWORD" >"$DIR/pw"
[ -n "$AS" ] && chown postgres: "$DIR/pw"

$AS "$PGBIN/initdb" -D "$DIR/data" -U hookgate --pwfile="$DIR/pw" -A scram-sha-256 \
	-E UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1 || {
	cat "$DIR/initdb.log" >&2
	exit 1
}
rm -f "$DIR/pw"

# The control script the e2e tests use to restart the database. fsync and
# synchronous_commit stay on: the tests check what a commit promises.
cat >"$DIR/pgctl" <<EOF
#!/bin/sh
exec $AS "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 -m fast \
	-o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=400 -c fsync=on" "\$@"
EOF
chmod 755 "$DIR/pgctl"
"$DIR/pgctl" start >/dev/null || {
	cat "$DIR/server.log" >&2
	exit 1
}

URI="postgres://hookgate:$PASSWORD@127.0.0.1:$PORT/postgres"
echo "== throwaway PostgreSQL cluster on 127.0.0.1:$PORT ($DIR)"
HOOKGATE_TEST_PG=$URI HOOKGATE_E2E_STORE=$URI HOOKGATE_E2E_PGCTL=$DIR/pgctl \
	HOOKGATE_E2E_PGDATA=$DIR/data "$@"
