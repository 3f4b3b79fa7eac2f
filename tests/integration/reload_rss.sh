#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reload_rss.sh -- the resident size of mailnsd does not creep across reloads: 2,000
# domains (two DKIM selectors, a 20-network SPF, DMARC each) in 2 included files, one
# domain's DMARC changed and SIGHUP sent 30 times, each new answer awaited; once every
# reload has ended, VmRSS is within 5 % of what it was after the first reload (it
# stays within 0-2 %; with glibc's sliding malloc thresholds it grew by 10-24 %: the
# thread arenas kept the free memory of the old generations).  glibc only; the size
# is not judged in a sanitizer build, whose allocator keeps freed memory in quarantine.
. "${top_srcdir:?}/tests/tap/tap.sh"

getconf GNU_LIBC_VERSION >/dev/null 2>&1 || skip_all "not glibc"
san=0
nm "$MAILNSD" 2>/dev/null | grep -q '__asan_init\|__msan_init\|__tsan_init' && san=1
command -v openssl >/dev/null || skip_all "openssl not installed"
mn_tmpdir

N=2000 CH=666 ROUNDS=30
key=$(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
	openssl pkey -pubout -outform DER | base64 -w0)
[ -n "$key" ] || skip_all "openssl cannot make a key"
mkdir -p "$TMP/domains.d"
cat > "$TMP/t.tmpl" <<EOF
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  rate_limit: 0
include: ["domains.d/*.yaml"]
domains:
  example.com:
    dmarc: { p: reject }
EOF
awk -v n="$N" -v per=1000 -v dir="$TMP/domains.d" -v key="$key" 'BEGIN {
	for (i = 0; i < n; i++) {
		if (i % per == 0) {
			if (f) close(f)
			f = sprintf("%s/d%02d.yaml", dir, i / per)
			print "domains:" > f
		}
		printf "  d%d.example:\n", i > f
		ip4 = sprintf("10.%d.%d.0/24", int(i / 256) % 256, i % 256)
		for (j = 0; j < 19; j++)
			ip4 = ip4 sprintf(", 100.%d.%d.0/24", 64 + j, i % 256)
		printf "    spf: { mode: flatten, ip4: [%s], all: fail }\n", ip4 > f
		printf "    dkim: { selectors: { s1: \"v=DKIM1; k=rsa; n=d%d; p=%s\", s2: \"v=DKIM1; k=rsa; n=d%d; p=%s\" } }\n", i, key, i, key > f
		printf "    dmarc: { p: reject, rua: [\"mailto:g0@d%d.example\"] }\n", i > f
	}
}'
file=$(grep -l "^  d$CH.example:" "$TMP"/domains.d/*.yaml)
mn_start "$TMP/t.tmpl" || { ok 1 "mailnsd starts with $N domains"; done_testing; exit; }
ok 0 "mailnsd starts with $N domains"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$MN_PID/status"; }
# round K: d$CH's rua becomes gK (an atomic rename), SIGHUP, until gK is answered (20 s at most)
round() {
	local i
	sed "/^  d$CH.example:/,/dmarc:/ s|mailto:g[0-9]*@|mailto:g$1@|" "$file" > "$file.tmp.1"
	mv "$file.tmp.1" "$file"
	kill -HUP "$MN_PID"
	for i in $(seq 1 200); do
		mn_dig +short TXT "_dmarc.d$CH.example" | grep -q "mailto:g$1@" && return 0
		sleep 0.1
	done
	return 1
}

round 1; ok $? "the first reload's record is answered"
mn_reloads_settled; ok $? "the first reload settles"
rss1=$(rss)
served=0
for k in $(seq 2 $((ROUNDS + 1))); do
	round "$k" && served=$((served + 1))
done
is "$served" "$ROUNDS" "each of $ROUNDS more reloads' records is answered"
mn_reloads_settled; ok $? "the reloads settle"
rss2=$(rss)
diag "VmRSS after the first reload $rss1 KB, after $ROUNDS more $rss2 KB ($(( (rss2 - rss1) * 100 / rss1 )) %)"
if [ "$san" = 1 ]; then
	ok 0 "VmRSS within 5 % of after the first reload # SKIP sanitizer build"
else
	ok $((rss2 * 100 > rss1 * 105)) "VmRSS within 5 % of after the first reload ($rss1 -> $rss2 KB)"
fi
mn_stop; is $? 0 "mailnsd stops cleanly"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$MN_LOG"; ok $((! $?)) "no sanitizer report in the server log"
done_testing
