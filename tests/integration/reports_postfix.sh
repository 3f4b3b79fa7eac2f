#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reports_postfix.sh -- a real Postfix (its own config, queue and data directories,
# one smtpd on 127.0.0.1:PORT, nothing else listening) delivers report messages sent
# over SMTP to `mailns reports ingest` through a pipe transport; the reports end up
# stored.  Then the store is held locked: ingest exits 75, Postfix defers the message
# (postqueue -p shows it); the lock released and the queue flushed, it is stored:
# nothing lost.  Postfix is stopped at the end.  Skips when not root or no Postfix.
. "${top_srcdir:?}/tests/tap/tap.sh"
[ "$(id -u)" -eq 0 ] || skip_all "not root (Postfix needs root to start)"
command -v postfix >/dev/null || skip_all "postfix is not installed"
id -u postfix >/dev/null 2>&1 && getent group postdrop >/dev/null || skip_all "no postfix user or postdrop group"
id -u nobody >/dev/null 2>&1 || skip_all "no user nobody (the pipe transport's user)"
mn_tmpdir
chmod 755 "$TMP"
PF="$TMP/pf"
GEN="$top_srcdir/tests/integration/reports_gen.py"
MAILNS_ABS=$(cd "$(dirname "$MAILNS")" && pwd)/$(basename "$MAILNS")
LOCK_PID=""
stop_all() {
	[ -n "$LOCK_PID" ] && { kill -TERM "$LOCK_PID" 2>/dev/null; wait "$LOCK_PID" 2>/dev/null; }
	postfix -c "$PF/etc" stop >/dev/null 2>&1
	local i
	for i in $(seq 1 50); do
		[ -f "$PF/queue/pid/master.pid" ] || break
		kill -0 "$(tr -dc 0-9 < "$PF/queue/pid/master.pid")" 2>/dev/null || break
		sleep 0.1
	done
	mn_cleanup
}
trap stop_all EXIT

# The pipe runs as nobody: the binary's directories must be searchable by it.
if ! su -s /bin/sh nobody -c "test -x '$MAILNS_ABS'" 2>/dev/null; then
	skip_all "user nobody cannot run $MAILNS_ABS"
fi

PORT=$(mn_free_port) || { echo "Bail out! no free port"; exit 1; }
mkdir -p "$PF/etc" "$PF/queue" "$PF/data" "$TMP/state"
chown nobody "$TMP/state"
chown postfix "$PF/data"
cat > "$TMP/policy.yaml" <<YAML
version: 1
server:
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: $TMP/state
domains:
  example.com:
    spf: { mode: plain, ip4: [192.0.2.0/26] }
    dmarc: { p: none, rua: ["mailto:dmarc@reports.test"] }
YAML
chmod 644 "$TMP/policy.yaml"

# main.cf: nothing of the system's instance; loopback only; every recipient of
# reports.test goes to the mailns transport; nothing relayed anywhere.
cat > "$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
config_directory = $PF/etc
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.reports.test
mydomain = reports.test
myorigin = reports.test
mydestination = reports.test
mynetworks = 127.0.0.0/8
local_recipient_maps =
local_transport = mailns:
default_transport = error:no relaying in this test
relay_transport = error:no relaying in this test
alias_maps =
alias_database =
smtpd_recipient_restrictions = permit_mynetworks, reject
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 3600s
mailns_destination_recipient_limit = 1
biff = no
EOF
cat > "$PF/etc/master.cf" <<EOF
127.0.0.1:$PORT inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
mailns    unix - n n - - pipe
  flags=q user=nobody argv=$MAILNS_ABS reports ingest -q -c $TMP/policy.yaml
EOF
postfix -c "$PF/etc" check >"$TMP/check.log" 2>&1
if ! postfix -c "$PF/etc" start >"$TMP/start.log" 2>&1; then
	diag "$(cat "$TMP/check.log" "$TMP/start.log" "$PF/maillog" 2>&1)"
	skip_all "postfix would not start"
fi
ok 0 "private postfix started (smtpd on 127.0.0.1:$PORT)"
# wait until smtpd accepts connections
for i in $(seq 1 100); do
	ss -Hltn 2>/dev/null | awk '{print $4}' | grep -q "127.0.0.1:$PORT\$" && break
	sleep 0.1
done
MPID=$(tr -dc 0-9 < "$PF/queue/pid/master.pid" 2>/dev/null)
is "$(ss -Hltnp 2>/dev/null | grep "pid=${MPID:-none}," | awk '{print $4}' | sort -u | tr '\n' ' ')" \
	"127.0.0.1:$PORT " "this postfix listens only on 127.0.0.1:$PORT"

send() { # send FILE: one message over SMTP
	python3 - "$PORT" "$1" <<'PY'
import smtplib, sys
with open(sys.argv[2], "rb") as f:
    msg = f.read()
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20) as s:
    s.sendmail("noreply-dmarc@receiver.example", ["dmarc@reports.test"], msg)
