#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# keys_only.sh -- `mailns keys rotate --only dkim|dnssec`: the DKIM part alone writes
# nothing under state_dir/dnssec, the DNSSEC part alone nothing under state_dir/keys
# (so that each runs as the user owning its directory); no option: both; a bad value
# or --only dkim with --dnssec-roll is a usage error (exit 2).  No server, no network:
# the rollovers started ask no parent yet.
. "${top_srcdir:?}/tests/tap/tap.sh"
mn_tmpdir
S="$TMP/state"
P="$TMP/policy.yaml"
cat >"$P" <<EOT
version: 1
server:
  listen: ["127.0.0.1:53"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  ttl: 300
  state_dir: $S
domains:
  example.com:
    dnssec: { keys: ksk+zsk }
    dkim: { algorithm: ed25519 }
    dmarc: { p: reject }
EOT
Z=_dmarc.example.com
T0=$(date +%s)
"$MAILNS" zone -c "$P" -d "$TMP/zones" >"$TMP/zone.out" 2>&1
ok $? "mailns zone makes the DNSSEC keys" || diag "$(cat "$TMP/zone.out")"
[ -n "$(ls "$S/dnssec/$Z"/*.key 2>/dev/null)" ]; ok $? "$Z has keys"
# tree DIR: every file below DIR with its size and modification time ("" when missing)
tree() { [ -d "$1" ] && find "$1" -printf '%P %s %T@\n' | sort; }
rot() { "$MAILNS" keys rotate -c "$P" --quiet --now "@$T0" --resolver 127.0.0.1:9 "$@" >"$TMP/out" 2>&1; }

before=$(tree "$S/dnssec")
rot --only dkim
is "$?" 0 "--only dkim: exit 0"
[ -n "$(ls "$S/keys/example.com"/*.pem 2>/dev/null)" ]; ok $? "--only dkim: a DKIM key generated" || diag "$(cat "$TMP/out")"
is "$(tree "$S/dnssec")" "$before" "--only dkim: nothing written under dnssec/ (not even a lock)"
is "$(grep -c dnssec "$TMP/out")" 0 "--only dkim: no DNSSEC line"

before=$(tree "$S/keys")
nkeys=$(ls "$S/dnssec/$Z"/*.key | wc -l)
rot --only dnssec --dnssec-roll "$Z" --zsk
is "$?" 0 "--only dnssec --dnssec-roll $Z --zsk: exit 0"
is "$(ls "$S/dnssec/$Z"/*.key | wc -l)" $((nkeys + 1)) "--only dnssec: a new ZSK" || diag "$(cat "$TMP/out")"
is "$(tree "$S/keys")" "$before" "--only dnssec: nothing written under keys/ (not even its lock)"
mv "$S/keys" "$S/keys.away"
rot --only dnssec
is "$?" 0 "--only dnssec without keys/: exit 0"
[ ! -e "$S/keys" ]; ok $? "--only dnssec: keys/ not created" || diag "$(cat "$TMP/out")"
mv "$S/keys.away" "$S/keys"

rot --only dns
is "$?" 2 "--only dns: a usage error"
grep -q "bad --only 'dns'" "$TMP/out"; ok $? "which names the value" || diag "$(cat "$TMP/out")"
rot --only dkim --dnssec-roll all
is "$?" 2 "--only dkim --dnssec-roll: a usage error"
"$MAILNS" keys list -c "$P" --only dkim >/dev/null 2>&1
is "$?" 2 "keys list --only: a usage error"
"$MAILNS" keys --help | grep -q -- "--only dkim|dnssec"; ok $? "--help documents --only"

# no option: both parts
nkeys=$(ls "$S/dnssec/$Z"/*.key | wc -l)
before=$(tree "$S/keys")
rot --dnssec-roll "$Z" --ksk
is "$?" 3 "no --only: exit 3 (the DKIM part: its pending key is not served, no server runs)"
is "$(ls "$S/dnssec/$Z"/*.key | wc -l)" $((nkeys + 1)) "no --only: the DNSSEC part runs (a new KSK)"
[ -e "$S/keys/.lock" ] && [ -e "$S/dnssec/.lock" ]; ok $? "no --only: both parts take their lock"
done_testing
