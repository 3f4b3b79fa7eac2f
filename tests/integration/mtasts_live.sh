#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# mtasts_live.sh -- MTA-STS end to end with real parts, in a private network and
# mount namespace (loopback only; /etc/resolv.conf bound to our resolver there):
# NSD serves the parent example.com (MX records, the delegations of _mta-sts,
# _smtp._tls and _bimi, mta-sts.example.com A 127.0.0.1), unbound on 127.0.0.1:53
# resolves through stub zones to NSD and mailnsd, nginx on 127.0.0.1:443 runs
# README's server block with a certificate from a test CA made here, and Debian's
# postfix-mta-sts-resolver (mta-sts-query, RFC 8461 port 443 hard-wired) fetches
# and accepts the policy; a policy edit changes the file, then the id, and the
# client sees the new policy; `mailns check --dns` finds MX hosts outside the
# patterns, a stale or unreachable web copy, an untrusted certificate and a missing
# delegation; mta_sts removed, the client gets mode none (RFC 8461 §8.3).
# Skipped when a tool or the namespace is missing.
. "${top_srcdir:?}/tests/tap/tap.sh"
for t in nsd unbound nginx openssl mta-sts-query kdig ip mount; do
	command -v "$t" >/dev/null || skip_all "$t is not installed"
done
if [ -z "${MN_IN_NETNS:-}" ]; then
	unshare -n -m true 2>/dev/null || skip_all "unshare -n -m is not permitted"
	MN_IN_NETNS=1 exec timeout 300 unshare -n -m bash "$0" "$@"
fi
ip link set lo up || { echo "1..0 # SKIP cannot bring lo up in the namespace"; exit 0; }
mn_tmpdir
NSD_PID=""
UB_PID=""
NG_PID=""
stop_all() {
	mn_stop_pids $NG_PID $UB_PID $NSD_PID
	NG_PID=""
	UB_PID=""
	NSD_PID=""
	mn_cleanup
}
trap stop_all EXIT
mn_port_free 53 && mn_port_free 443 || skip_all "ports 53 and 443 are taken in the namespace"

cat >"$TMP/t.tmpl" <<'YAML'
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  mta_sts_dir: @TMP@/www
  ttl: 1
  negative_ttl: 1
domains:
  example.com:
    dmarc: { p: reject }
    mta_sts: { mode: enforce, mx: [mx1.example.com, "*.mail.example.net"], max_age: 7d }
    tls_rpt: { rua: ["mailto:tlsrpt@example.com"] }
    bimi: { logo: "https://example.com/brand.svg" }
YAML
mn_start "$TMP/t.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves the policy on port $MN_PORT"
NSD_PORT=$(mn_free_port "$MN_PORT" 53 443)

# --- the parents, in NSD -----------------------------------------------------------
mkdir -p "$TMP/nsd"
soa() { printf '$ORIGIN %s.\n$TTL 1\n@ SOA ns1.example.net. hostmaster.example.net. 1 3600 900 1209600 1\n@ NS ns1.example.net.\n' "$1"; }
{
	soa example.com
	echo '@ MX 10 mx1.example.com.'
	echo '@ MX 20 mx2.mail.example.net.'
	for l in _domainkey _dmarc _spf _mta-sts _smtp._tls _bimi; do printf '%s NS ns1.example.net.\n%s NS ns2.example.net.\n' "$l" "$l"; done
	echo 'mta-sts A 127.0.0.1'
	echo 'mx1 A 127.0.0.1'
} > "$TMP/nsd/example.com.zone"
{ soa example.net; echo 'ns1 A 127.0.0.1'; echo 'ns2 A 127.0.0.1'; echo 'mx2.mail A 127.0.0.1'; } > "$TMP/nsd/example.net.zone"
{
	mn_nsd_server "$TMP/nsd" "$NSD_PORT"
	for z in example.com example.net; do printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"; done
} > "$TMP/nsd.conf"
mn_nsd_start "$TMP/nsd" "$TMP/nsd.conf"
mn_peer_up "$NSD_PORT" example.com "$NSD_PID" "nsd serves the parent zones on port $NSD_PORT" \
	"$TMP/nsd/nsd.out" "$TMP/nsd/nsd.log"

