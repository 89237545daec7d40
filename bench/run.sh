#!/usr/bin/env bash
# bench/run.sh — `make bench`: hookgate against its ceiling and its peers, on
# 127.0.0.1 only, and bench/REPORT.md rewritten from the fresh numbers.
#
#   ceiling   nginx `return 200`, no work
#   peers     an Express receiver written as the field reports write one
#             (bench/peers/express) and adnanh/webhook with a
#             payload-hmac-sha256 rule (running its command, and without one)
#   ingest    hookgate, provider meta, valid signatures, every request a new
#             message stored with fsync (group commit); verified after each run
#   1M        the same with 1 000 000 messages already stored
#   2 cores   nginx (2 workers) and hookgate (threads: 2) unpinned, wrk
#             beside them: what an operator running them would see
#   pg        the same on PostgreSQL (run under scripts/with-postgres.sh,
#             as `make bench` does; skipped otherwise)
#   delivery  hookgate forwarding to a loopback sink vs wrk against that sink
#   memory    peak RSS with 100 000 deliveries pending
#   profile   perf on hookgate during an ingest run, when a target is missed
#
# Load: wrk, 1 KiB signed JSON bodies, 64 keep-alive connections, one wrk
# thread; REPS runs of DURATION seconds per target, the median reported. On
# a 2-core machine the server is pinned to one core and wrk to the other.
#
# Every run stops by itself; every server listens on 127.0.0.1 on a free
# port. Needs root on a fresh Debian 12 to install the packages (else prints
# the apt-get line). Knobs (environment):
#   BENCH_DURATION=10 BENCH_REPS=3 BENCH_RECORDS=600000 BENCH_CONNS=64
#   BENCH_WRK_THREADS=1 BENCH_SERVER_CPU=1 BENCH_CLIENT_CPU=0
#   BENCH_PROFILE=auto|1|0  BENCH_KEEP=1 (keep the work directory)
#   BENCH_DISTURBED=15 BENCH_RERUNS=6 (a run during which other processes used
#   more than 15 % of a core is repeated, up to 6 times in all)
#   BENCH_TMPDIR=/var/tmp (must be a disk: the databases fsync there)
#   BENCH_REPORT=bench/REPORT.md
#   BENCH_HOOKGATE=path (use this binary instead of building one)
#   BENCH_ONLY="rounds pg delivery profile" (parts to run; the report shows what ran;
#   pg runs inside the rounds)
#   BENCH_PRELOAD=1000000 BENCH_DELIVERIES=30000 BENCH_PENDING=100000
# Each round also runs hookgate ingest with encryption at rest on
# (ingest-enc) and with an audit row per accepted message (ingest-audit), to
# compare with the same round's plain run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
DURATION=${BENCH_DURATION:-10}
REPS=${BENCH_REPS:-3}
NREC=${BENCH_RECORDS:-600000}
CONNS=${BENCH_CONNS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-1}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
CLIENT_CPU=${BENCH_CLIENT_CPU:-0}
BOTH_CPUS=$CLIENT_CPU,$SERVER_CPU # the "both cores" runs
PROFILE=${BENCH_PROFILE:-auto}
REPORT=${BENCH_REPORT:-$BENCH/REPORT.md}
PRELOAD=${BENCH_PRELOAD:-1000000}
PENDING=${BENCH_PENDING:-100000}
DELIVERIES=${BENCH_DELIVERIES:-30000}
DISTURBED=${BENCH_DISTURBED:-15}   # % of a core used by other processes: a disturbed run
RERUNS_LEFT=${BENCH_RERUNS:-6}     # disturbed runs repeated, at most
CLK_TCK=$(getconf CLK_TCK)
SECRET=bench-meta-app-secret-$$
DATA_KEY=$(openssl rand -hex 32) # the encryption key of the ingest-enc runs
SOURCE=bench

ONLY=" ${BENCH_ONLY:-rounds pg delivery profile} "
want() { [[ $ONLY == *" $1 "* ]]; }
say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- packages
need_pkgs() {
	local missing=() p
	command -v wrk >/dev/null || missing+=(wrk)
	command -v nginx >/dev/null || missing+=(nginx-light)
	command -v webhook >/dev/null || missing+=(webhook)
	command -v sqlite3 >/dev/null || missing+=(sqlite3)
	command -v curl >/dev/null || missing+=(curl)
	command -v taskset >/dev/null || missing+=(util-linux)
	command -v perf >/dev/null || missing+=(linux-perf)
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		say "missing packages; run: sudo apt-get install -y ${missing[*]}"
		exit 1
	fi
	say "installing: ${missing[*]}"
	apt-get update -qq
	for p in "${missing[@]}"; do
		# nginx-light is Debian 12's smallest nginx; later releases only
		# have nginx. linux-perf is optional (profiling).
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; then
			case $p in
			nginx-light) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null ;;
			linux-perf) say "linux-perf unavailable: no profiles" ;;
			*) die "cannot install $p" ;;
			esac
		fi
	done
}

# -------------------------------------------------------------- processes
PIDS=()
WORK=
QUIET_JSON=null
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then
			say "work directory kept: $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" in the background with output to $LOG; BG_PID is its pid.
start_bg() {
	"$@" >"$LOG" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# Stops one process we started: TERM, then KILL after 20 s. Sets STOP_RC.
stop_pid() {
	local pid=$1 i
	STOP_RC=0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "pid $pid ignored SIGTERM for 20 s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || STOP_RC=$?
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
	PIDS=("${keep[@]+"${keep[@]}"}")
}

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits until 127.0.0.1:PORT accepts connections (pid must stay alive).
wait_port() {
	local port=$1 pid=$2 i
	for i in $(seq 1 150); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Peak resident set (VmHWM, kB) of pids and their children, summed.
peak_rss_kb() {
	local total=0 p c v
	for p in "$@"; do
		for c in "$p" $(pgrep -P "$p" || true); do
			v=$(awk '/^VmHWM:/ {print $2}' "/proc/$c/status" 2>/dev/null || true)
			total=$((total + ${v:-0}))
		done
	done
	echo "$total"
}
cur_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

cpu_snapshot() { grep -E '^cpu[0-9]+ ' /proc/stat; }
# Busy percentage of cpu$3 between two snapshots ($3 may list several,
# "0,1": their mean).
cpu_busy() {
	paste <(echo "$1") <(echo "$2") | awk -v want="$3" '
		BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) wanted["cpu" w[i]] = 1 }
		$1 in wanted {
			n = NF / 2
			for (i = 2; i <= n; i++) ta += $i
			for (i = n + 2; i <= NF; i++) tb += $i
			ia += $5 + $6; ib += $(n + 5) + $(n + 6)
		}
		END {
			if (tb == ta) { print 0; exit }
			printf "%.1f", 100 * (1 - (ib - ia) / (tb - ta)) }'
}

