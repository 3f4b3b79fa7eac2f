#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# symlinks.sh -- state_dir without symlink traps: symbolic links planted where mailns
# writes (the journal's tmp name, journal/, zones/ and zones/serials, keys/.lock, a
# keys/DOMAIN directory, keys/ itself, opendkim/, spf/), each pointing at a victim
# file or directory outside state_dir, then the real writers run: mailnsd (start,
# SIGHUP reloads), `mailns keys rotate`, `mailns flatten`.  Every time the victim is
# unchanged, and a link is either replaced by a fresh file or refused with a message
# that says so.  (state_dir itself is the administrator's path and may be a link.)
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v kdig >/dev/null || skip_all "kdig is not installed"
mn_tmpdir
S="$TMP/state"
V="$TMP/victim"
mkdir -p "$S" "$V/dir"
printf 'victim\n' >"$V/file"
# the victim: every name, type and size below it, and the file's content
snapshot() { (cd "$V" && find . -printf '%p %y %s\n' | sort && cat file); }
BEFORE=$(snapshot)
victim_same() { is "$(snapshot)" "$BEFORE" "$1"; }
refused() { grep -c 'a symbolic link: refused' "$1"; }

cat >"$TMP/t.tmpl" <<'EOF'
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: @TMP@/state
  transfer: { allow: [127.0.0.1/32] }
  user: root
domains:
  example.com:
    spf: { mode: flatten, ip4: [192.0.2.0/24], all: fail }
    dmarc: { p: reject }
    dkim: { algorithm: ed25519 }
EOF

# ---- mailnsd: serials and the IXFR journal ---------------------------------------
# planted before the start: the journal's old fixed tmp name, and zones/serials
# pointing at a file that must not come to exist
mkdir -p "$S/journal" "$S/zones"
ln -s "$V/file" "$S/journal/_dmarc.example.com.jnl.tmp"
ln -s "$V/serials-target" "$S/zones/serials"
mn_start "$TMP/t.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd starts on port $MN_PORT"
P="$TMP/policy.yaml"
[ -f "$S/zones/serials" ] && [ ! -L "$S/zones/serials" ]
ok $? "zones/serials planted as a link: replaced by a regular file"
victim_same "the serials link's target was not created"

dmarc() { mn_dig +short _dmarc.example.com TXT; }
reload_to() { # reload_to P-VALUE: edit the policy, SIGHUP, wait (10 s) for the answer
	sed -i "s/dmarc: { p: [a-z]* }/dmarc: { p: $1 }/" "$P"
	kill -HUP "$MN_PID"
	local i
	for i in $(seq 1 100); do
		[ "$(dmarc)" = "\"v=DMARC1; p=$1\"" ] && return 0
		sleep 0.1
	done
	return 1
}
reload_to quarantine; ok $? "a reload serves p=quarantine"
[ -f "$S/journal/_dmarc.example.com.jnl" ] && [ ! -L "$S/journal/_dmarc.example.com.jnl" ]
ok $? "the journal was written, as a regular file"
[ -L "$S/journal/_dmarc.example.com.jnl.tmp" ]; ok $? "the planted .jnl.tmp link was left alone"
victim_same "the victim file behind journal/ZONE.jnl.tmp is unchanged"

# journal/ itself a link to the victim directory: no journal, a warning, still served
rm -rf "$S/journal"
ln -s "$V/dir" "$S/journal"
n0=$(refused "$MN_LOG")
reload_to none; ok $? "with journal/ a link, the reload still serves p=none"
grep -q 'cannot write the transfer journal (a symbolic link: refused)' "$MN_LOG"
ok $? "the journal is refused, and the log says why"
victim_same "nothing written in the directory journal/ pointed to"

# zones/ a link: the serials cannot be stored, so the reload fails and the old zones stay
rm -rf "$S/zones"
ln -s "$V/dir" "$S/zones"
kill -HUP "$MN_PID"	# no change: serials unchanged, nothing to store
sed -i "s/dmarc: { p: [a-z]* }/dmarc: { p: reject }/" "$P"
kill -HUP "$MN_PID"
for i in $(seq 1 100); do
	grep -q "cannot write $S/zones/serials (a symbolic link: refused)" "$MN_LOG" && break
	sleep 0.1
