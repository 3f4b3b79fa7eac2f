#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mtasts_withdraw.sh -- RFC 8461 §8.3: mta_sts removed from a domain keeps
# _mta-sts.D served under a new id, with a policy file of mode none and the old
# max_age, for that max_age from the removal (recorded in
# state_dir/mta-sts/.withdrawn/D, so a restart carries on), then both go;
# mta_sts put back ends the withdrawal.  The time is MAILNS_NOW (the reload
# at T0, restarts at T0 + 1 day and T0 + max_age); kdig against mailnsd.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v kdig >/dev/null || skip_all "kdig not installed"
command -v sha256sum >/dev/null || skip_all "sha256sum not installed"
mn_tmpdir

cat >"$TMP/t.tmpl" <<'YAML'
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
domains:
  example.com:
    dmarc: { p: reject }
    mta_sts: { mode: enforce, mx: [mx1.example.com], max_age: 2d }
  example.org:
    dmarc: { p: reject }
    mta_sts: { mode: testing, mx: [mx.example.org], max_age: 1d }
YAML
CRLF=$'\r\n'
id() { printf '%s' "$1" | sha256sum | cut -c1-32; }
fid() { sha256sum <"$1" 2>/dev/null | cut -c1-32; }
P1="version: STSv1${CRLF}mode: enforce${CRLF}mx: mx1.example.com${CRLF}max_age: 172800${CRLF}"
PN="version: STSv1${CRLF}mode: none${CRLF}max_age: 172800${CRLF}"
ID1=$(id "$P1")
IDN=$(id "$PN")
T0=2000000000
F="$TMP/state/mta-sts/example.com/.well-known/mta-sts.txt"
W="$TMP/state/mta-sts/.withdrawn/example.com"
txt() { mn_dig +short "$@" TXT | tr -d '"'; }
status() { mn_dig "$1" TXT | grep -o 'status: [A-Z]*'; }
# restart_at SECONDS: mailnsd again, with the policy as it is, at that time
restart_at() {
	mn_stop || return 1
	sed -e "s|127.0.0.1:$MN_PORT|127.0.0.1:@PORT@|" "$TMP/policy.yaml" >"$TMP/again.tmpl"
	MAILNS_NOW=@$1 mn_start "$TMP/again.tmpl"
}

export MAILNS_NOW=@$T0
mn_start "$TMP/t.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd starts at T0"
is "$(txt _mta-sts.example.com)" "v=STSv1; id=$ID1" "example.com: the id of its policy"

# the removal: mode none under a new id, the file replaced, the record written
sed -i '/mx1.example.com/d' "$TMP/policy.yaml"
kill -HUP "$MN_PID"
for i in $(seq 1 100); do [ "$(txt _mta-sts.example.com)" = "v=STSv1; id=$IDN" ] && break; sleep 0.1; done
is "$(txt _mta-sts.example.com)" "v=STSv1; id=$IDN" "mta_sts removed: _mta-sts.example.com announces the mode none policy's id"
ok "$([ "$IDN" != "$ID1" ]; echo $?)" "(a new id)"
is "$(fid "$F")" "$IDN" "the file holds mode none with the old max_age (172800)"
is "$(cat "$W" 2>&1)" "since $T0
max_age 172800" "the withdrawal is recorded: its start and the old max_age"
is "$(stat -c %a "$W")" 644 "the record is 0644"
is "$(mn_dig +short _mta-sts.example.com SOA | awk '{print $1}')" "ns1.example.net." "the zone keeps its SOA"
is "$(txt _mta-sts.example.org)" "v=STSv1; id=$(id "version: STSv1${CRLF}mode: testing${CRLF}mx: mx.example.org${CRLF}max_age: 86400${CRLF}")" \
	"example.org (mta_sts kept) is untouched"
ok "$([ ! -e "$TMP/state/mta-sts/.withdrawn/example.org" ]; echo $?)" "and has no record"
# the CLI compiles the same zone (and mailns check writes nothing)
"$MAILNS" zone -c "$TMP/policy.yaml" _mta-sts.example.com 2>&1 | grep -q "v=STSv1; id=$IDN"
ok $? "mailns zone prints the same mode none id"

# a restart a day later carries on: same id, the record unchanged
restart_at $((T0 + 86400)) || { ok 1 "mailnsd restarts at T0 + 1 day"; done_testing; exit 1; }
is "$(txt _mta-sts.example.com)" "v=STSv1; id=$IDN" "restarted at T0 + 1 day: still the mode none id"
is "$(cat "$W" 2>&1 | head -n 1)" "since $T0" "the record keeps the removal time"
is "$(fid "$F")" "$IDN" "and the file stays"

# one second before the end: still there; at T0 + max_age: the zone, the file and the record go
restart_at $((T0 + 172799)) || { ok 1 "mailnsd restarts"; done_testing; exit 1; }
is "$(txt _mta-sts.example.com)" "v=STSv1; id=$IDN" "at T0 + max_age - 1 s: still published"
restart_at $((T0 + 172800)) || { ok 1 "mailnsd restarts at T0 + max_age"; done_testing; exit 1; }
is "$(status _mta-sts.example.com)" "status: REFUSED" "at T0 + max_age: no _mta-sts.example.com zone"
ok "$([ ! -e "$F" ] && [ ! -e "$TMP/state/mta-sts/example.com" ]; echo $?)" "the file and its directories are gone"
ok "$([ ! -e "$W" ]; echo $?)" "and so is the record"
ok "$([ -e "$TMP/state/mta-sts/example.org/.well-known/mta-sts.txt" ]; echo $?)" "example.org's file stays"
restart_at $((T0 + 172801)) || { ok 1 "mailnsd restarts"; done_testing; exit 1; }
is "$(status _mta-sts.example.com)" "status: REFUSED" "and nothing comes back on a later start"

# a withdrawal ended by putting mta_sts back: the new policy, the record dropped
sed -i '/mx.example.org/d' "$TMP/policy.yaml"
kill -HUP "$MN_PID"
WO="$TMP/state/mta-sts/.withdrawn/example.org"
for i in $(seq 1 100); do [ -e "$WO" ] && break; sleep 0.1; done
ok "$([ -e "$WO" ]; echo $?)" "example.org's mta_sts removed: recorded"
sed -i 's|^  example.org:$|  example.org:\n    mta_sts: { mode: enforce, mx: [mx.example.org], max_age: 3d }|' "$TMP/policy.yaml"
kill -HUP "$MN_PID"
P3="version: STSv1${CRLF}mode: enforce${CRLF}mx: mx.example.org${CRLF}max_age: 259200${CRLF}"
for i in $(seq 1 100); do [ "$(txt _mta-sts.example.org)" = "v=STSv1; id=$(id "$P3")" ] && break; sleep 0.1; done
is "$(txt _mta-sts.example.org)" "v=STSv1; id=$(id "$P3")" "mta_sts back: its policy's id"
is "$(fid "$TMP/state/mta-sts/example.org/.well-known/mta-sts.txt")" "$(id "$P3")" "and its file"
ok "$([ ! -e "$WO" ]; echo $?)" "the record is dropped"

mn_stop; ok $? "mailnsd stops cleanly"
done_testing