# --- the resolver: unbound on 127.0.0.1:53, the namespace's /etc/resolv.conf -------
# ub_start [ZONE...]: unbound with stub zones to mailnsd for our zones of example.com
# but ZONE... (those it must find through NSD's delegations)
ub_start() {
	local z
	mkdir -p "$TMP/ub"
	{
		mn_unbound_server "$TMP/ub" 53
		printf '  minimal-responses: yes\n  cache-max-ttl: 0\n  cache-max-negative-ttl: 0\n'
		mn_stub . "$NSD_PORT"
		mn_stub example.com "$NSD_PORT"
		mn_stub example.net "$NSD_PORT"
		for z in _domainkey _dmarc _spf _mta-sts _smtp._tls _bimi; do
			case " $* " in *" $z "*) ;; *) mn_stub "$z.example.com" "$MN_PORT" ;; esac
		done
	} > "$TMP/ub/unbound.conf"
	mn_unbound_start "$TMP/ub" "$TMP/ub/unbound.conf"
}
ub_start
mn_peer_up 53 example.com "$UB_PID" "unbound resolves on 127.0.0.1:53" "$TMP/ub/unbound.out" "$TMP/ub/unbound.log"
echo "nameserver 127.0.0.1" > "$TMP/resolv.conf"
mount --bind "$TMP/resolv.conf" /etc/resolv.conf; ok $? "the namespace's /etc/resolv.conf names it"
rs() { kdig @127.0.0.1 +time=2 +retry=0 +short "$@" | tr -d '"'; }
CRLF=$'\r\n'
P1="version: STSv1${CRLF}mode: enforce${CRLF}mx: mx1.example.com${CRLF}mx: *.mail.example.net${CRLF}max_age: 604800${CRLF}"
ID1=$(printf '%s' "$P1" | sha256sum | cut -c1-32)
is "$(rs _mta-sts.example.com TXT)" "v=STSv1; id=$ID1" "the resolver finds mailnsd's _mta-sts.example.com"
is "$(rs _smtp._tls.example.com TXT)" "v=TLSRPTv1; rua=mailto:tlsrpt@example.com" "and _smtp._tls.example.com"
is "$(rs default._bimi.example.com TXT)" "v=BIMI1; l=https://example.com/brand.svg" "and default._bimi.example.com"
is "$(rs mta-sts.example.com A)" "127.0.0.1" "and NSD's mta-sts.example.com"

# --- a test CA and a certificate for mta-sts.example.com -----------------------------
mkdir -p "$TMP/ca"
cat >"$TMP/ca/ext.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:mta-sts.example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
(
	cd "$TMP/ca" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
		-days 2 -subj "/CN=mailns test CA" -config ext.cnf -extensions ca &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mta-sts.example.com.key \
		-out leaf.csr -subj "/CN=mta-sts.example.com" &&
	openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile ext.cnf -extensions leaf -out mta-sts.example.com.pem
) >"$TMP/ca/openssl.log" 2>&1
ok $? "a test CA and a certificate for mta-sts.example.com" || diag "$(tail -5 "$TMP/ca/openssl.log")"

# --- nginx with README's server block (only the listen address and paths adapted) -----
block=$(sed -n '/^```nginx$/,/^```$/p' "$top_srcdir/README.md" | sed '1d;$d')
[ -n "$block" ]; ok $? "README documents an nginx server block"
block=$(printf '%s\n' "$block" | sed -e "s|listen 443 ssl;|listen 127.0.0.1:443 ssl;|" \
	-e "s|/etc/ssl/mta-sts.example.com|$TMP/ca/mta-sts.example.com|g" \
	-e "s|/var/www/mta-sts|$TMP/www|")
chmod 0711 "$TMP"	# as /var/www: nginx's workers (nobody) pass through to server.mta_sts_dir
mkdir -p "$TMP/nginx"
{
	printf 'worker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log;\n' "$TMP/nginx" "$TMP/nginx"
	printf 'events { worker_connections 64; }\nhttp {\n'
	printf '  access_log %s/access.log;\n' "$TMP/nginx"
	for t in client_body proxy fastcgi uwsgi scgi; do printf '  %s_temp_path %s/%s;\n' "$t" "$TMP/nginx" "$t"; done
	printf '%s\n}\n' "$block"
} > "$TMP/nginx/nginx.conf"
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' >"$TMP/nginx/out" 2>&1 &
NG_PID=$!
for i in $(seq 1 100); do ! mn_port_free 443 && break; kill -0 $NG_PID 2>/dev/null || break; sleep 0.1; done
! mn_port_free 443; ok $? "nginx listens on 127.0.0.1:443" || diag "$(cat "$TMP/nginx/out" "$TMP/nginx/error.log" 2>/dev/null | tail -20)"

# --- the MTA-STS client -----------------------------------------------------------
# query [KNOWN_ID]: mta-sts-query's result, trusting the test CA only (SSL_CERT_FILE)
query() { SSL_CERT_FILE="$TMP/ca/ca.pem" timeout 60 mta-sts-query -v error example.com "$@" 2>&1; }
want1="(<STSFetchResult.VALID: 1>, ('$ID1', {'mx': ['mx1.example.com', '*.mail.example.net'], 'version': 'STSv1', 'mode': 'enforce', 'max_age': 604800}))"
is "$(query)" "$want1" "mta-sts-query fetches and accepts the policy (id, mode, mx, max_age)" ||
	diag "$(query -v warn; tail -5 "$TMP/nginx/error.log")"
