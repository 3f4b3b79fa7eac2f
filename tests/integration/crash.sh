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
# Needs a build configured with --enable-fault-injection (.ci/run builds so).
. "${top_srcdir:?}/tests/tap/tap.sh"
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