# --------------------------------------------------------------- running wrk
# run_wrk NAME PORT PATH START SECONDS [CPU]: sets WRK_JSON, CPU_JSON.
run_wrk() {
	local name=$1 port=$2 path=$3 start=$4 secs=$5 cpu=${6:-${WRK_CPUS:-$CLIENT_CPU}}
	local out=$WORK/wrk-$name.txt s0 s1 server_cpu=$SERVER_CPU
	[ "$cpu" = "$SERVER_CPU" ] && server_cpu=$CLIENT_CPU
	local p0 p1 w0 w1 o0 o1
	p0=$(proc_ticks "${SRV_PID:-}")
	o0=$(others_snapshot)
	w0=$(date +%s%N)
	s0=$(cpu_snapshot)
	taskset -c "$cpu" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${secs}s" --timeout 10s \
		-s "$BENCH/wrk/stream.lua" "http://127.0.0.1:$port/" -- \
		"$path" "$REQ_FILE" "$REC_LEN" "$NREC" "$start" "$WRK_THREADS" >"$out" 2>&1 ||
		die "wrk failed ($out): $(tail -3 "$out")"
	s1=$(cpu_snapshot)
	w1=$(date +%s%N)
	o1=$(others_snapshot)
	p1=$(proc_ticks "${SRV_PID:-}")
	WRK_JSON=$(sed -n 's/^BENCHJSON //p' "$out")
	[ -n "$WRK_JSON" ] || die "wrk printed no result ($out)"
	# The server's own CPU (its processes, from /proc), and the CPU that
	# every process outside this benchmark used meanwhile (% of one core):
	# a run during which others used much of the machine was disturbed.
	local core proc foreign
	core=$(cpu_busy "$s0" "$s1" "$server_cpu")
	proc=$(awk -v a="$p0" -v b="$p1" -v t0="$w0" -v t1="$w1" -v hz="$CLK_TCK" \
		'BEGIN {printf "%.1f", (b - a) / hz / ((t1 - t0) / 1e9) * 100}')
	foreign=$(others_pct "$o0" "$o1" "$w0" "$w1")
	CPU_JSON=$(printf '{"server_core":%s,"client_core":%s,"server_procs":%s,"foreign":%s,"disturbed":%s}' \
		"$core" "$(cpu_busy "$s0" "$s1" "$cpu")" "$proc" "$foreign" \
		"$(awk -v f="$foreign" -v m="$DISTURBED" 'BEGIN {print (f > m ? "true" : "false")}')")
}

# "pid ticks" of every process that is neither this script, its ancestors,
# its descendants (servers, wrk, perf) nor a kernel thread; ticks are user +
# system time with reaped children's, so short jobs (a compiler run by make)
# show up in their parent.
others_snapshot() {
	# One line per process; a process may vanish while this reads.
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v self="$$" -v pg="${PG_POSTMASTER:-0}" '
		{
			pid = $1; rest = $0; sub(/^.*\) /, "", rest); split(rest, f, " ")
			ppid[pid] = f[2]; t[pid] = f[12] + f[13] + f[14] + f[15]
		}
		END {
			for (q = self; q != "" && q > 1; q = ppid[q]) up[q] = 1
			for (p in t) {
				if (p in up || p == 2 || ppid[p] == 2) continue
				mine = 0
				# the bench PostgreSQL cluster (a daemon, not our child) is ours too
				if (p == pg) mine = 1
				for (q = ppid[p]; q != "" && q > 1 && !mine; q = ppid[q]) if (q == self || q == pg) mine = 1
				if (!mine) print p, t[p]
			}
		}'
}
# others_pct SNAP0 SNAP1 NS0 NS1: their CPU between the snapshots, % of one
# core. Only processes present in both count (a short job shows up in its
# parent's reaped-children time), each at most the whole machine.
others_pct() {
	awk -v t0="$3" -v t1="$4" -v hz="$CLK_TCK" -v ncpu="$(nproc)" '
		NR == FNR { a[$1] = $2; next }
		($1 in a) {
			d = $2 - a[$1]; cap = ncpu * hz * (t1 - t0) / 1e9
			if (d > cap) d = cap
			if (d > 0) s += d
		}
		END { v = s / hz / ((t1 - t0) / 1e9) * 100; if (v > 100 * ncpu) v = 100 * ncpu; printf "%.1f", v }' \
		<(echo "$1") <(echo "$2")
}

# CPU ticks (user + system, with reaped children) of pids and their children.
proc_ticks() {
	local t=0 p c v
	for p in "$@"; do
		[ -n "$p" ] || continue
		for c in "$p" $(pgrep -P "$p" || true); do
			v=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$c/stat" 2>/dev/null || echo 0)
			t=$((t + ${v:-0}))
		done
	done
	echo "$t"
}

# 0 when the last run_wrk was disturbed and a re-run is still allowed.
rerun_wanted() {
	[[ $CPU_JSON == *'"disturbed":true'* ]] || return 1
	[ "$RERUNS_LEFT" -gt 0 ] || return 1
	RERUNS_LEFT=$((RERUNS_LEFT - 1))
	say "that run was disturbed (other processes used $(sed -n 's/.*"foreign":\([0-9.]*\).*/\1/p' <<<"$CPU_JSON") % of a core); running it again"
	return 0
}

jnum() { # jnum JSON KEY -> number
	sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" <<<"$1"
}

record() { # record SCENARIO TARGET REP RSS_KB EXTRA_JSON
	printf '{"scenario":"%s","target":"%s","rep":%s,"rss_kb":%s,"wrk":%s,"cpu":%s,"quiet":%s,"extra":%s}\n' \
		"$1" "$2" "$3" "$4" "$WRK_JSON" "$CPU_JSON" "${QUIET_JSON:-null}" "$5" >>"$RESULTS"
	QUIET_JSON=null
	[ "$WRK_JSON" = null ] && { say "$1/$2 rep $3: rss ${4} kB"; return 0; }
	say "$1/$2 rep $3: $(awk -v r="$(jnum "$WRK_JSON" requests)" -v d="$(jnum "$WRK_JSON" duration_us)" \
		'BEGIN {printf "%.0f req/s", r / d * 1e6}') p99 $(jnum "$WRK_JSON" p99_us) us, rss ${4} kB"
}

note() { # note SCENARIO TEXT: a line for the report (skips, caveats)
	printf '{"scenario":"%s","note":%s}\n' "$1" "$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$2")" >>"$RESULTS"
}

