#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reports_advise.sh -- real reports (three receivers' layouts) ingested into the store of a
# policy at p=none, then `mailns reports advise` (text and JSON), named domains, --days,
# and `mailns check --reports` warnings at each domain's dmarc.p position.
. "${top_srcdir:?}/tests/tap/tap.sh"
MAILNS="${top_builddir:?}/tools/mailns"
command -v python3 >/dev/null || skip_all "python3 needed"
mn_tmpdir

NOW=$(date -d 2026-12-06T12:00:00Z +%s)
export MAILNS_NOW="@$NOW"
P="$TMP/policy.yaml"
cat >"$P" <<EOF
version: 1
server:
  listen: ["127.0.0.1:5399"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: $TMP/state
domains:
  example.com:
    spf:
      mode: flatten
      ip4: [192.0.2.0/24]
    dmarc:
      p: none
      rua: ["mailto:dmarc@example.com"]
  example.org:
    spf:
      mode: flatten
      ip4: [192.0.2.0/24]
    dmarc:
      sp: none
      p: none
  example.net:
    spf: { mode: flatten, ip4: [192.0.2.0/24] }
    dmarc: { p: none }
EOF
"$MAILNS" check -c "$P" >/dev/null 2>&1
ok $? "the policy is valid"

# before anything is stored: advice on nothing, check --reports says so and exits 0
out=$("$MAILNS" reports advise -c "$P" 2>&1)
is "$?/$out" "0/no reports in the last 30 days" "advise with no store yet"

python3 "$top_srcdir/tests/integration/reports_advise_data.py" "$TMP/in" "$NOW" || exit 1
"$MAILNS" reports ingest -c "$P" "$TMP/in" >"$TMP/ingest.out" 2>&1
rc=$?
ok $rc "ingest the 126 reports (rc $rc)"
[ $rc -eq 0 ] || sed 's/^/# /' "$TMP/ingest.out" | head -20

# ---- text: one paragraph per domain, the reason and numbers -----------------------
"$MAILNS" reports advise -c "$P" >"$TMP/advise.txt" 2>"$TMP/advise.err"
is "$?" 0 "advise exits 0"
is "$(cat "$TMP/advise.err")" "" "advise prints nothing on stderr"
diag "$(cat "$TMP/advise.txt")"
para() { awk -v d="$1:" '$1 == d { on = 1 } on && /^$/ { exit } on' "$TMP/advise.txt"; }

com=$(para example.com)
is "$(echo "$com" | sed -n 1p)" "example.com: authorize (published p=none)" "example.com: authorize"
is "$(echo "$com" | sed -n 2p)" \
	"  198.51.100.7 sends 21.4% of the mail and 180 of its 180 messages fail DMARC: align it before any enforcement" \
	"example.com: the ESP named with its volume"
is "$(echo "$com" | sed -n 3p)" \
	"  align 198.51.100.7: DKIM: it signs as esp.example with selector s1: have it sign as example.com and publish its key as dkim.selectors.s1; SPF: it passes SPF as bounce.esp.example: add include:bounce.esp.example to spf.include and have it send with an envelope sender at example.com" \
	"example.com: the DKIM selector and SPF include that would align it"
is "$(echo "$com" | sed -n 4p)" \
	"  numbers: 840 messages on 20 of 30 days; DMARC pass 71.4% of all mail, 100.0% of legitimate mail (600 messages)" \
	"example.com: the numbers (3 receivers x 20 days x 14 messages)"
echo "$com" | grep -qx '  failing: 198.51.100.7 180 (unauthorized), 203.0.113.66 60 (unauthorized)'
ok $? "example.com: failing sources with their volume"
echo "$com" | grep -qx '  spoofing: 1 unauthorized source, 60 messages failing DMARC'
ok $? "example.com: spoofing flagged"

org=$(para example.org)
is "$(echo "$org" | sed -n 1,2p)" "example.org: quarantine (published p=none, sp=none)
  move to p=quarantine: 100.0% of legitimate mail passes DMARC (need 95.0%)" "example.org: quarantine"
net=$(para example.net)
is "$(echo "$net" | sed -n 1,2p)" "example.net: stay (published p=none)
  not enough data: 30 messages over 2 days, need 100 messages over 14 days" "example.net: not enough data"

# ---- JSON ------------------------------------------------------------------------------
"$MAILNS" reports advise -c "$P" --json >"$TMP/advise.json"
is "$?" 0 "advise --json exits 0"
got=$(python3 - "$TMP/advise.json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
for o in a:
    print(o["domain"], o["action"], o["messages"], o["dmarc_pass"], o["days_with_data"], o["window_days"],
          o["legitimate_rate"], o["thresholds"]["min_messages"], o["thresholds"]["quarantine_pass"],
          (o["authorize"] or {}).get("source"), (o["authorize"] or {}).get("dkim_selector"),
          (o["authorize"] or {}).get("spf_domain"), o["spoofing_sources"],
          [(f["source"], f["failing"], f["class"]) for f in o["failing_sources"]])
print(sorted(a[0].keys()) == sorted(["domain", "action", "reason", "published_p", "published_sp",
      "window_days", "days_with_data", "messages", "dmarc_pass", "pass_rate", "legitimate_messages",
      "legitimate_pass", "legitimate_rate", "thresholds", "failing_sources", "spoofing_sources",
      "spoofing_messages", "authorize"]))
EOF
)
is "$got" "example.com authorize 840 600 20 30 100.0 100 95.0 198.51.100.7 s1 bounce.esp.example 1 [('198.51.100.7', 180, 'unauthorized'), ('203.0.113.66', 60, 'unauthorized')]
example.net stay 30 30 2 30 100.0 100 95.0 None None None 0 []
example.org quarantine 300 300 20 30 100.0 100 95.0 None None None 0 []
True" "JSON: action, numbers, thresholds, the source to authorize, failing sources"
reason=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[1]["reason"])' "$TMP/advise.json")
is "$reason" "not enough data: 30 messages over 2 days, need 100 messages over 14 days" "JSON: the reason"

