# Shared by tests/history/*.sh (sourced, not a test itself).
#   $1: the stripwatch binary, $2: the pcaps directory.
# Every run gets --state in a fresh temporary directory: the real state
# directory is never touched.  Exit 77 = skipped (captures not made yet).
set -euo pipefail
SW=$1
PCAPS=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d /tmp/sw-history-test.XXXXXX)
trap 'rm -rf "$T"' EXIT

need() {
	for f in "$@"; do
		if [ ! -f "$PCAPS/$f" ]; then
			echo "SKIP: $PCAPS/$f not there (make -C pcaps/lab)"
			exit 77
		fi
	done
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# alerts FILE: one line per alert: "finding severity src_port rule:line:level:mode | detail"
alerts() {
	python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("event_type") != "alert":
        continue
    p = d.get("policy")
    pol = f"{p['rule']}:{p['line']}:{p['level']}:{p['mode']}" if p else "-"
    print(d.get("finding"), d["alert"]["severity"], d.get("src_port", "-"), pol, "|", d.get("detail", ""))
PY
}

# count FILE PATTERN: how many alert lines match the extended regex
count() {
	alerts "$1" | grep -Ec -- "$2" || true
}

expect_count() { # FILE PATTERN N what
	local n
	n=$(count "$1" "$2")
	[ "$n" = "$3" ] || { alerts "$1" >&2; fail "$4: '$2' seen $n times, expected $3"; }
}
