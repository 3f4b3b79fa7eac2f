#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reports_ingest.sh -- `mailns reports ingest`, `list` and `summary` on real inputs: RFC 9990's
# and RFC 8460's own examples (numbers checked against the sums by hand), duplicates,
# invalid inputs (exit 1, the others stored), a Maildir (new/ -> cur/), an mbox, stdin,
# a file over the size cap, a locked store and an unwritable one (exit 75), --json.
. "${top_srcdir:?}/tests/tap/tap.sh"
mn_tmpdir
DATA="$top_srcdir/tests/data/reports"
GEN="$top_srcdir/tests/integration/reports_gen.py"
LOCK_PID=""
DNS_PID=""
stop_all() {
	local p
	for p in $LOCK_PID $DNS_PID; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	mn_cleanup
}
trap stop_all EXIT

cat > "$TMP/policy.yaml" <<YAML
version: 1
server:
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: $TMP/state
domains:
  example.com:
    spf: { mode: plain, ip4: [192.0.2.0/25] }
YAML
P="$TMP/policy.yaml"
R() { "$MAILNS" reports "$@"; }
ingest() { R ingest -c "$P" "$@" >"$TMP/out" 2>"$TMP/err"; echo $?; }

# RFC 9990's example (1979) and RFC 8460's (2016): the clock set in their time,
# so that retention keeps their roll-ups.
export MAILNS_NOW=1979-08-20T00:00:00Z
is "$(ingest "$DATA/rfc9990.xml")" 0 "RFC 9990 example: stored, exit 0"
is "$(R list -c "$P")" "1979-08-07T00:00:00Z	1979-08-07T23:59:59Z	dmarc	Sample Reporter	3v98abbp8ya9n3va8yr8oa3ya	example.com	123	123" \
	"list: RFC 9990 example (one record, 123 messages, DKIM aligned)"
is "$(ingest "$DATA/rfc9990.xml")" 0 "the same report again: exit 0"
check "  ... counted as a duplicate" -- grep -q "0 stored, 1 duplicate" "$TMP/err"
is "$(R list -c "$P" | wc -l)" 1 "  ... and stored once"
is "$(R summary -c "$P" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d), d[0]["domain"], d[0]["messages"], d[0]["dmarc_pass"], d[0]["dkim_aligned"], d[0]["spf_aligned"],
      [(s["source"], s["messages"], s["dmarc_pass"], s["dkim_aligned"], s["spf_aligned"], s["spf_authorized"],
        s["dispositions"]) for s in d[0]["sources"]])')" \
	"1 example.com 123 123 123 0 [('192.0.2.123', 123, 123, 123, 0, True, {'none': 123, 'quarantine': 0, 'reject': 0})]" \
	"summary --json: the RFC 9990 sums, spf_authorized from ip4 192.0.2.0/25"
# --resolve: the PTR name from a small authoritative responder on loopback.
/usr/bin/python3 -c 'import dns.message' 2>/dev/null || { echo "Bail out! python3-dnspython is not installed"; exit 1; }
DPORT=$(mn_free_port) || { echo "Bail out! no free port"; exit 1; }
/usr/bin/python3 - "$DPORT" <<'PY' &
import socket, sys, time
import dns.message, dns.rrset
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(0.5)
end = time.time() + 60                     # bounded: at most 60 s, 100 queries
for _ in range(100):
    if time.time() > end:
        break
    try:
        data, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    q = dns.message.from_wire(data)
    r = dns.message.make_response(q)
    if str(q.question[0].name) == "123.2.0.192.in-addr.arpa.":
        r.answer.append(dns.rrset.from_text(q.question[0].name, 300, "IN", "PTR", "mx1.Example.COM."))
    else:
        r.set_rcode(3)
    s.sendto(r.to_wire(), peer)
PY
DNS_PID=$!
sleep 0.3
is "$(R summary -c "$P" --json --resolve --resolver "127.0.0.1:$DPORT" | python3 -c '
import json, sys
print(json.load(sys.stdin)[0]["sources"][0].get("ptr"))')" "mx1.example.com" "summary --resolve: the source's PTR name"
check "  ... in the text too" -- bash -c "'$MAILNS' reports summary -c '$P' --resolver 127.0.0.1:$DPORT | grep -q ' mx1.example.com\$'"
kill "$DNS_PID" 2>/dev/null
wait "$DNS_PID" 2>/dev/null
DNS_PID=""
check "summary text names the source" -- bash -c "'$MAILNS' reports summary -c '$P' | grep -q '^  192.0.2.123 .* 123 .* yes '"

export MAILNS_NOW=2016-04-15T00:00:00Z
is "$(ingest "$DATA/rfc8460.json")" 0 "RFC 8460 example: stored"
is "$(R list -c "$P" --since 2016-01-01)" "2016-04-01T00:00:00Z	2016-04-01T23:59:59Z	tlsrpt	Company-X	5065427c-23d3-47ca-b6e0-946ea0e8c4be	company-y.example	5629	5326" \
	"list: RFC 8460 example (5326 successful + 303 failed sessions)"