# ------------------------------------------------------------------ targets
start_nginx() { # start_nginx NAME CPU: sets SRV_PID SRV_PORT
	local dir=$WORK/nginx-$1 port
	port=$(free_port)
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<EOF
worker_processes ${NGINX_WORKERS:-1};
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    client_max_body_size 2m;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "ok\n"; }
    }
}
EOF
	chmod 0777 "$dir"
	local as=()
	# Unprivileged: as root, drop to nobody (nginx then needs no user line).
	[ "$(id -u)" = 0 ] && as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	LOG=$dir/stderr.log start_bg taskset -c "$2" "${as[@]}" nginx -e stderr -p "$dir" \
		-c "$dir/nginx.conf" -g 'daemon off;'
	SRV_PID=$BG_PID SRV_PORT=$port
	wait_port "$port" "$SRV_PID" || die "nginx did not start: $(cat "$dir/stderr.log")"
}

start_express() { # sets SRV_PID SRV_PORT
	local port
	port=$(free_port)
	LOG=$WORK/express.log start_bg bash -c 'cd "$1" && exec env PORT="$2" META_APP_SECRET="$3" taskset -c "$4" node server.js' \
		_ "$BENCH/peers/express" "$port" "$SECRET" "$SERVER_CPU"
	SRV_PID=$BG_PID SRV_PORT=$port
	wait_port "$port" "$SRV_PID" || die "the Express peer did not start: $(cat "$WORK/express.log")"
}

start_webhook() { # start_webhook COMMAND: sets SRV_PID SRV_PORT
	local port dir=$WORK/webhook
	port=$(free_port)
	mkdir -p "$dir"
	cat >"$dir/hooks.json" <<EOF
[
  {
    "id": "bench",
    "execute-command": "$1",
    "response-message": "ok",
    "http-methods": ["POST"],
    "trigger-rule-mismatch-http-response-code": 401,
    "trigger-rule": {
      "match": {
        "type": "payload-hmac-sha256",
        "secret": "$SECRET",
        "parameter": {"source": "header", "name": "X-Hub-Signature-256"}
      }
    }
  }
]
EOF
	LOG=$dir/webhook.log start_bg taskset -c "$SERVER_CPU" webhook -hooks "$dir/hooks.json" \
		-ip 127.0.0.1 -port "$port"
	SRV_PID=$BG_PID SRV_PORT=$port
	wait_port "$port" "$SRV_PID" || die "webhook did not start: $(cat "$dir/webhook.log")"
}

# hg_config FILE PORT DB [ROUTES_YAML_ENDPOINTS_URL]
hg_config() {
	local file=$1 port=$2 db=$3 endpoint=${4:-}
	{
		echo "listen: 127.0.0.1:$port"
		if [ -n "${HG_STORE_URI:-}" ]; then
			echo "store: $HG_STORE_URI"
		else
			echo "store: sqlite:$db"
		fi
		echo "threads: ${HG_THREADS:-1}"
		echo "log_level: ${HG_LOG_LEVEL:-info}"
		if [ "${HG_ENCRYPT:-0}" = 1 ]; then
			echo "encryption:"
			echo "  key_env: BENCH_DATA_KEY"
		fi
		if [ "${BENCH_AUDIT_RECEIVED:-0}" = 1 ]; then
			echo "audit: {received: true}"
		fi
		if [ -n "$endpoint" ]; then
			# As many attempts in flight as wrk has connections to the
			# same sink (the default, 8, suits a real application).
			echo "endpoints:"
			echo "  - name: sink"
			echo "    url: $endpoint"
			echo "    max_in_flight: $CONNS"
		fi
		echo "sources:"
		echo "  - name: $SOURCE"
		echo "    provider: meta"
		echo "    secret_env: BENCH_META_SECRET"
		if [ "${HG_BODY_HASH:-0}" = 1 ]; then
			echo "    dedupe: []"
		else
			echo "    dedupe:"
			echo '      - $.entry[*].changes[*].value.messages[*].id'
			echo '      - $.entry[*].changes[*].value.statuses[*].id'
		fi
		[ -n "$endpoint" ] && echo "    routes: [sink]"
		true
	} >"$file"
}

start_hookgate() { # start_hookgate DIR CONFIG: sets SRV_PID SRV_PORT (from the config)
	start_hookgate_try "$@" || die "hookgate did not start: $START_ERR"
}
# The same, but returns 1 (START_ERR says why) when hookgate does not come up.
start_hookgate_try() {
	local dir=$1 cfg=$2
	SRV_PORT=$(sed -n 's/^listen: 127.0.0.1://p' "$cfg")
	LOG=$dir/hookgate.log start_bg env BENCH_META_SECRET="$SECRET" BENCH_DATA_KEY="$DATA_KEY" \
		taskset -c "${HG_CPUS:-$SERVER_CPU}" \
		"$HG" serve -c "$cfg"
	SRV_PID=$BG_PID
	wait_port "$SRV_PORT" "$SRV_PID" && return 0
	stop_pid "$SRV_PID"
	START_ERR=$(grep -v '^{' "$dir/hookgate.log" | tail -1)
	[ -n "$START_ERR" ] || START_ERR=$(grep -v '"msg":"delivery attempt"' "$dir/hookgate.log" | tail -1)
	return 1
}

sq() { sqlite3 -batch -noheader -cmd '.timeout 10000' "$@"; }

# ------------------------------------------------------------ the scenarios
# One run of a server without durable state: start it, warm it up, measure.
# stateless_rep SCENARIO TARGET PATH WARMUP_S REP start-function args...
stateless_rep() {
	local scenario=$1 target=$2 path=$3 warm=$4 r=$5 rss
	shift 5
	stateless_once "$scenario" "$target" "$path" "$warm" "$r" "$@"
	if rerun_wanted; then
		stateless_once "$scenario" "$target" "$path" "$warm" "$r" "$@"
	fi
}
stateless_once() {
	local scenario=$1 target=$2 path=$3 warm=$4 r=$5 rss
	shift 5
	"$@"
	# Warm-up from the second half of the records; the measured run starts
	# at record 0, so a deduping peer sees only new ids.
	[ "$warm" -gt 0 ] && run_wrk "$target-warm-$r" "$SRV_PORT" "$path" $((NREC / 2)) "$warm"
	wait_quiet
	run_wrk "$target-$r" "$SRV_PORT" "$path" 0 "$DURATION"
	rss=$(peak_rss_kb "$SRV_PID")
	stop_pid "$SRV_PID"
	record "$scenario" "$target" "$r" "$rss" '{}'
}

# The machine may be shared: before a measured run, wait (up to 60 s, and
# BENCH_QUIET_BUDGET=300 s in all) until both cores were at least 90 % idle
# for a second. QUIET_JSON says how it went.
QUIET_LEFT=${BENCH_QUIET_BUDGET:-300}
wait_quiet() {
	local i s0 s1 busy waited=0
	for i in $(seq 1 60); do
		[ "$QUIET_LEFT" -gt 0 ] || [ "$i" = 1 ] || break
		s0=$(cpu_snapshot)
		sleep 1
		s1=$(cpu_snapshot)
		busy=$(awk -v a="$(cpu_busy "$s0" "$s1" "$SERVER_CPU")" -v b="$(cpu_busy "$s0" "$s1" "$CLIENT_CPU")" \
			'BEGIN {printf "%.1f", (a > b ? a : b)}')
		awk -v b="$busy" 'BEGIN {exit !(b <= 10)}' && break
		waited=$i
		QUIET_LEFT=$((QUIET_LEFT - 1))
	done
	QUIET_JSON=$(printf '{"busy_before":%s,"waited_s":%s}' "$busy" "$waited")
	[ "$waited" -gt 0 ] && say "waited ${waited} s for the machine to be quiet (busy ${busy} %)"
	true
}

