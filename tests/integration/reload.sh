#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reload.sh -- incremental reloads of a running mailnsd (41 domains in 4 included
# files, the watcher reloading on each atomic file change): one domain's change
# compiles that domain only (the "reloaded" line counts 1 compiled, 40 unchanged),
# its zone's serial moves and a neighbour's does not, the new answer is served; a
# new file adds one domain; a broken file keeps the last good answers and the next
# good change is again compared with the last good set; a server-wide setting
# recompiles everything.  The line also counts the included files whose bytes did
# not change (taken from the parse cache, not parsed again).  The same run again
# with server.parse_cache: true (accepted, no effect since the cache is the default).
. "${top_srcdir:?}/tests/tap/tap.sh"
mn_tmpdir

reloads() { grep -c 'reloaded:\|reload failed' "$MN_LOG"; }
# arrive FILE: FILE.tmp.1 renamed over FILE (an atomic write, as editors and
# config tools do), then waits (10 s at most) for the watcher's reload; prints the
# log line of the first reload after the rename (the one that read it)
arrive() {
	local n0 i
	n0=$(reloads)
	mv "$1.tmp.1" "$1"
	for i in $(seq 1 100); do [ "$(reloads)" -gt "$n0" ] && break; sleep 0.1; done
	grep 'reloaded:\|reload failed' "$MN_LOG" | sed -n "$((n0 + 1))p" | sed 's/^.*: \(reload\)/\1/'
}
# quiet: waits until no reload has ended for 1.5 s (10 s at most): a reload that
# starts watching a directory runs one more (mailnsd(8)), which must not be taken
# for the next step's
quiet() {
	local n i stable=0
	n=$(reloads)
	for i in $(seq 1 20); do
		sleep 0.5
		if [ "$(reloads)" = "$n" ]; then stable=$((stable + 1)); else stable=0; n=$(reloads); fi
		[ "$stable" -ge 3 ] && break
	done
}
change() { sed "$2" "$1" > "$1.tmp.1"; arrive "$1"; }	# change FILE SED-EXPR
create() { printf '%b' "$2" > "$1.tmp.1"; arrive "$1"; }	# create FILE TEXT (\n for newlines)
txt() { mn_dig +short TXT "$1" | tr -d '"'; }
serial() { mn_dig +short SOA "$1" | awk '{ print $3 }'; }

run() { # run PARSE_CACHE
	local pc=$1 tag="parse_cache $1" files
	rm -rf "$TMP/domains.d" "$TMP/state"; : > "$TMP/mailnsd.log"
	mkdir -p "$TMP/domains.d"
	cat > "$TMP/t.tmpl" <<EOF
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  ttl: 3600
  parse_cache: $pc
include: ["domains.d/*.yaml"]
domains:
  example.com:
    dmarc: { p: reject }
EOF
	for f in 0 1 2 3; do
		{
			echo "domains:"
			for i in $(seq $((f * 10)) $((f * 10 + 9))); do
				echo "  d$i.example:"
				echo "    spf: { mode: plain, ip4: [192.0.2.$i] }"
				echo "    dmarc: { p: reject, rua: [\"mailto:dmarc@d$i.example\"] }"
			done
		} > "$TMP/domains.d/f$f.yaml"
	done
	mn_start "$TMP/t.tmpl" || { ok 1 "$tag: mailnsd starts"; return; }
	files="; 3 included files unchanged"
	local s7 s8
	s7=$(serial _dmarc.d7.example); s8=$(serial _dmarc.d8.example)

	is "$(change "$TMP/domains.d/f0.yaml" 's/rua: \["mailto:dmarc@d7.example"\]/rua: ["mailto:new@d7.example"]/')" \
		"reloaded: 123 zones (41 domains: 1 compiled, 40 unchanged$files)" "$tag: one domain changed, one compiled"
	is "$(txt _dmarc.d7.example)" "v=DMARC1; p=reject; rua=mailto:new@d7.example" "$tag: its new record is served"
	[ "$(serial _dmarc.d7.example)" != "$s7" ]; ok $? "$tag: its serial moved"
	is "$(serial _dmarc.d8.example)" "$s8" "$tag: the neighbour's serial did not"
	is "$(txt _spf.d8.example)" "v=spf1 ip4:192.0.2.8 -all" "$tag: the neighbour is served as before"

	files="; 4 included files unchanged"	# f0..f3 (f4 is new)
	is "$(create "$TMP/domains.d/f4.yaml" 'domains:\n  d40.example:\n    dmarc: { p: none }\n')" \
		"reloaded: 126 zones (42 domains: 1 compiled, 41 unchanged$files)" "$tag: a new file, one domain compiled"
	is "$(txt _dmarc.d40.example)" "v=DMARC1; p=none" "$tag: the new domain is served"

	like=$(change "$TMP/domains.d/f1.yaml" 's/^  d12.example:/  d12.example: [/')
	case $like in "reload failed"*) ok 0 "$tag: a broken file: the reload fails" ;;
		*) ok 1 "$tag: a broken file: the reload fails (got: $like)" ;; esac
	is "$(txt _dmarc.d12.example)" "v=DMARC1; p=reject; rua=mailto:dmarc@d12.example" "$tag: the last good answers stay"
	files="; 4 included files unchanged"	# f0 f2 f3 f4, as the last good load read them
	is "$(change "$TMP/domains.d/f1.yaml" 's/^  d12.example: \[/  d12.example:/; s/192.0.2.13\]/192.0.2.113]/')" \
		"reloaded: 126 zones (42 domains: 1 compiled, 41 unchanged$files)" "$tag: mended with another change: compared with the last good set"
	is "$(txt _spf.d13.example)" "v=spf1 ip4:192.0.2.113 -all" "$tag: and served"

	files="; 5 included files unchanged"	# the top file changed: every included one is as it was
	is "$(change "$TMP/policy.yaml" 's/^  ttl: 3600/  ttl: 1800/')" \
		"reloaded: 126 zones (42 domains: 42 compiled, 0 unchanged$files)" "$tag: server.ttl changed: every domain compiled"
	is "$(mn_dig TXT _dmarc.d3.example | awk '$1 == "_dmarc.d3.example." && $4 == "TXT" { print $2; exit }')" 1800 "$tag: served with the new TTL"

	mn_stop; is "$?" 0 "$tag: SIGTERM: exit 0"
	! grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error|not closed cleanly' "$MN_LOG"
	ok $? "$tag: no sanitizer report"
}

