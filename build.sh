#!/usr/bin/env bash
# build.sh - build stripwatch on Debian 12, installing missing packages.
#
#   ./build.sh demo   build, then run stripwatch on a bundled capture and print its events
#   ./build.sh test   build, run the whole test suite, then again under ASan+UBSan,
#                     then a short fuzz smoke run
#   ./build.sh build  build only (build/stripwatch)
#
# Debian packages are installed only when missing (apt-get; as root, or
# through sudo when it is there).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
jobs=$(nproc 2>/dev/null || echo 2)

packages=(build-essential cmake pkg-config libpcap-dev libndpi-dev libsodium-dev
	  libsqlite3-dev libcmocka-dev python3)
# The tests also run real servers and tools in network namespaces.
test_packages=(clang libclang-rt-14-dev minisign postfix swaks libnet-ssleay-perl openssl
	       nftables iproute2 iputils-ping)

install_missing() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "build.sh: installing ${missing[*]}" >&2
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || {
			echo "build.sh: need root to run: apt-get install ${missing[*]}" >&2
			exit 2
		}
		sudo=(sudo)
	fi
	# Installing postfix must not configure or start a system mail server.
	local rcd=/usr/sbin/policy-rc.d made_rcd=
	if [ ! -e $rcd ]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee $rcd >/dev/null
		"${sudo[@]}" chmod 755 $rcd
		made_rcd=1
	fi
	echo "postfix postfix/main_mailer_type select No configuration" |
		"${sudo[@]}" debconf-set-selections 2>/dev/null || true
	local rc=0
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "${missing[@]}" >/dev/null || rc=$?
	[ -z "$made_rcd" ] || "${sudo[@]}" rm -f $rcd
	[ $rc -eq 0 ] || { echo "build.sh: apt-get failed ($rc)" >&2; exit 2; }
}

build() { # build DIR [cmake args...]
	local dir=$1
	shift
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j "$jobs" >&2
}

demo_capture=pcaps/attack-smtp-stripped.client.pcap

case "${1:-}" in
demo)
	install_missing "${packages[@]}"
	build build -DBUILD_TESTING=OFF
	if [ ! -f build/demo.key ]; then
		build/stripwatch keygen -s build/demo.key -p build/demo.pub >/dev/null
	fi
	echo "== stripwatch -k build/demo.key -r $demo_capture" >&2
	build/stripwatch -k build/demo.key -r "$demo_capture" -o build/demo.json
	cat build/demo.json
	echo "== stripwatch verify -p build/demo.pub build/demo.json" >&2
	build/stripwatch verify -p build/demo.pub build/demo.json >&2
	;;
test)
	install_missing "${packages[@]}" "${test_packages[@]}"
	build build -DBUILD_TESTING=ON
	(cd build && ctest --output-on-failure -j "$jobs")
	echo "== again under AddressSanitizer and UndefinedBehaviorSanitizer" >&2
	build build-asan -DSW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$jobs")
	if [ -x tests/fuzz/smoke.sh ]; then
		echo "== fuzz smoke run" >&2
		CC=clang build build-fuzz -DSW_SANITIZE=ON -DSW_FUZZ=ON -DBUILD_TESTING=ON
		tests/fuzz/smoke.sh build-fuzz "${FUZZ_SECONDS:-20}"
	fi
	;;
build)
	install_missing "${packages[@]}"
	build build -DBUILD_TESTING=OFF
	;;
*)
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