# The stored-message figures of the run's store: "count dedupe_hits bytes".
# SQLite: the file db; PostgreSQL (HG_STORE_URI set): that database.
store_figures() {
	local db=$1
	if [ -n "${HG_STORE_URI:-}" ]; then
		psql "$HG_STORE_URI" -XAtq -F' ' -c "SELECT count(*), coalesce(sum(dedupe_count), 0),
			pg_database_size(current_database()) FROM messages"
	else
		echo "$(sq "$db" "SELECT count(*), coalesce(sum(dedupe_count), 0) FROM messages" | tr '|' ' ') $(stat -c %s "$db")"
	fi
}

# One verified hookgate ingest run. hg_ingest_rep SCENARIO REP [TEMPLATE_DB]
# With HG_PG=1 the store is a fresh database of the bench's PostgreSQL
# cluster (PG_ADMIN_URI) instead of a SQLite file.
hg_ingest_rep() {
	local scenario=$1 rep=$2 template=${3:-} dir cfg db port before=0 rss
	dir=$WORK/hg-$scenario-$rep
	db=$dir/hookgate.db
	mkdir -p "$dir"
	if [ "${HG_PG:-0}" = 1 ]; then
		local pgdb=bench_${scenario//-/_}_$rep
		psql "$PG_ADMIN_URI" -XAtq -c "DROP DATABASE IF EXISTS $pgdb" -c "CREATE DATABASE $pgdb" >/dev/null
		local HG_STORE_URI=${PG_ADMIN_URI%/*}/$pgdb
	fi
	if [ -n "$template" ]; then
		cp "$template" "$db"
		before=$(sq "$db" "SELECT count(*) FROM messages")
	fi
	sync
	port=$(free_port)
	cfg=$dir/hookgate.yaml
	hg_config "$cfg" "$port" "$db"
	start_hookgate "$dir" "$cfg"
	local perf_out=$dir/perf-stat.csv perf_pid=
	wait_quiet
	if [ "$HAVE_PERF" = 1 ]; then
		perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync \
			-p "$SRV_PID" -o "$perf_out" -- sleep "$DURATION" >/dev/null 2>&1 &
		perf_pid=$!
	fi
	run_wrk "$scenario-$rep" "$SRV_PORT" "/in/$SOURCE" 0 "$DURATION"
	[ -n "$perf_pid" ] && { wait "$perf_pid" 2>/dev/null || true; }
	sleep 0.5
	rss=$(peak_rss_kb "$SRV_PID")
	stop_pid "$SRV_PID"
	local hg_rc=$STOP_RC
	local total dups bytes accepted_log dup_log err_log ok200 sent wraps fds=0 valid=true why=""
	read -r total dups bytes <<<"$(store_figures "$db")"
	accepted_log=$(grep -c '"outcome":"accepted"' "$dir/hookgate.log" || true)
	dup_log=$(grep -c '"outcome":"duplicate"' "$dir/hookgate.log" || true)
	err_log=$(grep '"msg":"request"' "$dir/hookgate.log" | grep -vc '"status":200' || true)
	ok200=$(($(jnum "$WRK_JSON" requests) - $(jnum "$WRK_JSON" err_status)))
	sent=$(jnum "$WRK_JSON" sent)
	wraps=$(jnum "$WRK_JSON" wraps)
	if [ -s "$perf_out" ] && [ -z "${HG_STORE_URI:-}" ]; then # PostgreSQL's are its own
		fds=$(awk -F, '/sys_enter_f(data)?sync/ {s += $1} END {print s + 0}' "$perf_out")
	fi
	local stored=$((total - before))
	[ "$wraps" = 0 ] || { valid=false; why="$why records re-sent (raise BENCH_RECORDS);"; }
	[ "$(jnum "$WRK_JSON" err_status)" = 0 ] || { valid=false; why="$why non-2xx answers;"; }
	[ "$dups" = 0 ] && [ "$dup_log" = 0 ] || { valid=false; why="$why duplicates;"; }
	[ "$stored" -ge "$ok200" ] || { valid=false; why="$why fewer stored than acknowledged;"; }
	if [ "${HG_LOG_LEVEL:-info}" = info ]; then
		[ "$stored" -eq "$accepted_log" ] || { valid=false; why="$why stored != accepted answers;"; }
	else
		accepted_log=-1 dup_log=0 err_log=-1 # no request log to read back
	fi
	[ "$stored" -le "$sent" ] || { valid=false; why="$why more stored than sent;"; }
	[ "$hg_rc" = 0 ] || { valid=false; why="$why hookgate exited $hg_rc;"; }
	record "$scenario" hookgate "$rep" "$rss" "$(printf '{"stored_before":%s,"stored":%s,"ok_200":%s,"accepted_answers":%s,"duplicate_answers":%s,"other_answers":%s,"dedupe_hits":%s,"sent":%s,"fsyncs":%s,"db_bytes":%s,"valid":%s,"why":"%s"}' \
		"$before" "$stored" "$ok200" "$accepted_log" "$dup_log" "$err_log" "$dups" "$sent" "$fds" \
		"$bytes" "$valid" "${why# }")"
	[ "$valid" = true ] || say "INVALID run: $why"
	rm -f "$dir/hookgate.db" "$dir/hookgate.db-wal" "$dir/hookgate.db-shm"
	if [ "${HG_PG:-0}" = 1 ]; then
		psql "$PG_ADMIN_URI" -XAtq -c "DROP DATABASE IF EXISTS $pgdb" >/dev/null || true
	fi
}

# preload DIR N [ENDPOINT]: DIR/hookgate.db with N stored messages (and, with
# ENDPOINT, one pending delivery each to it, due now), written by sqlite3
# in one transaction. Returns non-zero when the schema does not take it.
preload() {
	local dir=$1 n=$(($2 - 1)) endpoint=${3:-}
	mkdir -p "$dir"
	printf 'store: sqlite:%s/hookgate.db\n' "$dir" >"$dir/migrate.yaml"
	"$HG" migrate -c "$dir/migrate.yaml" >/dev/null || return 1
	# One body of the request file (its id is never sent again: the
	# preloaded dedupe keys are random and prefixed "pre").
	dd if="$REQ_FILE" bs="$REC_LEN" skip=$((NREC - 1)) count=1 2>/dev/null | tail -c 1024 >"$dir/body.json"
	{
		cat <<EOF2
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
PRAGMA temp_store = MEMORY;
CREATE TEMP TABLE pre_body(b BLOB);
INSERT INTO pre_body VALUES (readfile('$dir/body.json'));
BEGIN;
-- ids shaped like UUIDv7 (48-bit ms time first) over the last 30 days, older
-- than anything the runs add; headers as hookgate stores them.
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $n),
t(t0) AS (SELECT (CAST(strftime('%s', 'now') AS INTEGER) - 30 * 86400) * 1000)
INSERT INTO messages (id, source, received_ms, content_type, headers, body)
SELECT printf('%08x-%04x-7%03x-%04x-%012x', (t0 + i) >> 16, (t0 + i) & 65535,
              abs(random()) % 4096, 32768 + abs(random()) % 16384,
              abs(random()) % 281474976710656),
       '$SOURCE', t0 + i, 'application/json',
       '{"host":"127.0.0.1:8080","content-type":"application/json","content-length":"1024",'
       || '"x-hub-signature-256":"sha256=' || lower(hex(randomblob(32))) || '"}',
       (SELECT b FROM pre_body)
FROM n, t;
INSERT INTO dedupe (source, key, message_id)
SELECT '$SOURCE', '\$.entry[*].changes[*].value.messages[*].id=wamid.pre' || lower(hex(randomblob(24))), id
FROM messages ORDER BY 2;
EOF2
		if [ -n "$endpoint" ]; then
			# The columns hookgate's own insert sets (src/store/sqlite.c).
			cat <<EOF2
INSERT INTO deliveries (id, message_id, endpoint, status, next_attempt_ms, created_ms, updated_ms)
SELECT printf('%s-d%07d', substr(m.id, 1, 27), m.rowid), m.id, '$endpoint', 'pending', c.now, c.now, c.now
FROM messages AS m, (SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS now) AS c
ORDER BY m.id;
EOF2
		fi
		echo "COMMIT;"
		echo "PRAGMA wal_checkpoint(TRUNCATE);"
	} >"$dir/preload.sql"
	sq "$dir/hookgate.db" <"$dir/preload.sql" >"$dir/preload.out" 2>&1 || {
		PRELOAD_ERR=$(head -3 "$dir/preload.out")
		return 1
	}
}

# Does this build take endpoints and routes? Sets DELIVER_WHY when not.
deliver_available() {
	local dir=$WORK/deliver-check
	mkdir -p "$dir"
	hg_config "$dir/check.yaml" 8080 "$dir/hookgate.db" "http://127.0.0.1:9/"
	DELIVER_WHY=$(BENCH_META_SECRET=x "$HG" config check -c "$dir/check.yaml" 2>&1 >/dev/null | head -1) && return 0
	return 1
}

# Deliveries in a state, counted (-1 when the query fails).
count_deliveries() { sq "$1" "SELECT count(*) FROM deliveries WHERE $2" 2>/dev/null || echo -1; }
status_breakdown() {
	sq "$1" "SELECT group_concat(status || '=' || c, ' ') FROM (SELECT status, count(*) c FROM deliveries GROUP BY status)" 2>/dev/null || echo ""
}

# Delivery throughput: DELIVERIES messages pre-loaded with a pending
# delivery each to a loopback sink (nginx return 200 on the client core);
# hookgate starts on the server core and the engine drains them. The rate is
# read from the deliveries table (status succeeded) every 0.25 s.
bench_delivery() {
	local r
	for r in $(seq 1 "$REPS"); do
		delivery_drain "$r"
	done
	# one more drain under perf, not counted: where a delivery's CPU goes
	if [ "$HAVE_PERF" = 1 ] && want profile; then
		delivery_drain profile
	fi
	delivery_stream
}

# One drain (run REP): DELIVERIES pending deliveries pre-loaded, hookgate
# started, the succeeded count sampled until all are done.
delivery_drain() {
	local rep=$1 dir=$WORK/hg-delivery db cfg port sink_pid sink_port t0 t s last=0 stall=0 series="" n=$DELIVERIES
	db=$dir/hookgate.db
	say "delivery: pre-loading $n messages with a pending delivery each (run $rep/$REPS)"
	preload "$dir" "$n" sink || { note delivery "failed: could not pre-load pending deliveries: $PRELOAD_ERR"; return 0; }
	sync
	start_nginx sink "$CLIENT_CPU"
	sink_pid=$SRV_PID sink_port=$SRV_PORT
	port=$(free_port)
	cfg=$dir/hookgate.yaml
	hg_config "$cfg" "$port" "$db" "http://127.0.0.1:$sink_port/"
	wait_quiet
	t0=$(date +%s.%N)
	local startup_note=""
	if ! start_hookgate_try "$dir" "$cfg"; then
		# As in bench_pending: keep the failure, make them due after the start.
		startup_note=$START_ERR
		say "hookgate did not start with $n deliveries due: $START_ERR; retrying with them due 3 s after the start"
		sq "$db" "UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until_ms = NULL, next_attempt_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + 3000" >/dev/null
		sq "$db" "DELETE FROM attempts" >/dev/null
		wait_quiet
		t0=$(date +%s.%N)
		start_hookgate "$dir" "$cfg"
	fi
	local hg_pid=$SRV_PID s0 s1 stat_pid=
	s0=$(cpu_snapshot)
	if [ "$rep" = profile ]; then
		# DWARF call chains, as in bench_profile
		taskset -c "$CLIENT_CPU" perf record -F 499 --call-graph dwarf,16384 -e cpu-clock \
			-p "$hg_pid" -o "$dir/perf.data" >/dev/null 2>&1 &
		stat_pid=$!
	elif [ "$HAVE_PERF" = 1 ]; then
		taskset -c "$CLIENT_CPU" perf stat -x, -o "$dir/drain-stat.csv" -p "$hg_pid" \
			-e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,syscalls:sys_enter_clock_nanosleep \
			>/dev/null 2>&1 &
		stat_pid=$!
	fi
	while :; do
		sleep 0.25
		s=$(count_deliveries "$db" "status = 'succeeded'")
		t=$(date +%s.%N)
		series="$series${series:+,}[$(awk -v a="$t0" -v b="$t" 'BEGIN {printf "%.3f", b - a}'),$s]"
		[ "$s" -ge "$n" ] && break
		if [ "$s" -le "$last" ]; then
			stall=$((stall + 1))
			[ $stall -ge 60 ] && break # 15 s without progress
		else
			stall=0 last=$s
		fi
		awk -v a="$t0" -v b="$t" 'BEGIN {exit !(b - a > 240)}' && break
	done
	s1=$(cpu_snapshot)
	local fsyncs=0 naps=0
	if [ -n "$stat_pid" ]; then
		kill -INT "$stat_pid" 2>/dev/null || true
		wait "$stat_pid" 2>/dev/null || true
	fi
	if [ "$rep" = profile ]; then
		stop_pid "$hg_pid"
		stop_pid "$sink_pid"
		mkdir -p "$WORK/profile-delivery"
		perf script -i "$dir/perf.data" -F tid,ip,sym 2>/dev/null >"$WORK/profile-delivery/stacks.txt" || true
		rm -rf "$dir"
		return 0
	fi
	if [ -n "$stat_pid" ]; then
		fsyncs=$(awk -F, '/sys_enter_f(data)?sync/ {s += $1} END {print s + 0}' "$dir/drain-stat.csv")
		naps=$(awk -F, '/clock_nanosleep/ {s += $1} END {print s + 0}' "$dir/drain-stat.csv")
	fi
	local rss
	rss=$(peak_rss_kb "$hg_pid")
	stop_pid "$hg_pid"
	stop_pid "$sink_pid"
	WRK_JSON=null
	CPU_JSON=$(printf '{"server_core":%s,"client_core":%s}' \
		"$(cpu_busy "$s0" "$s1" "$SERVER_CPU")" "$(cpu_busy "$s0" "$s1" "$CLIENT_CPU")")
	record delivery hookgate-drain "$rep" "$rss" "$(printf '{"deliveries":%s,"startup_failure":%s,"fsyncs":%s,"sleeps":%s,"succeeded":%s,"attempts":%s,"by_status":"%s","series":[%s]}' \
		"$n" "$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$startup_note")" \
		"$fsyncs" "$naps" "$(count_deliveries "$db" "status = 'succeeded'")" \
		"$(sq "$db" "SELECT count(*) FROM attempts" 2>/dev/null || echo -1)" \
		"$(status_breakdown "$db")" "$series")"
	rm -rf "$dir"
}

# Ingest with the route on: both directions at once, streamed; then wrk
# against the same sink, on the core hookgate had.
delivery_stream() {
	local dir db cfg port sink_pid sink_port hg_pid rss
	dir=$WORK/hg-delivery-stream
	db=$dir/hookgate.db
	mkdir -p "$dir"
	start_nginx sink "$CLIENT_CPU"
	sink_pid=$SRV_PID sink_port=$SRV_PORT
	port=$(free_port)
	cfg=$dir/hookgate.yaml
	hg_config "$cfg" "$port" "$db" "http://127.0.0.1:$sink_port/"
	start_hookgate "$dir" "$cfg"
	hg_pid=$SRV_PID
	wait_quiet
	# SQLite's busy handler sleeps (1, 2, 5 ... 100 ms) when a connection
	# finds the write lock taken: count those sleeps per thread.
	local trace_pid=
	if [ "$HAVE_PERF" = 1 ]; then
		timeout -s INT "$DURATION" perf trace -e clock_nanosleep,nanosleep -p "$hg_pid" \
			-o "$dir/sleeps.txt" >/dev/null 2>&1 &
		trace_pid=$!
	fi
	run_wrk delivery-stream "$SRV_PORT" "/in/$SOURCE" 0 "$DURATION"
	[ -n "$trace_pid" ] && { wait "$trace_pid" 2>/dev/null || true; }
	local sleeps='{}'
	if [ -s "$dir/sleeps.txt" ]; then
		sleeps=$(awk '/sleep\(/ && match($0, /\( *[0-9.]+ ms\)/) {
				v = substr($0, RSTART + 1, RLENGTH - 5); gsub(/ /, "", v)
				if (match($0, /\/[0-9]+ /)) tid = substr($0, RSTART + 1, RLENGTH - 2)
				n[tid]++; ms[tid] += v; tn++; tms += v
			}
			END {
				printf "{\"calls\":%d,\"ms\":%.1f,\"seconds\":%s,\"threads\":{", tn, tms, secs
				sep = ""
				for (t in n) { printf "%s\"%s\":[%d,%.1f]", sep, t, n[t], ms[t]; sep = "," }
				printf "}}"
			}' secs="$DURATION" "$dir/sleeps.txt")
	fi
	local msgs at_end
	msgs=$(sq "$db" "SELECT count(*) FROM messages")
	at_end=$(count_deliveries "$db" "status = 'succeeded'")
	sleep 2
	rss=$(peak_rss_kb "$hg_pid")
	stop_pid "$hg_pid"
	stop_pid "$sink_pid"
	record delivery hookgate-stream 1 "$rss" "$(printf '{"messages":%s,"succeeded_at_end":%s,"succeeded_2s_later":%s,"attempts":%s,"by_status":"%s","sleeps":%s}' \
		"$msgs" "$at_end" "$(count_deliveries "$db" "status = 'succeeded'")" \
		"$(sq "$db" "SELECT count(*) FROM attempts" 2>/dev/null || echo -1)" "$(status_breakdown "$db")" "$sleeps")"
	rm -f "$db" "$db-wal" "$db-shm"

	# wrk against the same sink, on the core hookgate had.
	local r
	for r in $(seq 1 "$REPS"); do
		start_nginx sink-wrk "$CLIENT_CPU"
		wait_quiet
		run_wrk "sink-$r" "$SRV_PORT" / 0 "$DURATION" "$SERVER_CPU"
		rss=$(peak_rss_kb "$SRV_PID")
		stop_pid "$SRV_PID"
		record delivery wrk-to-sink "$r" "$rss" '{}'
	done
}

# Memory: PENDING messages pre-loaded with a pending delivery each to an
# endpoint on a closed loopback port: every attempt is refused and a retry
# scheduled. RSS is sampled while the engine works through them.
bench_pending() {
	local dir=$WORK/hg-pending db cfg port closed hg_pid i peak rss max_rss=0 n=$PENDING
	db=$dir/hookgate.db
	say "memory: pre-loading $n messages with a pending delivery each"
	preload "$dir" "$n" sink || { note pending "failed: could not pre-load pending deliveries: $PRELOAD_ERR"; return 0; }
	sync
	closed=$(free_port) # nothing listens there
	port=$(free_port)
	cfg=$dir/hookgate.yaml
	hg_config "$cfg" "$port" "$db" "http://127.0.0.1:$closed/"
	local startup_note=""
	if ! start_hookgate_try "$dir" "$cfg"; then
		# Seen: with that many deliveries due at start, the engine holds the
		# write lock while the management API's connection migrates. Keep
		# the failure for the report; make them due 8 s after the start.
		startup_note=$START_ERR
		say "hookgate did not start with $n deliveries due: $START_ERR"
		say "retrying with the deliveries due 8 s after the start"
		sq "$db" "UPDATE deliveries SET next_attempt_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + 8000" >/dev/null
		start_hookgate "$dir" "$cfg"
	fi
	hg_pid=$SRV_PID
	# 20 s: the first attempts of all of them (schedule starts at 0 s), then
	# the engine holding 100k deliveries waiting for their retries.
	[ -n "$startup_note" ] && sleep 8
	for i in $(seq 1 40); do
		sleep 0.5
		rss=$(cur_rss_kb "$hg_pid")
		[ "$rss" -gt "$max_rss" ] && max_rss=$rss
	done
	peak=$(peak_rss_kb "$hg_pid")
	stop_pid "$hg_pid"
	WRK_JSON=null CPU_JSON=null
	record pending hookgate 1 "$peak" "$(printf '{"messages":%s,"startup_failure":%s,"not_finished":%s,"rss_settled_kb":%s,"rss_max_sampled_kb":%s,"attempts":%s,"by_status":"%s"}' \
		"$n" "$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$startup_note")" \
		"$(count_deliveries "$db" "status NOT IN ('succeeded', 'dead')")" "$rss" "$max_rss" \
		"$(sq "$db" "SELECT count(*) FROM attempts" 2>/dev/null || echo -1)" "$(status_breakdown "$db")")"
	rm -rf "$dir"
}

# perf on hookgate during one ingest run: where the time goes, the syscalls
# per request, and how long each fdatasync takes.
bench_profile() {
	local dir=$WORK/hg-profile db cfg port secs=$((DURATION < 8 ? DURATION : 8))
	dir=$WORK/hg-profile
	db=$dir/hookgate.db
	mkdir -p "$dir"
	port=$(free_port)
	cfg=$dir/hookgate.yaml
	hg_config "$cfg" "$port" "$db"
	start_hookgate "$dir" "$cfg"
	local hg_pid=$SRV_PID p1 p2 p3 pw=$((secs > 3 ? secs - 2 : 1))
	wait_quiet
	# DWARF call chains: the libraries have no frame pointers. perf itself
	# runs on the client core.
	taskset -c "$CLIENT_CPU" perf record -F 499 --call-graph dwarf,16384 -e cpu-clock -p "$hg_pid" \
		-o "$dir/perf.data" -- sleep "$pw" >/dev/null 2>&1 &
	p1=$!
	taskset -c "$CLIENT_CPU" perf stat -x, -p "$hg_pid" -o "$dir/syscalls.csv" \
		-e syscalls:sys_enter_fdatasync,syscalls:sys_enter_pwrite64,syscalls:sys_enter_pread64,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_read,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,syscalls:sys_enter_getpid,syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_clock_nanosleep,syscalls:sys_enter_fsync \
		-- sleep "$pw" >/dev/null 2>&1 &
	p2=$!
	timeout -s INT "$pw" taskset -c "$CLIENT_CPU" perf trace -e fdatasync -p "$hg_pid" -o "$dir/fdatasync.txt" >/dev/null 2>&1 &
	p3=$!
	run_wrk profile "$SRV_PORT" "/in/$SOURCE" 0 "$secs"
	wait "$p1" "$p2" "$p3" 2>/dev/null || true
	stop_pid "$hg_pid"
	local requests
	requests=$(jnum "$WRK_JSON" requests)
	# Per thread: share of samples, by library and by symbol.
	perf report -i "$dir/perf.data" --no-children --sort pid --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9.]+%' >"$dir/threads.txt" || true
	perf report -i "$dir/perf.data" --no-children --sort pid,dso --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9.]+%' >"$dir/thread-dsos.txt" || true
	perf report -i "$dir/perf.data" --no-children --sort pid,sym --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -30 | sed 's/^ *//' >"$dir/symbols.txt" || true
	perf report -i "$dir/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -12 | sed 's/^ *//' >"$dir/dsos.txt" || true
	# Whole call chains, classified by report.mjs.
	perf script -i "$dir/perf.data" -F tid,ip,sym 2>/dev/null >"$dir/stacks.txt" || true
	awk '/fdatasync\(/ && match($0, /\( *[0-9.]+ ms\)/) {
		v = substr($0, RSTART + 1, RLENGTH - 5); gsub(/ /, "", v); print v }' "$dir/fdatasync.txt" |
		sort -n >"$dir/fdatasync-ms.txt" || true
	printf '{"requests":%s,"seconds":%s,"perf_seconds":%s}\n' "$requests" "$secs" "$pw" >"$dir/profile.json"
	cp "$dir/threads.txt" "$dir/thread-dsos.txt" "$dir/symbols.txt" "$dir/dsos.txt" "$dir/stacks.txt" \
		"$dir/syscalls.csv" "$dir/fdatasync-ms.txt" "$dir/profile.json" "$WORK/profile/" 2>/dev/null || true
	record profile hookgate 1 0 '{}'
}

# -------------------------------------------------------------------- main
main() {
	need_pkgs
	[ "$(nproc)" -ge 2 ] || { SERVER_CPU=0 CLIENT_CPU=0; say "one core: nothing pinned apart"; }
	HAVE_PERF=0
	if command -v perf >/dev/null && perf stat -e syscalls:sys_enter_fdatasync -- true >/dev/null 2>&1; then
		HAVE_PERF=1
	fi
	WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/hookgate-bench.XXXXXX")
	chmod 0755 "$WORK"
	mkdir -p "$WORK/profile"
	RESULTS=$WORK/results.jsonl
	: >"$RESULTS"
	local started
	started=$(date +%s)

	# hookgate, optimized (-O2), in its own build directory; the binary is
	# copied so other work in the tree cannot swap it mid-run.
	local try
	HG=$WORK/hookgate
	if [ -n "${BENCH_HOOKGATE:-}" ]; then
		cp "$BENCH_HOOKGATE" "$HG"
	else
	for try in 1 2 3 4 5; do
		if make -C "$ROOT" BUILD=build/bench all >"$WORK/build.log" 2>&1; then break; fi
		[ "$try" = 5 ] && die "hookgate does not build: $(tail -5 "$WORK/build.log")"
		say "build failed (the tree may be mid-edit); retrying in 60 s"
		sleep 60
	done
	cp "$ROOT/build/bench/hookgate" "$HG"
	fi

	say "npm ci for the Express peer"
	(cd "$BENCH/peers/express" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

	say "generating $NREC signed requests"
	REQ_FILE=$WORK/requests.bin
	local gen
	gen=$(node "$BENCH/gen-requests.mjs" --out "$REQ_FILE" --count "$NREC" --secret "$SECRET")
	REC_LEN=$(jnum "$gen" record_len)
	sync

	{
		printf '{"started":%s,"duration":%s,"reps":%s,"conns":%s,"wrk_threads":%s,' \
			"$started" "$DURATION" "$REPS" "$CONNS" "$WRK_THREADS"
		printf '"server_cpu":%s,"client_cpu":%s,"records":%s,"record_len":%s,' \
			"$SERVER_CPU" "$CLIENT_CPU" "$NREC" "$REC_LEN"
		printf '"nproc":%s,"cpu":"%s","kernel":"%s","os":"%s","mem_gb":%s,' "$(nproc)" \
			"$(lscpu | sed -n 's/^Model name: *//p' | head -1)" "$(uname -r)" \
			"$(. /etc/os-release && echo "$PRETTY_NAME")" \
			"$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
		printf '"fs":"%s","hookgate":"%s","git":"%s","nginx":"%s","node":"%s","express":"%s",' \
			"$(findmnt -no FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK")" "$("$HG" version | awk '{print $2}')" \
			"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo '+uncommitted src changes')" \
			"$(nginx -v 2>&1 | sed 's/.*nginx\///')" "$(node -v)" \
			"$(node -p 'require(process.argv[1]).version' "$BENCH/peers/express/node_modules/express/package.json")"
		printf '"webhook":"%s","wrk":"%s","sqlite_lib":"%s","sqlite_cli":"%s","openssl":"%s","h2o":"%s","perf":"%s"}\n' \
			"$(webhook -version 2>&1 | awk '{print $3}')" \
			"$(dpkg-query -W -f='${Version}' wrk 2>/dev/null || wrk -v 2>&1 | head -1 | awk '{print $2}')" \
			"$(pkg-config --modversion sqlite3 2>/dev/null)" "$(sqlite3 --version | awk '{print $1}')" \
			"$(openssl version | awk '{print $2}')" "$(dpkg-query -W -f='${Version}' libh2o-evloop-dev 2>/dev/null || pkg-config --modversion libh2o-evloop)" \
			"$(perf --version 2>/dev/null | awk '{print $3}')"
	} >"$WORK/meta.json"

	# PostgreSQL: `make bench` runs this script under
	# scripts/with-postgres.sh (a throwaway cluster on 127.0.0.1, fsync on);
	# its processes, and the backends it forks later, share the server's
	# core, so the figures are of the whole durable system on one core.
	PG_ADMIN_URI=
	if [ -n "${HOOKGATE_TEST_PG:-}" ] && want pg; then
		PG_ADMIN_URI=$HOOKGATE_TEST_PG
		PG_POSTMASTER=$(head -1 "$HOOKGATE_E2E_PGDATA/postmaster.pid" 2>/dev/null || echo 0)
		export PGOPTIONS="-c client_min_messages=warning"
		local pgpid
		for pgpid in $(pgrep -u postgres -x postgres || true); do
			taskset -a -p -c "$SERVER_CPU" "$pgpid" >/dev/null 2>&1 || true
		done
	elif want pg; then
		say "PostgreSQL round skipped: run under scripts/with-postgres.sh (make bench does)"
	fi

	if want rounds; then
	say "pre-loading a store with $PRELOAD messages"
	preload "$WORK/preload" "$PRELOAD" || die "cannot pre-load the store: $PRELOAD_ERR"

	# The targets take turns, one run each per round, so a disturbance of
	# the machine spreads over all of them instead of hitting one.
	local r
	for r in $(seq 1 "$REPS"); do
		say "round $r/$REPS: nginx, Express, webhook x2, hookgate (empty store, $PRELOAD stored)"
		stateless_rep ceiling nginx / 2 "$r" start_nginx ceiling "$SERVER_CPU"
		stateless_rep peers express "/in/$SOURCE" 3 "$r" start_express
		stateless_rep peers webhook-exec /hooks/bench 2 "$r" start_webhook /bin/true
		# webhook answers before running the command; a command that does
		# not exist is looked up and never started: verification alone.
		stateless_rep peers webhook-noexec /hooks/bench 2 "$r" start_webhook \
			/nonexistent/hookgate-bench-no-command
		hg_ingest_rep ingest "$r"
		rerun_wanted && hg_ingest_rep ingest "$r"
		hg_ingest_rep ingest-1m "$r" "$WORK/preload/hookgate.db"
		rerun_wanted && hg_ingest_rep ingest-1m "$r" "$WORK/preload/hookgate.db"
		# the same load with encryption at rest on (a key of its own)
		HG_ENCRYPT=1 hg_ingest_rep ingest-enc "$r"
		rerun_wanted && HG_ENCRYPT=1 hg_ingest_rep ingest-enc "$r"
		# and with one audit row per accepted message (audit.received)
		BENCH_AUDIT_RECEIVED=1 hg_ingest_rep ingest-audit "$r"
		rerun_wanted && BENCH_AUDIT_RECEIVED=1 hg_ingest_rep ingest-audit "$r"
		# both cores for everyone: nginx with 2 workers, hookgate with 2
		# event loops, wrk beside them (as an operator would run them)
		WRK_CPUS=$BOTH_CPUS NGINX_WORKERS=2 stateless_rep ceiling-2c nginx / 2 "$r" \
			start_nginx ceiling-2c "$BOTH_CPUS"
		WRK_CPUS=$BOTH_CPUS HG_CPUS=$BOTH_CPUS HG_THREADS=2 hg_ingest_rep ingest-2c "$r"
		rerun_wanted && WRK_CPUS=$BOTH_CPUS HG_CPUS=$BOTH_CPUS HG_THREADS=2 \
			hg_ingest_rep ingest-2c "$r"
		# and on PostgreSQL (the cluster on the server core too)
		if [ -n "$PG_ADMIN_URI" ]; then
			HG_PG=1 hg_ingest_rep ingest-pg "$r"
			rerun_wanted && HG_PG=1 hg_ingest_rep ingest-pg "$r"
		fi
	done
	rm -rf "$WORK/preload"
	fi

	say "delivery and pending-delivery memory"
	if ! want delivery; then
		say "delivery skipped (BENCH_ONLY)"
	elif deliver_available; then
		bench_delivery
		bench_pending
	else
		note delivery "not available yet: this build of hookgate refuses endpoints/routes (\`hookgate config check\`: ${DELIVER_WHY:-no reason given})"
		note pending "not available yet: needs the delivery engine (endpoints/routes), see above"
		say "delivery engine not available yet: $DELIVER_WHY"
	fi

	local want_profile=$PROFILE
	if [ "$want_profile" = auto ]; then
		want_profile=$(node "$BENCH/report.mjs" --missed "$WORK" && echo 1 || echo 0)
	fi
	if [ "$want_profile" = 1 ] && [ "$HAVE_PERF" = 1 ] && want profile; then
		say "profile of hookgate ingest (a target was missed)"
		bench_profile
		# What two configuration changes buy, one run each: no request log
		# line (log_level: warn) and no JSON parse for the dedupe key (the
		# body's SHA-256; every body is unique, so still no duplicates).
		say "what-if runs: log_level warn; dedupe on the body hash"
		HG_LOG_LEVEL=warn hg_ingest_rep whatif-nolog 1
		HG_BODY_HASH=1 hg_ingest_rep whatif-bodyhash 1
	else
		say "profile skipped"
	fi

	printf '{"finished":%s}\n' "$(date +%s)" >"$WORK/finished.json"
	node "$BENCH/report.mjs" "$WORK" "$REPORT"
	say "report written: $REPORT ($(($(date +%s) - started)) s)"
}

main "$@"
