#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# gen-policy.sh -- generate a policy of N mail-auth domains for benchmarks.
# Usage: bench/gen-policy.sh N DIR PORT   (writes DIR/policy.yaml + DIR/domains.d/)
# Env: SELECTORS=1 (DKIM selectors per domain, each its own 2048-bit key, s1 s2 ...),
#      SPF_NETS=2 (networks in each domain's SPF record); issue 7's shape is
#      SELECTORS=2 SPF_NETS=20.  The keys are generated once and used by every
#      domain; UNIQUE_DKIM=1 makes every domain's records distinct all the same (an
#      n= note naming the domain), so that no server can share them between domains.
set -eu
n=$1 dir=$2 port=$3
sel=${SELECTORS:-1} nets=${SPF_NETS:-2} uniq=${UNIQUE_DKIM:-0}
mkdir -p "$dir/domains.d"
keys=""
for s in $(seq 1 "$sel"); do
	keys="$keys $(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
		openssl pkey -pubout -outform DER | base64 -w0)"
done
cat > "$dir/policy.yaml" <<EOT
version: 1
server:
  listen: ["127.0.0.1:$port"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: $dir/state
  rate_limit: 0               # the load comes from 127.0.0.1 alone: no response rate limiting
include: ["domains.d/*.yaml"]
defaults:
  dmarc: { p: reject, rua: ["mailto:dmarc@example.net"] }
domains: {}
EOT
awk -v n="$n" -v dir="$dir" -v keys="$keys" -v nets="$nets" -v uniq="$uniq" 'BEGIN {
	per = 1000
	nk = split(keys, key, " ")
	for (i = 0; i < n; i++) {
		if (i % per == 0) {
			if (f) close(f)
			f = sprintf("%s/domains.d/d%06d.yaml", dir, i / per)
			print "domains:" > f
		}
		printf "  d%d.example:\n", i > f
		# networks 0 and 1 as before; then /24s in distinct /16s (never merged),
		# the last quarter as IPv6 /64s
		ip4 = sprintf("10.%d.%d.0/24, 192.0.2.%d", int(i / 256) % 256, i % 256, i % 250)
		ip6 = ""
		for (j = 2; j < nets; j++) {
			if (j >= nets - int(nets / 4))
				ip6 = ip6 sprintf("%s\"2001:db8:%x:%x::/64\"", (ip6 == "" ? "" : ", "), i % 65536, 4 * j + 1)
			else
				ip4 = ip4 sprintf(", 100.%d.%d.0/24", 64 + j, i % 256)
		}
		printf "    spf: { mode: flatten, ip4: [%s]%s, all: fail }\n", ip4,
			(ip6 == "" ? "" : ", ip6: [" ip6 "]") > f
		printf "    dkim: { selectors: {" > f
		for (s = 1; s <= nk; s++)
			printf "%s s%d: \"v=DKIM1; k=rsa; %sp=%s\"", (s > 1 ? "," : ""), s,
				(uniq == 1 ? sprintf("n=d%d; ", i) : ""), key[s] > f
		printf " } }\n" > f
		printf "    dmarc: { p: reject, rua: [\"mailto:dmarc@d%d.example\"] }\n", i > f
	}
}'