is "$(query "$ID1")" "(<STSFetchResult.NOT_CHANGED: 3>, None)" "with the id it knows: not changed"
is "$(SSL_CERT_FILE=/dev/null timeout 60 mta-sts-query -v error example.com 2>&1)" "(<STSFetchResult.FETCH_ERROR: 2>, None)" \
	"a client that does not trust the test CA refuses the server (the certificate is checked)"

# --- a policy edit: the file changes, then the id; the client sees the new policy --------
F="$TMP/www/example.com/.well-known/mta-sts.txt"
sed -i 's/mode: enforce, mx: \[mx1.example.com, /mode: testing, mx: [mx1.example.com, mx3.example.com, /; s/max_age: 7d/max_age: 2d/' "$TMP/policy.yaml"
P2="version: STSv1${CRLF}mode: testing${CRLF}mx: mx1.example.com${CRLF}mx: mx3.example.com${CRLF}mx: *.mail.example.net${CRLF}max_age: 172800${CRLF}"
ID2=$(printf '%s' "$P2" | sha256sum | cut -c1-32)
kill -HUP "$MN_PID"
for i in $(seq 1 100); do [ "$(rs _mta-sts.example.com TXT)" = "v=STSv1; id=$ID2" ] && break; sleep 0.1; done
is "$(rs _mta-sts.example.com TXT)" "v=STSv1; id=$ID2" "after the edit the resolver gets the new id"
is "$(sha256sum <"$F" | cut -c1-32)" "$ID2" "the file holds the new policy"
want2="(<STSFetchResult.VALID: 1>, ('$ID2', {'mx': ['mx1.example.com', 'mx3.example.com', '*.mail.example.net'], 'version': 'STSv1', 'mode': 'testing', 'max_age': 172800}))"
is "$(query "$ID1")" "$want2" "the client that knew the old id fetches the new policy (mode testing, mx3, 2 days)"
grep -q 'GET /.well-known/mta-sts.txt HTTP/1.1" 200' "$TMP/nginx/access.log"; ok $? "nginx served the file (200 in its log)"

# --- mailns check --dns: the MX hosts against the patterns, the file served over HTTPS ----
P="$TMP/policy.yaml"
# the watcher's reloads (woken by the edit above) settled: none rewrites the file under the web server below
mn_reloads_settled; ok $? "no reload pending"
OFF=$("$MAILNS" check -c "$P" 2>&1)
is "$?" 0 "the policy passes the offline checks"
check_dns() { OUT=$("$MAILNS" check -c "$P" --dns --resolver 127.0.0.1:53 "$@" 2>&1); RC=$?; }
check_dns --ca-file "$TMP/ca/ca.pem"
is "$OUT" "$OFF" "check --dns: MX hosts covered, the served file equal: nothing more printed"
is "$RC" 0 "and it exits 0"

# a stale web copy (the old file where the web server reads it): the difference named
cp "$F" "$TMP/file.good"
printf '%s' "$P1" > "$F"
check_dns --ca-file "$TMP/ca/ca.pem"
want="$P:14:35: error: the MTA-STS policy served at https://mta-sts.example.com/.well-known/mta-sts.txt differs from the local one (line 2: served 'mode: enforce', local 'mode: testing')"
is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns: a stale web copy is an error at mta_sts, naming the first line that differs"
is "$RC" 1 "and it exits 1"
# a file over 64 KiB: not read past the bound
head -c 70000 /dev/zero | tr '\0' 'x' > "$F"
check_dns --ca-file "$TMP/ca/ca.pem"
want="$P:14:35: error: cannot fetch https://mta-sts.example.com/.well-known/mta-sts.txt (larger than 65536 bytes)"
is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns: a served file over 64 KiB is refused"
# a redirect (nginx answers 301 for a directory): not followed
rm -f "$F"; mkdir "$F"
check_dns --ca-file "$TMP/ca/ca.pem"
want="$P:14:35: error: cannot fetch https://mta-sts.example.com/.well-known/mta-sts.txt (HTTP 301, a redirect (not followed: RFC 8461 3.3))"
is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns: a redirect is not followed"
rmdir "$F"
cp "$TMP/file.good" "$F"

# the system store does not trust the test CA
check_dns
want="$P:14:35: error: cannot fetch https://mta-sts.example.com/.well-known/mta-sts.txt (the certificate does not verify (unable to get local issuer certificate))"
is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns without --ca-file: the certificate is verified (system store)"

