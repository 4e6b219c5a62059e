#!/bin/bash
# tests/live/e2e.sh STRIPWATCH: the end-to-end live test (see e2e.py).
#
# Needs root, network namespaces and the lab's Debian packages: postfix,
# swaks, libnet-ssleay-perl, openssl, nftables, iproute2, iputils-ping,
# python3.  Exits 77 (skip) with the reason when one is missing.
set -euo pipefail
sw=$1
here=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: e2e: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, packet capture)"
command -v ip >/dev/null || skip "ip (iproute2) missing"
probe=swlive-probe-$$
ip netns add "$probe" 2>/dev/null || skip "ip netns is unavailable here"
ip netns del "$probe"
for c in python3 postfix swaks openssl nft ping; do
	command -v "$c" >/dev/null || skip "$c missing (Debian: see tests/live/e2e.sh)"
done
perl -MNet::SSLeay -e 1 2>/dev/null || skip "swaks cannot do TLS: libnet-ssleay-perl missing"
getent passwd postfix >/dev/null || skip "no postfix user: the postfix package is not installed"
exec timeout -s INT 100 python3 "$here/e2e.py" "$sw"
