#!/usr/bin/env bash
# sensor_degraded from a full flow table, on real captures.
#   degraded.sh STRIPWATCH PCAPS_DIR WORK_DIR capped|default
#
# The client-vantage captures of pcaps/ are merged (tests/caps/merge.py) with
# their clocks shifted so that all of them start at the same instant: the
# sessions of some forty real captures then run at once. Read with
# --max-flows 16 ("capped") the table overflows while sessions are open:
# stripwatch must evict (counted in the stats line: flows.evicted_cap, and
# caps_hit for open sessions) and raise sensor_degraded (severity 2). Read
# with the default caps ("default") the same input must evict nothing and
# raise no sensor_degraded, while its flow table does go above 16 (so the
# capped run's result comes from the cap, not from the input).
# Exit 77 = skipped (no captures yet).
set -euo pipefail
SW=$1
PCAPS=$2
WORK=$3
MODE=$4
here=$(cd "$(dirname "$0")" && pwd)

shopt -s nullglob
inputs=("$PCAPS"/*.client.pcap)
if [ "${#inputs[@]}" -lt 20 ]; then
	echo "SKIP: fewer than 20 client captures in $PCAPS (make -C pcaps/lab)"
	exit 77
fi
mkdir -p "$WORK"
merged="$WORK/merged-$MODE.pcap"
out="$WORK/out-$MODE.json"
python3 "$here/merge.py" "$merged" 0 "${inputs[@]}"

case "$MODE" in
capped) caps=(--max-flows 16) ;;
default) caps=() ;;
*) echo "degraded.sh: mode must be capped or default" >&2; exit 2 ;;
esac
"$SW" --no-sign --host caps-test "${caps[@]}" -r "$merged" > "$out"

python3 - "$out" "$MODE" <<'PY'
import json
import sys

path, mode = sys.argv[1], sys.argv[2]
degraded, stats, errors = [], None, []
for n, line in enumerate(open(path), 1):
	ev = json.loads(line)
	if ev.get("event_type") == "alert" and ev.get("finding") == "sensor_degraded":
		degraded.append(ev)
	elif ev.get("event_type") == "stats":
		stats = ev["stats"]
if stats is None:
	sys.exit(f"FAIL: no stats line in {path}")
flows = stats["flows"]
print(f"{mode}: {len(degraded)} sensor_degraded, flows {flows}, caps_hit {stats['caps_hit']}")
if mode == "capped":
	if not degraded:
		errors.append("no sensor_degraded alert with --max-flows 16")
	for ev in degraded:
		if ev["alert"]["severity"] != 2:
			errors.append(f"sensor_degraded severity {ev['alert']['severity']}, want 2")
		if "caps hit" not in ev.get("detail", ""):
			errors.append(f"sensor_degraded detail does not name the caps: {ev.get('detail')!r}")
	if flows["evicted_cap"] == 0:
		errors.append("stats: no flow evicted by the cap")
	if stats["caps_hit"] == 0:
		errors.append("stats: caps_hit is 0 (no open session evicted)")
	if flows["peak"] > 16:
		errors.append(f"stats: peak {flows['peak']} flows above --max-flows 16")
else:
	if degraded:
		errors.append(f"sensor_degraded with default caps: {degraded[0].get('detail')!r}")
	if flows["evicted_cap"] != 0 or stats["caps_hit"] != 0:
		errors.append(f"stats: evicted_cap {flows['evicted_cap']}, caps_hit {stats['caps_hit']} with default caps")
	if flows["peak"] <= 16:
		errors.append(f"stats: peak {flows['peak']} flows: the input does not exceed 16 flows at once")
for e in errors:
	print("FAIL: " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