# ---- named domains, --days -------------------------------------------------------------
out=$("$MAILNS" reports advise -c "$P" EXAMPLE.ORG. example.info | grep -v '^ ')
is "$out" "example.org: quarantine (published p=none, sp=none)

example.info: stay (not in the policy)" "named domains, in order; one without reports or policy"
out=$("$MAILNS" reports advise -c "$P" example.info | sed -n 2p)
is "$out" "  example.info is not in the policy: nothing to change" "a domain not in the policy: stay"
out=$("$MAILNS" reports advise -c "$P" --json example.info |
	python3 -c 'import json,sys; o = json.load(sys.stdin)[0]; print(o["action"], o["published_p"], o["messages"])')
is "$out" "stay None 0" "JSON: not in the policy: published_p null"
out=$("$MAILNS" reports advise -c "$P" --days 3 example.com | sed -n 2p)
is "$out" "  not enough data: 84 messages over 2 days, need 100 messages over 14 days" \
	"--days 3: the window holds 2 days of reports"
"$MAILNS" reports advise -c "$P" --days 0 >/dev/null 2>&1
is "$?" 2 "--days 0 is a usage error"
"$MAILNS" reports advise -c "$P" 'bad name!' >/dev/null 2>&1
is "$?" 2 "a bad domain name is a usage error"

# ---- check --reports: warnings at dmarc.p, exit status unchanged ------------------------
line_of() { grep -n "$1" "$P" | cut -d: -f1; }
pcom=$(awk '/^  example.com:/{d=1} d && /p: none/{print NR; exit}' "$P")
porg=$(awk '/^  example.org:/{d=1} d && /^      p: none/{print NR; exit}' "$P")
pnet=$(line_of 'dmarc: { p: none }')
"$MAILNS" check -c "$P" --reports 2>"$TMP/check.err"
is "$?" 0 "check --reports exits 0 (advice is only warnings)"
diag "$(cat "$TMP/check.err")"
is "$(cat "$TMP/check.err")" "$P:$pcom:10: warning: reports for example.com (last 30 days): authorize: 198.51.100.7 sends 21.4% of the mail and 180 of its 180 messages fail DMARC: align it before any enforcement
$P:$pcom:10: warning: reports for example.com: align 198.51.100.7: DKIM: it signs as esp.example with selector s1: have it sign as example.com and publish its key as dkim.selectors.s1; SPF: it passes SPF as bounce.esp.example: add include:bounce.esp.example to spf.include and have it send with an envelope sender at example.com
$P:$porg:10: warning: reports for example.org (last 30 days): quarantine: move to p=quarantine: 100.0% of legitimate mail passes DMARC (need 95.0%)
$P:$pnet:17: warning: reports for example.net (last 30 days): stay: not enough data: 30 messages over 2 days, need 100 messages over 14 days" \
	"check --reports: each domain's advice at its dmarc.p position"
"$MAILNS" check -c "$P" >/dev/null 2>"$TMP/plain.err"
is "$(cat "$TMP/plain.err")" "" "check without --reports prints none of it"

# ---- R-READ's fixtures: the variants receivers really send, one day of them -------------
# (Google's zip in a message, Microsoft's namespaced XML, Yahoo's gzip, quoted-printable
# and octet-stream messages, upper-case results, RFC 9990's namespace, lenient repairs)
F="$TMP/fixtures.yaml"
sed "s|$TMP/state|$TMP/state2|" "$P" >"$F"
export MAILNS_NOW=2025-12-06T12:00:00Z
D="$top_srcdir/tests/data/reports"
"$MAILNS" reports ingest -c "$F" "$D/google.eml" "$D/microsoft.xml" "$D/yahoo.xml.gz" "$D/inline-qp.eml" \
	"$D/octet.eml" "$D/upper.xml" "$D/ns20.xml" "$D/minimal.xml" "$D/empty-org.xml" "$D/lenient-text.xml" \
	"$D/lenient-bytes.xml" "$D/old-draft.xml" >"$TMP/ingest2.out" 2>&1
ok $? "ingest the receivers' variants of tests/data/reports"
# what advise must count: the stored reports of example.com in the window (since 2025-11-07)
want=$("$MAILNS" reports list -c "$F" --json | python3 -c '
import json, sys
rs = [r for r in json.load(sys.stdin) if r["domain"] == "example.com" and r["begin"] >= "2025-11-07"]
days = {r["begin"][:10] for r in rs}
print(sum(r["messages"] for r in rs), sum(r["dmarc_pass"] for r in rs), len(days))')
set -- $want
diag "example.com in the window: $1 messages, $2 passing DMARC, $3 day(s)"
got=$("$MAILNS" reports advise -c "$F" --json example.com | python3 -c '
import json, sys
o = json.load(sys.stdin)[0]
print(o["action"], o["messages"], o["dmarc_pass"], o["days_with_data"], o["reason"])')
is "$got" "stay $1 $2 $3 not enough data: $1 messages over $3 day, need 100 messages over 14 days" \
	"advise over the real variants: the stored sums, and stay for want of days"
unset MAILNS_NOW

done_testing
