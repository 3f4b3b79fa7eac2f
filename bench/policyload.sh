#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# policyload.sh -- the policy load step of a one-file-edit reload at N domains (100
# included files of 1,000): with the parse cache (mailnsd's reload) and without it
# (a cold load), medians of RUNS, wall and CPU time, and the heap the cache keeps
# per domain.  No server, no network.
# Usage: bench/policyload.sh [N [RUNS]]   (default 100000 5; run from a built tree)
# Env: DIR=... reuses a generated policy (bench/gen-policy.sh N DIR PORT).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000} runs=${2:-5}
dir=${DIR:-$(mktemp -d /tmp/policyload.XXXXXX)}
[ -f "$dir/policy.yaml" ] || "$top/bench/gen-policy.sh" "$n" "$dir" 5353 >/dev/null
cc -O2 -std=gnu11 -I"$top" "$top/bench/policyload.c" "$top/policy/libpolicy.a" \
	$(pkg-config --libs yaml-0.1 libcrypto) -lpthread -o "$dir/policyload"
"$dir/policyload" "$dir/policy.yaml" "$dir/domains.d/d000050.yaml" "$runs"
