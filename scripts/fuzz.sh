#!/usr/bin/env bash
# Runs each libFuzzer target given for SECONDS seconds, one after the other:
#   scripts/fuzz.sh SECONDS build/fuzz/fuzz_NAME...
# Each target starts from a scratch copy of tests/fuzz/corpus/NAME (what it
# finds is not written back: the committed corpus stays small), with
# tests/fuzz/NAME.dict when there is one. Crashing inputs are kept in
# build/fuzz/artifacts/. Prints libFuzzer's final "Done N runs in S
# second(s)" per target and a summary; exits 1 when any target failed.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: scripts/fuzz.sh SECONDS TARGET...}
shift
out=build/fuzz/artifacts
mkdir -p "$out"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/hookgate-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# Leaks in the libraries' one-time setup (OpenSSL, libcurl) are not ours.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
summary=""
failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	corpus="$scratch/$name"
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -R "tests/fuzz/corpus/$name/." "$corpus/"
	fi
	dict=()
	if [ -f "tests/fuzz/$name.dict" ]; then
		dict=("-dict=tests/fuzz/$name.dict")
	fi
	echo "== $name: ${secs}s"
	"$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/$name-" "${dict[@]}" "$corpus" >"$scratch/$name.log" 2>&1
	rc=$?
	done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$scratch/$name.log" | tail -1)
	if [ "$rc" -ne 0 ] || [ -z "$done_line" ]; then
		failed=1
		tail -n 60 "$scratch/$name.log"
		summary="$summary$name: FAILED (exit $rc; inputs in $out/$name-*)"$'\n'
	else
		units=$(find "$corpus" -type f | wc -l)
		echo "$done_line"
		summary="$summary$name: $done_line (corpus $units inputs)"$'\n'
	fi
done
echo "== fuzz summary (${secs}s per target)"
printf '%s' "$summary"
exit "$failed"
