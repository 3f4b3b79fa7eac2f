#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# crash.sh -- `mailns keys rotate` and `keys revoke` stopped at every disk
# write (MAILNS_FAULT_STEP=N ends the process with _exit(137) right after its
# Nth write, as SIGKILL would), for every kind of run a rotation has: first
# keys generated, first activation, a successor generated, activation +
# retirement, revocation, removal; and a compromise revocation.  After each
# stop: every key the signer tables name is published and not revoked, every
# published unrevoked key has its private file; then the next run completes
# (exit 0) and ends with the same phases, selectors and tables as a run that
# was never stopped, or as that run and one more (a key the stopped run
# generated may be confirmed by the next run already; a domain the stopped run
# had done is then one run ahead of the others, and one more run evens it).  A real mailnsd on loopback serves the state throughout
# (activation needs its DNS confirmation).
# DNSSEC: a ZSK and a KSK rollover, an algorithm rollover (CSK
# ECDSAP256SHA256 -> ED25519) with a shape change (csk -> ksk+zsk), and an
# algorithm rollover of a KSK and a ZSK with the shape change ksk+zsk -> csk,
# stopped at every write (below; the last pair at every third write in a
# sanitizer build, whose runs are several times slower).
# Needs a build configured with --enable-fault-injection (.ci/run builds so).
. "${top_srcdir:?}/tests/tap/tap.sh"
. "$top_srcdir/tests/integration/dnssec_lib.sh"
grep -qx '#define MN_FAULT_INJECTION 1' "${top_builddir:?}/config.h" ||
	skip_all "built without --enable-fault-injection (MAILNS_FAULT_STEP is ignored)"
command -v kdig >/dev/null || skip_all "kdig is not installed"
mn_tmpdir
MN_PROBE="_domainkey.rsa.example"
DOMS="dual.example ed.example rsa.example"
S="$TMP/state"
mkdir -p "$S"
mn_start "$top_srcdir/tests/integration/rotate.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves on port $MN_PORT"
P="$TMP/policy.yaml"

served() { mn_dig +short "$2._domainkey.$1" TXT 2>/dev/null | sed 's/" "//g; s/"//g'; }
expected() { grep -v '^#' "$S/keys/$1/published" 2>/dev/null | awk 'NF { s=$1; $1=""; $2=""; sub(/^  /, ""); print s " " $0 }'; }
wait_served() { # every domain's published records served (bounded: 10 s)
	local i d sel rec all
	for i in $(seq 1 100); do
		all=0
		for d in $DOMS; do
			while read -r sel rec; do
				[ -n "$sel" ] || continue
				[ "$(served "$d" "$sel")" = "$rec" ] || { all=1; break; }
			done < <(expected "$d")
			[ $all -eq 0 ] || break
		done
		[ $all -eq 0 ] && return 0
		sleep 0.1
	done
	return 1
}
# restore DIR: the state dir becomes a copy of DIR (the lock file stays)
restore() {
	find "$S" -type f ! -name .lock -delete
	cp -a "$1/." "$S/"
}
# invariants: prints what is wrong, returns 1 if anything is
invariants() {
	local bad=0 name d sel rest ph
	# every key the signer tables name is published and not revoked
	while read -r name rest; do
		[ -n "$name" ] || continue
		sel=${name%%._domainkey.*}
		d=${name#*._domainkey.}
		ph=$(awk -v s="$sel" '$1 == s { print $2 }' "$S/keys/$d/published" 2>/dev/null)
		case "$ph" in
		pending|active|retired) ;;
		*) echo "KeyTable names $name, published as '$ph'"; bad=1 ;;
		esac
	done < "$S/opendkim/KeyTable"
	# every published unrevoked key has its private file
	for d in $DOMS; do
		while read -r sel ph rest; do
			case "$sel" in ''|'#'*) continue ;; esac
			[ "$ph" = revoked ] && continue
			[ -s "$S/keys/$d/$sel.pem" ] || { echo "$d: $sel $ph without its private key"; bad=1; }
		done 2>/dev/null < "$S/keys/$d/published"
	done
	return $bad
}

