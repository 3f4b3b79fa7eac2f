#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# gen-policy.sh -- generate a policy of N mail-auth domains for benchmarks.
# Usage: bench/gen-policy.sh N DIR PORT   (writes DIR/policy.yaml + DIR/domains.d/)
set -eu
n=$1 dir=$2 port=$3
mkdir -p "$dir/domains.d"
key=$(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
	openssl pkey -pubout -outform DER | base64 -w0)
cat > "$dir/policy.yaml" <<EOT
version: 1
server:
  listen: ["127.0.0.1:$port"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: $dir/state
include: ["domains.d/*.yaml"]
defaults:
  dmarc: { p: reject, rua: ["mailto:dmarc@example.net"] }
domains: {}
EOT
awk -v n="$n" -v dir="$dir" -v key="$key" 'BEGIN {
	per = 1000
	for (i = 0; i < n; i++) {
		if (i % per == 0) {
			if (f) close(f)
			f = sprintf("%s/domains.d/d%06d.yaml", dir, i / per)
			print "domains:" > f
		}
		printf "  d%d.example:\n", i > f
		printf "    spf: { mode: flatten, ip4: [10.%d.%d.0/24, 192.0.2.%d], all: fail }\n", int(i / 256) % 256, i % 256, i % 250 > f
		printf "    dkim: { selectors: { s1: \"v=DKIM1; k=rsa; p=%s\" } }\n", key > f
		printf "    dmarc: { p: reject, rua: [\"mailto:dmarc@d%d.example\"] }\n", i > f
	}
}'