done
grep -q "cannot write $S/zones/serials (a symbolic link: refused)" "$MN_LOG"
ok $? "zones/ a link: the reload fails naming zones/serials and the refusal"
is "$(dmarc)" '"v=DMARC1; p=none"' "the old zones keep serving"
victim_same "nothing written in the directory zones/ pointed to"
mn_stop; is "$?" 0 "clean stop"
rm -f "$S/zones" && mkdir "$S/zones"

# ---- mailns keys rotate -----------------------------------------------------------
NOW=$(date -u -d 2030-01-01T00:00:00Z +%s)
rotate() { "$MAILNS" keys rotate -c "$P" --now "@$NOW" >"$TMP/rot.out" 2>&1; }
# refused WHAT MESSAGE-PATTERN: a rotation fails (not 0, not 3), printing the pattern,
# and the victim is unchanged
refused_run() {
	local rc
	rotate; rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 3 ]; ok $? "$1 a link: rotate fails (exit $rc)"
	grep -q "$2" "$TMP/rot.out"; ok $? "$1: the message says so" || diag "$(cat "$TMP/rot.out")"
	victim_same "$1: nothing written where the link points"
}
# keys/.lock a link to a file that does not exist yet
mkdir -p "$S/keys"
ln -s "$V/lock-target" "$S/keys/.lock"
refused_run "keys/.lock" "cannot lock $S/keys/.lock (a symbolic link: refused)"
rm -f "$S/keys/.lock"

# keys/example.com a link to the victim directory
ln -s "$V/dir" "$S/keys/example.com"
refused_run "keys/example.com" "example.com: cannot generate ed25519 key .*(a symbolic link: refused)"
rm -f "$S/keys/example.com"

# keys/ itself renamed away and replaced by a link (what the owner of state_dir could do)
mv "$S/keys" "$S/keys.moved"
ln -s "$V/dir" "$S/keys"
refused_run "keys/" "cannot lock $S/keys/.lock (a symbolic link: refused)"
rm -f "$S/keys" && mv "$S/keys.moved" "$S/keys"

# opendkim/ a link (the earlier runs made it): the key is made in keys/, the signer
# tables are refused
rm -rf "$S/opendkim"
ln -s "$V/dir" "$S/opendkim"
refused_run "opendkim/" "cannot write the signer tables in $S (a symbolic link: refused)"
ls "$S/keys/example.com/"*.pem >/dev/null 2>&1; ok $? "the key itself went to keys/example.com"
rm -f "$S/opendkim"

# ---- mailns flatten -----------------------------------------------------------------
# spf/ a link (the domain's networks are all literal: no DNS query is made)
ln -s "$V/dir" "$S/spf"
"$MAILNS" flatten -c "$P" --resolver "127.0.0.1:$(mn_free_port)" >"$TMP/flat.out" 2>&1; rc=$?
[ $rc -ne 0 ]; ok $? "spf/ a link: flatten fails (exit $rc)"
grep -q 'a symbolic link: refused' "$TMP/flat.out"; ok $? "and says so" || diag "$(cat "$TMP/flat.out")"
victim_same "no SPF cache in the victim directory"
rm -f "$S/spf"
"$MAILNS" flatten -c "$P" --resolver "127.0.0.1:$(mn_free_port)" >"$TMP/flat.out" 2>&1
ok $? "without the link, flatten writes the cache"
[ -f "$S/spf/example.com" ]; ok $? "spf/example.com written"

# ---- state_dir itself may be a link: it is the administrator's path ----------------
mv "$S" "$TMP/state.real"
ln -s "$TMP/state.real" "$S"
rotate; rc=$?
[ $rc -eq 0 ] || [ $rc -eq 3 ]; ok $? "state_dir a link (the administrator's choice): rotate works (exit $rc)"
[ -f "$TMP/state.real/opendkim/KeyTable" ]; ok $? "the signer tables written in its target"
victim_same "and the victim is still unchanged"
done_testing