NOW=$(date -u -d 2030-01-01T00:00:00Z +%s)
END=$((NOW + 24 * 86400))
declare -A TESTED
stops=0 caught=0 bad_inv=0 bad_next=0 bad_same=0 bad_ref=0 kinds=""
# ref2: the reference state after one more run at the same time, then back
ref2() {
	local out
	wait_served
	out=$("$MAILNS" keys rotate -c "$P" --now "@$NOW" 2>&1) ||
		{ diag "reference run (one more) at @$NOW: exit $?: $out"; bad_ref=$((bad_ref + 1)); }
	"$MAILNS" keys list -c "$P" --now "@$NOW" > "$TMP/list.ref2"
	cp "$S/opendkim/KeyTable" "$TMP/KeyTable.ref2"
	restore "$TMP/after"
}
# crash_run LABEL RECOVER CMD...: every stop point of CMD against the
# reference; after each stop, RECOVER (a shell command) runs before the next
# `keys rotate`
crash_run() {
	local label=$1 recover=$2 n rc inv out
	shift 2
	for n in $(seq 1 30); do
		restore "$TMP/before"
		wait_served || diag "$label: state not served before step $n"
		MAILNS_FAULT_STEP=$n "$@" > "$TMP/crash.out" 2>&1
		rc=$?
		[ $rc -eq 137 ] || break
		stops=$((stops + 1))
		inv=$(invariants) || { diag "$label, stopped after write $n: $inv"; bad_inv=$((bad_inv + 1)); }
		if [ -n "$recover" ]; then
			out=$(eval "$recover" 2>&1) || { diag "$label, stop $n: $recover: $out"; bad_next=$((bad_next + 1)); }
		fi
		wait_served || diag "$label: not served after the stop at $n"
		out=$("$MAILNS" keys rotate -c "$P" --now "@$NOW" 2>&1)
		rc=$?
		[ $rc -eq 0 ] || { diag "$label, stop $n: next run exit $rc: $out"; bad_next=$((bad_next + 1)); }
		inv=$(invariants) || { diag "$label, after the run following stop $n: $inv"; bad_inv=$((bad_inv + 1)); }
		"$MAILNS" keys list -c "$P" --now "@$NOW" > "$TMP/list.got"
		if ! { cmp -s "$TMP/list.got" "$TMP/list.ref" && cmp -s "$S/opendkim/KeyTable" "$TMP/after/opendkim/KeyTable"; } &&
		   ! { cmp -s "$TMP/list.got" "$TMP/list.ref2" && cmp -s "$S/opendkim/KeyTable" "$TMP/KeyTable.ref2"; }; then
			# part of the stopped run's work is one run ahead: one more run catches up
			wait_served
			"$MAILNS" keys rotate -c "$P" --now "@$NOW" > /dev/null 2>&1
			"$MAILNS" keys list -c "$P" --now "@$NOW" > "$TMP/list.got"
			caught=$((caught + 1))
		fi
		if ! { cmp -s "$TMP/list.got" "$TMP/list.ref" && cmp -s "$S/opendkim/KeyTable" "$TMP/after/opendkim/KeyTable"; } &&
		   ! { cmp -s "$TMP/list.got" "$TMP/list.ref2" && cmp -s "$S/opendkim/KeyTable" "$TMP/KeyTable.ref2"; }; then
			diag "$label, stop $n: the run after it ended elsewhere:"
			diag "$(diff "$TMP/list.ref" "$TMP/list.got")"
			bad_same=$((bad_same + 1))
		fi
	done
	[ "$n" -gt 1 ] || { diag "$label: never stopped"; bad_next=$((bad_next + 1)); }
	diag "$label: stopped at each of $((n - 1)) writes"
}

while [ "$NOW" -le "$END" ]; do
	rm -rf "$TMP/before" "$TMP/after"
	cp -a "$S" "$TMP/before"
	out=$("$MAILNS" keys rotate -c "$P" --now "@$NOW" 2>&1)
	rc=$?
	[ $rc -eq 0 ] || { diag "reference run at @$NOW: exit $rc: $out"; bad_ref=$((bad_ref + 1)); }
	kind=$(awk -F'\t' 'NF == 5 { print $5 }' <<< "$out" | sort -u | tr '\n' '+')
	if [ -n "$kind" ] && [ -z "${TESTED[$kind]}" ]; then
		TESTED[$kind]=1
		kinds="$kinds $kind"
		"$MAILNS" keys list -c "$P" --now "@$NOW" > "$TMP/list.ref"
		cp -a "$S" "$TMP/after"
		ref2
		crash_run "run at @$NOW ($kind)" "" "$MAILNS" keys rotate -c "$P" --now "@$NOW"
		restore "$TMP/after"
	fi
	wait_served || diag "not served at @$NOW"
	if grep -q '	generate$' <<< "$out"; then NOW=$((NOW + 3600)); else NOW=$((NOW + 43200)); fi
