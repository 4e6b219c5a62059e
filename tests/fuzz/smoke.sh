#!/bin/sh
# smoke.sh BUILD_DIR [SECONDS] - run every libFuzzer harness of a
# -DSW_FUZZ=ON build for SECONDS each (default 20), one after the other, on
# its seed corpus; exit 1 on any crash, leak, timeout or OOM.
#
# Seeds: the committed tests/fuzz/seeds/<h> and tests/regress/<h>, plus the
# seeds make_seeds.py extracts from pcaps/ of the project and, when present,
# ../shared/bench/seeds and ../shared/corpus.  New corpus entries and crash
# artifacts go under BUILD_DIR/fuzz/<h>/ (never into the source tree).
# Prints, per harness, the executions and executions per second.
set -u
BUILD=${1:?usage: smoke.sh BUILD_DIR [SECONDS]}
SECS=${2:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
SHARED=$(cd "$SRC/.." && pwd)/shared
WORK=$BUILD/fuzz
HARNESSES=${FUZZ_HARNESSES:-"fuzz_tls fuzz_mail fuzz_pcap"}
mkdir -p "$WORK"

set -- "$SRC/pcaps"
[ -d "$SHARED/bench/seeds" ] && set -- "$@" "$SHARED/bench/seeds"
[ -d "$SHARED/corpus" ] && set -- "$@" "$SHARED/corpus"
python3 "$HERE/make_seeds.py" "$WORK/seeds" "$@" || exit 1

fail=0
for h in $HARNESSES; do
	bin=$BUILD/tests/$h
	if [ ! -x "$bin" ]; then
		echo "smoke: $bin missing (configure with CC=clang -DSW_SANITIZE=ON -DSW_FUZZ=ON)" >&2
		exit 1
	fi
	mkdir -p "$WORK/$h/corpus" "$WORK/$h/artifacts" "$WORK/seeds/$h"
	log=$WORK/$h/log
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=131072 \
		-print_final_stats=1 -artifact_prefix="$WORK/$h/artifacts/" \
		"$WORK/$h/corpus" "$WORK/seeds/$h" "$SRC/tests/fuzz/seeds/$h" "$SRC/tests/regress/$h" \
		>"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	if [ $rc -ne 0 ]; then
		echo "smoke: $h FAILED (exit $rc), artifacts in $WORK/$h/artifacts:" >&2
		grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written' "$log" | head -20 >&2
		fail=1
	else
		echo "smoke: $h ok: ${SECS}s, ${execs:-?} execs, ${eps:-?} exec/s"
	fi
done
exit $fail