PY
}
list() { "$MAILNS" reports list -c "$TMP/policy.yaml" 2>/dev/null; }
wait_list() { # wait_list N: at most 60 s until N reports are listed
	local i
	for i in $(seq 1 600); do
		[ "$(list | wc -l)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

B=1893456000
python3 "$GEN" aggregate "$TMP/m1.eml" --as eml --org google.com --id pf-1 --domain example.com --begin $B \
	--row 192.0.2.10,120,none,pass,pass,example.com/s1,example.com \
	--row 203.0.113.5,7,none,fail,fail
python3 "$GEN" aggregate "$TMP/m2.eml" --as eml --org yahoo.com --id pf-2 --domain example.com --begin $B \
	--row 192.0.2.10,30,none,pass,fail,example.com/s1
python3 "$GEN" tlsrpt "$TMP/m3.eml" --as eml --org microsoft.com --id pf-3 --domain example.com --begin $B \
	--ok 50 --failed 2
python3 "$GEN" aggregate "$TMP/m4.eml" --as eml --org outlook.com --id pf-4 --domain example.com --begin $B \
	--row 192.0.2.11,9,quarantine,fail,pass,,example.com

for m in m1 m2 m3; do
	check "SMTP accepts $m" -- send "$TMP/$m.eml"
done
check "three reports stored through the pipe" -- wait_list 3
is "$(list | cut -f3,4,5,7,8 | sort | tr '\t\n' ' |')" \
	"dmarc google.com pf-1 127 120|dmarc yahoo.com pf-2 30 30|tlsrpt microsoft.com pf-3 52 50|" \
	"list: kinds, orgs, ids, messages and passes"
is "$(stat -c '%U %a' "$TMP/state/reports/reports.db")" "nobody 640" "store created by the pipe user, mode 0640"

# The store locked: Postfix must defer (exit 75), not bounce.
python3 - "$TMP/state/reports/reports.db" "$TMP/locked" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
for _ in range(1200):          # held at most 120 s, released when the file is removed
    if not os.path.exists(sys.argv[2]):
        break
    time.sleep(0.1)
db.execute("ROLLBACK")
PY
LOCK_PID=$!
for i in $(seq 1 100); do [ -f "$TMP/locked" ] && break; sleep 0.1; done
check "store locked by another process" -- test -f "$TMP/locked"
check "SMTP accepts m4 while the store is locked" -- send "$TMP/m4.eml"
deferred=1
for i in $(seq 1 300); do
	if grep -q "status=deferred" "$PF/maillog" 2>/dev/null; then deferred=0; break; fi
	sleep 0.1
done
ok $deferred "postfix deferred the delivery (ingest exited 75)"
grep "status=deferred" "$PF/maillog" | tail -1 | sed 's/^/# /'
check "postqueue -p shows the deferred message" -- bash -c \
	"postqueue -c '$PF/etc' -p | grep -q 'dmarc@reports.test'"
check "no bounce" -- bash -c "! grep -q 'status=bounced' '$PF/maillog'"
is "$(list | wc -l)" "3" "nothing stored while locked"

rm -f "$TMP/locked"
wait "$LOCK_PID"
LOCK_PID=""
# A flush that comes while postfix still records the deferral (the message not yet in
# the deferred queue) does nothing, and the next retry is minutes away: flush again
# every 2 s until the report is stored (at most 60 s).
flushed() {
	local i
	for i in $(seq 1 30); do
		postqueue -c "$PF/etc" -f
		for _ in $(seq 1 20); do
			[ "$(list | wc -l)" -ge 4 ] && return 0
			sleep 0.1
		done
	done
	return 1
}
check "after the lock is released and the queue flushed, the report is stored" -- flushed
is "$(list | grep -c 'outlook.com	pf-4')" "1" "the deferred report is the one stored"
for i in $(seq 1 100); do
	postqueue -c "$PF/etc" -p 2>/dev/null | grep -q "dmarc@reports.test" || break
	sleep 0.1
done
check "the queue is empty" -- bash -c "! postqueue -c '$PF/etc' -p | grep -q 'dmarc@reports.test'"

# A message sent twice is stored once (duplicate: exit 0, no bounce).
check "SMTP accepts m1 again" -- send "$TMP/m1.eml"
for i in $(seq 1 300); do
	[ "$(grep -c 'status=sent' "$PF/maillog")" -ge 5 ] && break
	sleep 0.1
done
is "$(grep -c 'status=sent' "$PF/maillog")" "5" "five deliveries succeeded"
is "$(list | wc -l)" "4" "the duplicate stored nothing"
sum=$(MAILNS_NOW=2030-01-10T00:00:00Z "$MAILNS" reports summary -c "$TMP/policy.yaml" --json 2>/dev/null |
	python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d["messages"], d["dmarc_pass"], d["tls_successful"], d["tls_failed"], " ".join("%s:%d:%s" % (s["source"], s["messages"], s["spf_authorized"]) for s in d["sources"]))')
is "$sum" "166 159 50 2 192.0.2.10:150:True 192.0.2.11:9:True 203.0.113.5:7:False" \
	"summary: the sums of the four reports, spf_authorized from the policy"

postfix -c "$PF/etc" stop >/dev/null 2>&1
stopped=1
for i in $(seq 1 100); do
	if ! ss -Hltn 2>/dev/null | awk '{print $4}' | grep -q "127.0.0.1:$PORT\$"; then stopped=0; break; fi
	sleep 0.1
done
ok $stopped "postfix stopped"
done_testing