done

# a compromise: revoke the active rsa key of dual.example at every stop point
sel=$(awk -F'\t' '$1 == "dual.example" && $3 == "rsa-2048" && $4 == "active" { print $2 }' <("$MAILNS" keys list -c "$P" --now "@$NOW"))
rm -rf "$TMP/before" "$TMP/after"
cp -a "$S" "$TMP/before"
"$MAILNS" keys revoke -c "$P" --now "@$NOW" dual.example "$sel" > "$TMP/revoke.out" 2>&1
is "$?" 0 "keys revoke dual.example $sel"
"$MAILNS" keys list -c "$P" --now "@$NOW" > "$TMP/list.revoked"
wait_served
out=$("$MAILNS" keys rotate -c "$P" --now "@$NOW" 2>&1) ||
	{ diag "reference run after the revoke: exit $?: $out"; bad_ref=$((bad_ref + 1)); }
"$MAILNS" keys list -c "$P" --now "@$NOW" > "$TMP/list.ref"
cp -a "$S" "$TMP/after"
ref2
is "$(awk -F'\t' -v s="$sel" '$2 == s { print $4 }' "$TMP/list.revoked")" revoked "$sel is revoked"
ok $([ ! -e "$S/keys/dual.example/$sel.pem" ]; echo $?) "its private key is destroyed"
ok $(! grep -q "$sel" "$S/opendkim/KeyTable"; echo $?) "it is out of the KeyTable"
is "$(awk -F'\t' '$1 == "dual.example" && $3 == "rsa-2048" && $4 == "pending"' "$TMP/list.revoked" | wc -l)" 1 "a replacement rsa key is pending"
is "$(awk -F'\t' '$1 == "dual.example" && $3 == "rsa-2048" && $4 == "active"' "$TMP/list.ref" | wc -l)" 1 "the next run activates it (no publish_ahead wait without an active key)"
# after a stop, the user runs the same revoke again
crash_run "revoke" "wait_served; \"\$MAILNS\" keys revoke -c \"\$P\" --now \"@\$NOW\" dual.example \"\$sel\"" "$MAILNS" keys revoke -c "$P" --now "@$NOW" dual.example "$sel"