# an MX host outside the patterns (NSD reloads its zone on SIGHUP)
echo '@ MX 30 backup.example.org.' >> "$TMP/nsd/example.com.zone"
echo '@ MX 40 a.b.mail.example.net.' >> "$TMP/nsd/example.com.zone"
kill -HUP "$NSD_PID"
for i in $(seq 1 100); do [ "$(rs example.com MX | wc -l)" -eq 4 ] && break; sleep 0.1; done
is "$(rs example.com MX | wc -l)" 4 "NSD serves two more MX records"
check_dns --ca-file "$TMP/ca/ca.pem"
want="$P:14:35: error: the MX host backup.example.org of example.com matches no mta_sts mx pattern (senders enforcing MTA-STS will not deliver to it)
$P:14:35: error: the MX host a.b.mail.example.net of example.com matches no mta_sts mx pattern (senders enforcing MTA-STS will not deliver to it)"
lines_is() { is "$(printf '%s\n' "$1" | sort)" "$(printf '%s\n' "$2" | sort)" "$3"; }
lines_is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns: each MX outside the patterns is an error at mta_sts (*. is one label)"
is "$RC" 1 "and it exits 1"

# the web server down: the fetch fails, bounded
kill -TERM "$NG_PID"; wait "$NG_PID" 2>/dev/null; NG_PID=""
sed -i '/backup.example.org\|a.b.mail/d' "$TMP/nsd/example.com.zone"
kill -HUP "$NSD_PID"
for i in $(seq 1 100); do [ "$(rs example.com MX | wc -l)" -eq 2 ] && break; sleep 0.1; done
check_dns --ca-file "$TMP/ca/ca.pem"
want="$P:14:35: error: cannot fetch https://mta-sts.example.com/.well-known/mta-sts.txt (cannot connect to 127.0.0.1 port 443 (Connection refused))"
is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns: no web server is an error naming the address"

# _bimi.example.com not delegated by the parent (and unbound without its stub zone):
# named like the other zones
sed -i '/^_bimi NS/d' "$TMP/nsd/example.com.zone"
kill -HUP "$NSD_PID"
mn_stop_pids "$UB_PID"
for i in $(seq 1 50); do mn_port_free 53 && break; sleep 0.1; done
ub_start _bimi
mn_wait_answer 53 example.com $UB_PID; ok $? "unbound restarted without the _bimi stub zone"
for i in $(seq 1 100); do [ -z "$(rs _bimi.example.com NS)" ] && break; sleep 0.1; done
check_dns --ca-file "$TMP/ca/ca.pem"
want="$P:14:35: error: cannot fetch https://mta-sts.example.com/.well-known/mta-sts.txt (cannot connect to 127.0.0.1 port 443 (Connection refused))
$P:12:3: error: _bimi.example.com is not delegated to this server (NS: none; expected ns1.example.net, ns2.example.net)"
lines_is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns: the _bimi zone not delegated is an error at the domain"
is "$("$MAILNS" check -c "$P" --ca-file "$TMP/ca/ca.pem" 2>&1)" "mailns: --ca-file needs --dns" "--ca-file without --dns: named"
"$MAILNS" check -c "$P" --ca-file "$TMP/ca/ca.pem" >/dev/null 2>&1
is "$?" 2 "a usage error (exit 2)"

# --- RFC 8461 §8.3: mta_sts removed; the client sees mode none under a new id -----------
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' >>"$TMP/nginx/out" 2>&1 &
NG_PID=$!
for i in $(seq 1 100); do ! mn_port_free 443 && break; kill -0 $NG_PID 2>/dev/null || break; sleep 0.1; done
sed -i '/^    mta_sts: /d' "$P"
PN="version: STSv1${CRLF}mode: none${CRLF}max_age: 172800${CRLF}"
IDN=$(printf '%s' "$PN" | sha256sum | cut -c1-32)
kill -HUP "$MN_PID"
for i in $(seq 1 100); do [ "$(rs _mta-sts.example.com TXT)" = "v=STSv1; id=$IDN" ] && break; sleep 0.1; done
is "$(rs _mta-sts.example.com TXT)" "v=STSv1; id=$IDN" "mta_sts removed: the resolver gets the id of the mode none policy"
is "$(query "$ID2")" "(<STSFetchResult.VALID: 1>, ('$IDN', {'mx': [], 'version': 'STSv1', 'mode': 'none', 'max_age': 172800}))" \
	"the client that knew the last id fetches mode none with the old max_age"

mn_stop_pids $NG_PID $UB_PID $NSD_PID
NG_PID=""; UB_PID=""; NSD_PID=""
mn_stop; ok $? "mailnsd stops cleanly"
done_testing