for d in company-y.example example.com; do
	is "$(R list -c "$P" -j -d $d | python3 -c '
import json, sys
print(sorted({e["domain"] for e in json.load(sys.stdin)}))')" "$([ $d = example.com ] && echo '[]' || echo "['$d']")" \
		"list -j -d $d: the reports of $d only"
done
is "$(R summary -c "$P" --json --domain company-y.example | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
print(d["tls_successful"], d["tls_failed"], d["messages"], len(d["sources"]))')" "5326 303 0 0" \
	"summary: TLS sessions of the RFC 8460 example"
is "$(R list -c "$P" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d), sorted(d[0]), d[0]["kind"], d[0]["messages"], d[0]["dmarc_pass"])')" \
	"1 ['begin', 'dmarc_pass', 'domain', 'end', 'kind', 'messages', 'org', 'report_id'] tlsrpt 5629 5326" \
	"list --json: the fields of SPEC §7; the report stored in 1979 pruned (keep: 730d)"
unset MAILNS_NOW

# Invalid inputs: exit 1, each named with why; the valid one of the run stored.
python3 "$GEN" aggregate "$TMP/fresh.xml" --org gen.example --id fresh-1 --domain example.com \
	--begin 1893456000 --row 192.0.2.1,5,none,pass,pass,example.com/s1,example.com
is "$(ingest "$DATA/count-negative.xml" "$TMP/fresh.xml" "$DATA/xxe.xml" "$DATA/entity-bomb.xml" "$DATA/plain.eml")" 1 \
	"invalid inputs: exit 1"
check "  ... the negative count named with its line" -- grep -q "count-negative.xml: negative count at line 13" "$TMP/err"
check "  ... the entity bomb refused" -- grep -q "entity-bomb.xml: XML error" "$TMP/err"
check "  ... the message without a report named" -- grep -q "plain.eml: not a report" "$TMP/err"
is "$(R list -c "$P" | cut -f4,5 | sort | tr '\t\n' ' |')" \
	"gen.example fresh-1|xxe.example xxe-1|" \
	"  ... the valid ones of the run stored (XXE inert); the one stored in 2016 pruned"
check "  ... nothing of the XXE file's target in the store" -- bash -c "! grep -qa 'root:x:0' '$TMP/state/reports/reports.db'"
truncate -s 65M "$TMP/huge.xml"
is "$(ingest "$TMP/huge.xml")" 1 "a 65 MiB file: exit 1"
check "  ... too large, refused before reading" -- grep -q "huge.xml: too large" "$TMP/err"

# Maildir: new/ moves to cur/ once stored; cur/ is read too; an invalid message stays in new/.
mkdir -p "$TMP/md/cur" "$TMP/md/new" "$TMP/md/tmp"
cp "$DATA/google.eml" "$TMP/md/new/1700000000.1.host"
cp "$DATA/tlsrpt.eml" "$TMP/md/new/1700000000.2.host"
cp "$DATA/plain.eml" "$TMP/md/new/1700000000.3.host"
cp "$DATA/yahoo.eml" "$TMP/md/cur/1690000000.9.host:2,S"
is "$(ingest "$TMP/md")" 1 "Maildir with one message that is no report: exit 1"
is "$(ls "$TMP/md/new")" "1700000000.3.host" "  ... it stays in new/"
is "$(ls "$TMP/md/cur" | tr '\n' ' ')" "1690000000.9.host:2,S 1700000000.1.host:2, 1700000000.2.host:2, " \
	"  ... the stored ones moved to cur/ with :2,"
is "$(R list -c "$P" | cut -f4 | grep -c 'google.com\|Google Inc.\|Yahoo')" 3 "  ... three reports stored (cur/ read too)"
rm "$TMP/md/new/1700000000.3.host"
is "$(ingest "$TMP/md")" 0 "Maildir again: exit 0"
check "  ... all duplicates" -- grep -q "0 reports stored, 3 duplicates" "$TMP/err"

# mbox: two messages (mboxrd, a quoted From line in a body).
{
	echo "From MAILER-DAEMON Thu Jan  1 00:00:00 2030"
	python3 "$GEN" aggregate - --as eml --org mbox.example --id mbox-1 --begin 1893456000 \
		--row 192.0.2.2,4,none,pass,pass,example.com/s1,example.com
	echo ">From the body, quoted"
	echo
	echo "From MAILER-DAEMON Thu Jan  1 00:00:01 2030"
	python3 "$GEN" aggregate - --as eml --org mbox.example --id mbox-2 --begin 1893456000 \
		--row 192.0.2.200,6,reject,fail,fail
} > "$TMP/box.mbox"
is "$(ingest "$TMP/box.mbox")" 0 "mbox: exit 0"
is "$(R list -c "$P" | grep -c 'mbox.example')" 2 "  ... both messages stored"