# ---- DNSSEC rollovers (keys/dnsroll.c) ------------------------------------------------
# dnssec_crash NAME DOMAINS STEP...: each run of `mailns keys rotate` that writes is
# stopped at every write.  DOMAINS: the policy's domains (YAML; each has its three
# signed zones _domainkey, _dmarc and _spf, each with its own keys).  STEP: "SECONDS [ARGS]" a run at T+SECONDS; PARENT: the
# parent republished; "POLICY SED": the policy edited with sed.  The parent (NSD,
# unsigned zones: only its DS records are asked) publishes the DS the way an operator
# does, from `mailns delegation`.  After each stop: every zone still compiles and signs
# (`mailns zone`) and verifies (ldns-verify-zone), a DS at the parent is the DS of a SEP
# key of its zone's DNSKEY RRset (digest compared, ldns-key2ds) whose signature covers
# DNSKEY; the same command run again exits 0 or 3 (waiting for a DS) and the roles,
# algorithms, states and DS states end as in the run never stopped.  DSTRIDE=K: stopped
# after writes 1, 1+K, 1+2K... only (default 1: every write).
DNSSEC_NSD_PID=""
dnssec_crash() {
	local name=$1 doms=$2 D="$TMP/$1.yaml" DS_ST="$TMP/$1.st" NSD_PORT t label n rc out rout st zones="" names d
	shift 2
	names=$(awk '/^  [a-z]/ { sub(":", ""); print $1 }' <<<"$doms")
	for d in $names; do zones="$zones _domainkey.$d _dmarc.$d _spf.$d"; done
	NSD_PORT=$(mn_free_port "$MN_PORT")
	cat >"$D" <<EOT
version: 1
server:
  listen: ["127.0.0.1:$MN_PORT"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  ttl: 300
  negative_ttl: 300
  state_dir: $DS_ST
  dnssec: true
domains:
$doms
EOT
	"$MAILNS" zone -c "$D" >/dev/null 2>&1; ok $? "DNSSEC $name: the zones' first keys made (mailns zone)"
	rm -rf "$TMP/pz"; mkdir -p "$TMP/pz"
	parent() { # the parent zones with the DS records mailns delegation prints now; NSD restarted
		local z
		[ -z "$DNSSEC_NSD_PID" ] || { kill -TERM "$DNSSEC_NSD_PID"; wait "$DNSSEC_NSD_PID" 2>/dev/null; DNSSEC_NSD_PID=""; }
		for d in $names; do
			{
				printf '$ORIGIN %s.\n$TTL 300\n@ SOA ns1.example.net. h.example.net. %s 3600 900 1209600 300\n' "$d" "$(date +%s)"
				printf '@ NS ns1.example.net.\n'
				"$MAILNS" delegation -c "$D" "$d" | awk '$4 == "NS" || $4 == "DS"'
			} >"$TMP/pz/$d.zone"
		done
		# shellcheck disable=SC2086
		mn_nsd_conf "$TMP/pz/nsd.conf" "$TMP/pz" "$NSD_PORT" $names
		nsd -d -c "$TMP/pz/nsd.conf" >>"$TMP/pz/nsd.out" 2>&1 &
		DNSSEC_NSD_PID=$!
		mn_wait_answer "$NSD_PORT" "${names%%$'\n'*}" $DNSSEC_NSD_PID
	}
	drotate() { "$MAILNS" keys rotate -c "$D" --quiet --now "@$1" --resolver "127.0.0.1:$NSD_PORT" "${@:2}"; }
	# the state of the keys without their tags (new keys differ from run to run)
	# (one awk for all the key files: this runs twice at each stop)
	dstate() { awk 'FNR == 1 { if (NR > 1) print z, v["role"], v["algorithm"], v["state"], v["ds"]
			n = split(FILENAME, p, "/"); z = p[n - 1]; split("", v) }
		$1 ~ /^(role|algorithm|state|ds)$/ { k = $1; sub(/^[a-z]+ /, ""); v[k] = $0 }
		END { if (NR > 0) print z, v["role"], v["algorithm"], v["state"], v["ds"] }' "$DS_ST"/dnssec/*/*.key | sort; }
	dinvariants() {
		local z bad=0 ds tag match k
		rm -rf "$TMP/dz" && mkdir -p "$TMP/dz/k"
		"$MAILNS" zone -c "$D" -d "$TMP/dz" >/dev/null 2>&1 || { echo "mailns zone fails"; return 1; }
		# the parent's SHA-256 DS records of every zone, one query each, "ZONE. TAG ALG DIGEST"
		# shellcheck disable=SC2046,SC2086
		kdig @127.0.0.1 -p "$NSD_PORT" +noall +answer $(printf '%s DS ' $zones) 2>/dev/null |
			awk '$4 == "DS" && $7 == 2 { d = ""; for (i = 8; i <= NF; i++) d = d $i; print $1, $5, $6, toupper(d) }' >"$TMP/dz/ds"
		for z in $zones; do
			ldns-verify-zone "$TMP/dz/$z.zone" >/dev/null 2>&1 || { echo "$z does not verify"; bad=1; }
			# the DS of each SEP key the zone publishes (ldns-key2ds, SHA-256), "TAG ALG DIGEST"
			rm -f "$TMP/dz/k"/*
			awk '$4 == "DNSKEY" && $5 == 257' "$TMP/dz/$z.zone" | while read -r k; do
				printf '%s\n' "$k" >"$TMP/dz/k/key"
				(cd "$TMP/dz/k" && ldns-key2ds -n -2 key) 2>/dev/null
			done | awk '$4 == "DS" { d = ""; for (i = 8; i <= NF; i++) d = d $i; print $5, $6, toupper(d) }' >"$TMP/dz/sep"
			match=0
			while read -r tag ds; do
				[ -n "$tag" ] || continue
				# the DS at the parent is a SEP key's and that key signs the DNSKEY RRset
				grep -qx "$tag $ds" "$TMP/dz/sep" &&
					awk -v t="$tag" '$4 == "RRSIG" && $5 == "DNSKEY" && $11 == t' "$TMP/dz/$z.zone" | grep -q . &&
					match=1
			done < <(awk -v z="$z." '$1 == z { print $2, $3, $4 }' "$TMP/dz/ds")
			[ $match -eq 1 ] || { echo "$z: no SHA-256 DS at the parent is a SEP key's signing DNSKEY"; bad=1; }
		done
		return $bad
	}
	parent || { ok 1 "DNSSEC $name: nsd serves the parents"; return; }
	T=$(date +%s)
	local dstops=0 dbad_inv=0 dbad_next=0 dbad_same=0 dkinds=0
	for st in "$@"; do
		case $st in
		PARENT) parent || diag "nsd did not restart"; continue ;;
		"POLICY "*) sed -i -e "${st#POLICY }" "$D"; continue ;;
		esac
		read -r t label <<<"$st"
		rm -rf "$TMP/dbefore" "$TMP/dafter"
		cp -a "$DS_ST" "$TMP/dbefore"
		# shellcheck disable=SC2086
		rout=$(drotate $((T + t)) $label 2>&1)
		rc=$?
		[ $rc -eq 0 ] || [ $rc -eq 3 ] || diag "DNSSEC $name: reference run at +$t: exit $rc: $rout"
		dstate >"$TMP/dref"
		cp -a "$DS_ST" "$TMP/dafter"
		out=$(dinvariants) || { diag "DNSSEC $name +$t, the reference run: $out"; dbad_inv=$((dbad_inv + 1)); }
		grep -q '	dnssec	' <<<"$rout" || continue
		dkinds=$((dkinds + 1))
		for n in $(seq 1 "${DSTRIDE:-1}" 100); do
			rm -rf "$DS_ST"; cp -a "$TMP/dbefore" "$DS_ST"
			# shellcheck disable=SC2086
			MAILNS_FAULT_STEP=$n drotate $((T + t)) $label >/dev/null 2>&1
			[ $? -eq 137 ] || break
			dstops=$((dstops + 1))
			out=$(dinvariants) || { diag "DNSSEC $name +$t, stopped after write $n: $out"; dbad_inv=$((dbad_inv + 1)); }
			# shellcheck disable=SC2086
			out=$(drotate $((T + t)) $label 2>&1); rc=$?	# the same command again
			[ $rc -eq 0 ] || [ $rc -eq 3 ] || { diag "DNSSEC $name +$t, stop $n: next run exit $rc: $out"; dbad_next=$((dbad_next + 1)); }
			out=$(dinvariants) || { diag "DNSSEC $name +$t, after the run following stop $n: $out"; dbad_inv=$((dbad_inv + 1)); }
			dstate >"$TMP/dgot"
			cmp -s "$TMP/dgot" "$TMP/dref" || { diag "DNSSEC $name +$t, stop $n: $(diff "$TMP/dref" "$TMP/dgot" | tr '\n' ' ')"; dbad_same=$((dbad_same + 1)); }
		done
		diag "DNSSEC $name run at +$t: stopped after $(( (n - 1 + ${DSTRIDE:-1} - 1) / ${DSTRIDE:-1} )) of its writes (every ${DSTRIDE:-1}. of them)"
		rm -rf "$DS_ST"; cp -a "$TMP/dafter" "$DS_ST"
	done
	kill -TERM "$DNSSEC_NSD_PID" 2>/dev/null; wait "$DNSSEC_NSD_PID" 2>/dev/null; DNSSEC_NSD_PID=""
	DSTOPS=$dstops DKINDS=$dkinds
	dstate >"$TMP/$name.final"
	is "$dbad_inv" 0 "DNSSEC $name: after every stop and the run after it, every zone compiles, verifies, and a DS at the parent is a SEP key's signing DNSKEY"
	is "$dbad_next" 0 "DNSSEC $name: the run after every stop exits 0 or 3"
	is "$dbad_same" 0 "DNSSEC $name: and ends with the roles, algorithms, states and DS states of an uninterrupted run"
}
if command -v nsd >/dev/null && command -v ldns-verify-zone >/dev/null && command -v ldns-key2ds >/dev/null; then
	# a ZSK and a KSK rollover at once (--dnssec-roll)
	dnssec_crash zsk "  zsk.example:
    dnssec: { keys: ksk+zsk }
    dmarc: { p: reject }" "0 --dnssec-roll all" 3900 PARENT 3960 4300 PARENT 4400 12000
	is "$(awk '$1 == "_dmarc.zsk.example" && $4 == "removed"' "$TMP/zsk.final" | wc -l)" 2 "DNSSEC zsk: the ZSK and KSK rollovers ran to their end (two keys removed)"
	ok $([ "$DKINDS" -ge 5 ] && [ "$DSTOPS" -ge 15 ]; echo $?) "DNSSEC zsk: $DKINDS runs, $DSTOPS stops"
	# an algorithm rollover of a CSK (ECDSAP256SHA256 -> ED25519) and a shape change
	# csk -> ksk+zsk at once, started by a policy change; a run every 3900 s (TTL 300 +
	# propagation 3600), the parent republished before each (the operator a step behind)
	roll=()
	for i in $(seq 1 10); do roll+=(PARENT "$((i * 3900))"); done
	dnssec_crash alg "  alg.example:
    dnssec: { keys: csk, algorithm: ECDSAP256SHA256 }
    dmarc: { p: reject }
  split.example:
    dnssec: { keys: csk }
    dmarc: { p: reject }" "POLICY s/ECDSAP256SHA256 }/ED25519 }/; /split.example:/,/dmarc:/s/keys: csk/keys: ksk+zsk/" "${roll[@]}"
	is "$(awk '$1 == "_dmarc.alg.example" && $4 != "removed" { print $2 "/" $3 "/" $4 }' "$TMP/alg.final" | tr '\n' ' ')" "csk/15/active " \
		"DNSSEC alg: the algorithm rollover ran to its end (one ED25519 CSK left)"
	is "$(awk '$1 == "_dmarc.split.example" && $4 != "removed" { print $2 "/" $3 "/" $4 }' "$TMP/alg.final" | tr '\n' ' ')" "ksk/13/active zsk/13/active " \
		"DNSSEC alg: the shape change csk -> ksk+zsk ran to its end (a KSK and a ZSK left)"
	ok $([ "$DKINDS" -ge 4 ] && [ "$DSTOPS" -ge 20 ]; echo $?) "DNSSEC alg: $DKINDS runs, $DSTOPS stops"
	# an algorithm rollover of a KSK and a ZSK (ECDSAP256SHA256 -> ED25519) and the shape
	# change ksk+zsk -> csk at once, started by a policy change, the same way
	stride=1
	grep -q '^MN_CFLAGS = .*-fsanitize=address' "$top_builddir/Makefile" 2>/dev/null && stride=3
	roll=()
	for i in $(seq 1 12); do roll+=(PARENT "$((i * 3900))"); done
	DSTRIDE=$stride dnssec_crash algz "  algz.example:
    dnssec: { keys: ksk+zsk, algorithm: ECDSAP256SHA256 }
    dmarc: { p: reject }
  join.example:
    dnssec: { keys: ksk+zsk }
    dmarc: { p: reject }" "POLICY s/ECDSAP256SHA256 }/ED25519 }/; /join.example:/,/dmarc:/s/keys: ksk+zsk/keys: csk/" "${roll[@]}"
	is "$(awk '$1 == "_dmarc.algz.example" && $4 != "removed" { print $2 "/" $3 "/" $4 }' "$TMP/algz.final" | tr '\n' ' ')" \
		"ksk/15/active zsk/15/active " "DNSSEC algz: the KSK+ZSK algorithm rollover ran to its end (an ED25519 KSK and ZSK left)"
	is "$(awk '$1 == "_dmarc.join.example" && $4 != "removed" { print $2 "/" $3 "/" $4 }' "$TMP/algz.final" | tr '\n' ' ')" \
		"csk/13/active " "DNSSEC algz: the shape change ksk+zsk -> csk ran to its end (one CSK left)"
	ok $([ "$DKINDS" -ge 4 ] && [ "$DSTOPS" -ge $((60 / stride)) ]; echo $?) "DNSSEC algz: $DKINDS runs, $DSTOPS stops (every ${stride}. write)"
else
	diag "nsd, ldns-verify-zone or ldns-key2ds missing: the DNSSEC rollovers are not stopped"
fi

diag "kinds of runs stopped:$kinds; $caught stops needed one more run to even out"
# each kind exactly as a run printed it (activate+ is not activate+retire+)
for k in "generate+" "activate+" "activate+retire+" "revoke+" "remove+"; do
	case "$kinds " in
	*" $k "*) ok 0 "run kind $k stopped at every write" ;;
	*) ok 1 "run kind $k stopped at every write" ;;
	esac
done
is "$bad_ref" 0 "every reference run exits 0"
ok $([ "$stops" -ge 20 ]; echo $?) "$stops stops in all"
is "$bad_inv" 0 "after every stop: signer tables name only published unrevoked keys; every published unrevoked key has its private file"
is "$bad_next" 0 "the run after every stop exits 0"
is "$bad_same" 0 "and ends with the phases, selectors and tables of an uninterrupted run"
done_testing