# An include pattern added by a reload is watched from then on: a new file matching
# it is loaded by the watcher's next reload (the plan takes the patterns from the
# policy the reload loaded, not only the files it found); after a failed reload, from
# the policy file as it is (policy_includes_read).
added_pattern() {
	local tag="added include pattern" like
	rm -rf "$TMP/domains.d" "$TMP/more.d" "$TMP/late.d" "$TMP/state"; : > "$TMP/mailnsd.log"
	mkdir -p "$TMP/more.d"
	cat > "$TMP/t.tmpl" <<EOF
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
domains:
  example.com:
    dmarc: { p: reject }
EOF
	printf 'domains:\n  m1.example:\n    dmarc: { p: none }\n' > "$TMP/more.d/m1.yaml"
	mn_start "$TMP/t.tmpl" || { ok 1 "$tag: mailnsd starts"; return; }
	is "$(txt _dmarc.m1.example)" "" "$tag: not included yet, not served"
	quiet
	is "$(change "$TMP/policy.yaml" 's/^domains:/include: ["more.d\/*.yaml"]\ndomains:/')" \
		"reloaded: 6 zones (2 domains: 1 compiled, 1 unchanged; 0 included files unchanged)" "$tag: the policy adds the pattern"
	is "$(txt _dmarc.m1.example)" "v=DMARC1; p=none" "$tag: the matching file is served"
	quiet
	is "$(create "$TMP/more.d/m2.yaml" 'domains:\n  m2.example:\n    dmarc: { p: quarantine }\n')" \
		"reloaded: 9 zones (3 domains: 1 compiled, 2 unchanged; 1 included files unchanged)" "$tag: a new file matching it reloads by itself"
	is "$(txt _dmarc.m2.example)" "v=DMARC1; p=quarantine" "$tag: and is served"
	# a pattern added by a reload that fails (its file is broken) is watched all the same
	mkdir -p "$TMP/late.d"
	printf 'domains:\n  l1.example: [\n' > "$TMP/late.d/l1.yaml"
	quiet
	like=$(change "$TMP/policy.yaml" 's/^include: \["more.d\/\*.yaml"\]/include: ["more.d\/*.yaml", "late.d\/*.yaml"]/')
	case $like in "reload failed"*) ok 0 "$tag: a second pattern, its file broken: the reload fails" ;;
		*) ok 1 "$tag: a second pattern, its file broken: the reload fails (got: $like)" ;; esac
	quiet
	is "$(create "$TMP/late.d/l1.yaml" 'domains:\n  l1.example:\n    dmarc: { p: reject }\n')" \
		"reloaded: 12 zones (4 domains: 1 compiled, 3 unchanged; 2 included files unchanged)" \
		"$tag: its file mended: the watcher reloads"
	is "$(txt _dmarc.l1.example)" "v=DMARC1; p=reject" "$tag: and serves it"
	mn_stop; is "$?" 0 "$tag: SIGTERM: exit 0"
}

run false
run true
added_pattern
done_testing