# stdin: one message, as an MTA pipes it.
python3 "$GEN" aggregate - --as eml --org stdin.example --id stdin-1 --begin 1893456000 --rows 3 >"$TMP/stdin.eml"
is "$(R ingest -c "$P" < "$TMP/stdin.eml" >/dev/null 2>&1; echo $?)" 0 "stdin: exit 0"
is "$(R list -c "$P" | grep -c 'stdin.example')" 1 "  ... stored"
is "$(echo 'not a report' | R ingest -c "$P" >/dev/null 2>&1; echo $?)" 1 "stdin that is no report: exit 1"

# A locked store: exit 75 after the busy timeout, nothing stored; stored once released.
python3 - "$TMP/state/reports/reports.db" "$TMP/locked" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
for _ in range(1200):
    if not os.path.exists(sys.argv[2]):
        break
    time.sleep(0.1)
db.execute("ROLLBACK")
PY
LOCK_PID=$!
for i in $(seq 1 100); do [ -f "$TMP/locked" ] && break; sleep 0.1; done
python3 "$GEN" aggregate "$TMP/late.xml" --org late.example --id late-1 --begin 1893456000 --rows 2
is "$(timeout 120 "$MAILNS" reports ingest -c "$P" "$TMP/late.xml" 2>"$TMP/err" >/dev/null; echo $?)" 75 \
	"locked store: exit 75"
check "  ... says busy" -- grep -q "store busy" "$TMP/err"
rm -f "$TMP/locked"
wait "$LOCK_PID"
LOCK_PID=""
is "$(R list -c "$P" | grep -c 'late.example')" 0 "  ... nothing stored meanwhile"
is "$(ingest "$TMP/late.xml")" 0 "released: exit 0"
is "$(R list -c "$P" | grep -c 'late.example')" 1 "  ... stored"

# An unwritable store (state_dir under a regular file): exit 75.
sed "s|state_dir: .*|state_dir: $TMP/policy.yaml/state|" "$P" > "$TMP/bad.yaml"
is "$("$MAILNS" reports ingest -c "$TMP/bad.yaml" "$TMP/late.xml" >/dev/null 2>&1; echo $?)" 75 \
	"unwritable store: exit 75"
# A link planted where the store's directory belongs: refused (exit 75), nothing
# written through it.
mkdir -p "$TMP/linked/state" "$TMP/victim"
ln -s "$TMP/victim" "$TMP/linked/state/reports"
sed "s|state_dir: .*|state_dir: $TMP/linked/state|" "$P" > "$TMP/linked.yaml"
"$MAILNS" reports ingest -c "$TMP/linked.yaml" "$TMP/late.xml" >/dev/null 2>"$TMP/err"
is "$?" 75 "state_dir/reports a symbolic link: exit 75"
check "  ... says so" -- grep -q "symbolic link" "$TMP/err"
is "$(ls -A "$TMP/victim")" "" "  ... nothing written through it"
echo "version: 1" > "$TMP/broken.yaml"
is "$("$MAILNS" reports ingest -c "$TMP/broken.yaml" "$TMP/late.xml" >/dev/null 2>&1; echo $?)" 75 \
	"a policy that does not load: exit 75 (an MTA retries)"

# Usage errors: exit 2; --help: 0.
is "$(R list --days 3 >/dev/null 2>&1; echo $?)" 2 "list --days: exit 2"
is "$(R summary -c "$P" --days 0 >/dev/null 2>&1; echo $?)" 2 "summary --days 0: exit 2"
is "$(R nothing >/dev/null 2>&1; echo $?)" 2 "unknown subcommand: exit 2"
is "$(R summary -c "$P" --days 3661 2>&1 >/dev/null; echo $?)" "mailns: --days '3661': expected 1..3660
2" "summary --days 3661: said, exit 2"
is "$(R summary -c "$P" --days 3660 >/dev/null 2>&1; echo $?)" 0 "summary --days 3660: exit 0"
is "$(R summary -c "$P" --days 7x >/dev/null 2>&1; echo $?)" 2 "summary --days 7x: exit 2"
is "$(R summary -c "$P" --top 0 2>&1 >/dev/null; echo $?)" "mailns: --top '0': expected a positive number
2" "summary --top 0: said, exit 2"
is "$(R summary -c "$P" --top 1 >/dev/null 2>&1; echo $?)" 0 "summary --top 1: exit 0"
for sub in list summary; do
	is "$(R $sub -c "$P" -d 'a..b' 2>&1 >/dev/null; echo $?)" "mailns: --domain 'a..b' is not a domain name
2" "$sub -d with a bad name: said, exit 2"
	is "$(R $sub --bogus 2>&1 >/dev/null | grep -c "^usage: mailns reports $sub"; echo "${PIPESTATUS[0]}")" "1
2" "$sub --bogus: usage on stderr, exit 2"
	is "$(R $sub -h 2>/dev/null | grep -c "^usage: mailns reports $sub")" 1 "$sub -h: usage on stdout"
done
for sub in ingest list summary prune; do
	is "$(R $sub --help >/dev/null 2>&1; echo $?)" 0 "$sub --help: exit 0"
done
is "$(stat -c %a "$TMP/state/reports/reports.db")" 640 "reports.db is 0640"
done_testing
