#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# privileges.sh -- server.user / server.group: mailnsd started as root binds its
# ports, then runs as the server user (ids and capabilities checked in
# /proc/PID/status), keeps answering and reloading; root without server.user is
# refused; server.user: root stays root; a root-owned state_dir gets zones/ and
# journal/ for the server user, an unwritable zones/ is refused; the
# key store (set up as the package does) lets the server read and watch the public
# halves and a rotation, but not open a private key.
# It adds (and removes) a user on this machine: it runs only when MAILNS_TEST_HOST=1.
. "${top_srcdir:?}/tests/tap/tap.sh"
[ "${MAILNS_TEST_HOST:-}" = 1 ] || skip_all "adds a user to this machine: MAILNS_TEST_HOST=1 runs it"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (to start mailnsd as root and switch user)"
command -v useradd >/dev/null || skip_all "no useradd"
mn_tmpdir
chmod 0755 "$TMP"	# the server user reads the policy (reloads) and writes state_dir below

# a dedicated user for this run (removed on exit)
U="mnt$$"
NOGROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
cleanup() {
	mn_cleanup
	getent passwd "$U" >/dev/null && userdel "$U" >/dev/null 2>&1
}
trap cleanup EXIT
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U" ||
	{ ok 1 "useradd $U"; done_testing; exit 1; }
UID_T=$(id -u "$U")
GID_T=$(id -g "$U")
GID_NG=$(getent group "$NOGROUP" | cut -d: -f3)

# tmpl USER-LINES: a policy template with those lines under server:
tmpl() {
	cat >"$TMP/t.tmpl" <<EOF
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: @TMP@/state
$1
domains:
  example.com:
    dmarc: { p: reject }
EOF
}
status_field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }

# --- root without server.user: refused, the message names the key ------------------
tmpl ""
sed -e "s|@PORT@|1|" -e "s|@TMP@|$TMP|" "$TMP/t.tmpl" >"$TMP/noroot.yaml"
out=$(timeout 10 "$MAILNSD" -f -c "$TMP/noroot.yaml" 2>&1); rc=$?
is "$rc" 1 "started as root without server.user: exit 1"
case $out in *"refusing to run as root: set server.user"*"server.user: root"*) r=0;; *) r=1; diag "$out";; esac
ok $r "the refusal names server.user and server.user: root"

# --- an unknown user: refused at its position ------------------------------------
tmpl "  user: no-such-user-$$"
sed -e "s|@PORT@|1|" -e "s|@TMP@|$TMP|" "$TMP/t.tmpl" >"$TMP/nouser.yaml"
out=$(timeout 10 "$MAILNSD" -f -c "$TMP/nouser.yaml" 2>&1); rc=$?
is "$rc:$out" "1:$TMP/nouser.yaml:7:9: error: unknown user 'no-such-user-$$' for server.user" \
	"an unknown server.user: exit 1 with its position"

# --- run as the server user ----------------------------------------------------------
tmpl "  user: $U
  group: $NOGROUP"
if ! mn_start "$TMP/t.tmpl"; then
	ok 1 "mailnsd starts with server.user: $U"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts as root with server.user: $U, group: $NOGROUP"
is "$(status_field "$MN_PID" Uid)" "$UID_T $UID_T $UID_T $UID_T" "real, effective, saved and fs uid are $U ($UID_T)"
is "$(status_field "$MN_PID" Gid)" "$GID_NG $GID_NG $GID_NG $GID_NG" "every gid is $NOGROUP ($GID_NG)"
is "$(status_field "$MN_PID" Groups)" "$GID_NG" "supplementary groups: $NOGROUP only"
is "$(status_field "$MN_PID" CapPrm):$(status_field "$MN_PID" CapEff)" "0000000000000000:0000000000000000" \
	"no capabilities left (root cannot be regained)"
is "$(stat -c %U "$TMP/state")" "$U" "the missing state_dir was created for $U"
grep -q "running as user $U (uid $UID_T, gid $GID_NG)" "$MN_LOG"; ok $? "the switch is logged"
is "$(mn_dig +short _dmarc.example.com TXT)" '"v=DMARC1; p=reject"' "answers after the switch"
is "$(mn_dig +tcp +short _dmarc.example.com TXT)" '"v=DMARC1; p=reject"' "answers over TCP after the switch"

# reload as the server user: the new policy is compiled and its serial persisted
serial() { mn_dig +short _dmarc.example.com SOA | awk '{print $3}'; }
s1=$(serial)
sed -i 's/p: reject/p: quarantine/' "$TMP/policy.yaml"
kill -HUP "$MN_PID"
for i in $(seq 1 50); do
	[ "$(mn_dig +short _dmarc.example.com TXT)" = '"v=DMARC1; p=quarantine"' ] && break
	sleep 0.1
done
is "$(mn_dig +short _dmarc.example.com TXT)" '"v=DMARC1; p=quarantine"' "SIGHUP reloads after the switch"
s2=$(serial)
[ -n "$s1" ] && [ -n "$s2" ] && [ "$s2" -gt "$s1" ]; ok $? "the serial increased ($s1 -> $s2)"
ok "$(find "$TMP/state" -newer "$TMP/t.tmpl" -type f -user "$U" | grep -q . ; echo $?)" \
	"the reload wrote its state as $U"
grep -q 'reload failed' "$MN_LOG"; ok $((! $?)) "no reload failed"
mn_stop; is "$?" 0 "clean stop"

# --- the key store: the server user reads the public halves, no private key --------
# As the package sets it up: state_dir/keys in the server user's group, 2750 (domain
# directories inherit the group); `mailns keys` runs as the key owner (root here).
KS="$TMP/kstate"
mkdir -p "$KS/keys" && chown "$U" "$KS" && chgrp "$GID_T" "$KS/keys" && chmod 2750 "$KS/keys"
cat >"$TMP/k.tmpl" <<EOF
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: $KS
  user: $U
defaults:
  dkim: { rotate_every: 10d, publish_ahead: 1d, retire_after: 2d, revoked_for: 3d }
domains:
  example.com:
    dkim: { algorithm: ed25519 }
EOF
GRP_T=$(id -gn "$U")
NOW=$(date -u -d 2030-01-01T00:00:00Z +%s)
sed "s|@PORT@|1|" "$TMP/k.tmpl" >"$TMP/k0.yaml"
"$MAILNS" keys rotate -c "$TMP/k0.yaml" --now "@$NOW" >"$TMP/k0.out" 2>&1
rc=$?; [ $rc -eq 0 ] || [ $rc -eq 3 ]; ok $? "keys rotate as root (the key owner) generates a key (exit $rc)"
sel1=$(awk -F'\t' '$1 == "example.com" { print $2; exit }' <("$MAILNS" keys list -c "$TMP/k0.yaml" --now "@$NOW"))
[ -n "$sel1" ]; ok $? "a first selector ($sel1)"
D="$KS/keys/example.com"
is "$(stat -c '%U:%G %a' "$KS/keys" "$D" 2>&1 | tr '\n' ' ')" "root:$GRP_T 2750 root:$GRP_T 2750 " \
	"keys/ and keys/example.com/: 2750, the server user's group (inherited)"
is "$(stat -c '%U:%G %a' "$D/published" "$D/$sel1.pem" 2>&1 | tr '\n' ' ')" \
	"root:$GRP_T 640 root:$GRP_T 600 " "published 0640, the private key 0600"
is "$(stat -c '%a' "$KS/keys/.lock" 2>&1)" 600 "the lock is keys/.lock, 0600"
as_u() { setpriv --reuid="$UID_T" --regid="$GID_T" --clear-groups "$@"; }
as_u cat "$D/$sel1.pem" >/dev/null 2>&1; ok $((! $?)) "$U cannot read the private key"
as_u cat "$D/published" >"$TMP/pub.u" 2>&1; ok $? "$U reads published"
grep -q "^$sel1 " "$TMP/pub.u"; ok $? "published names $sel1"
as_u ls "$D" >/dev/null 2>&1; ok $? "$U lists the domain's key directory"

served() { mn_dig +short "$1._domainkey.example.com" TXT 2>/dev/null | sed 's/" "//g; s/"//g'; }
wait_sel() { # wait_sel SEL: served within 10 s
	local i
	for i in $(seq 1 100); do
		case $(served "$1") in "v=DKIM1; k=ed25519; p="?*) return 0;; esac
		sleep 0.1
	done
	return 1
}
if mn_start "$TMP/k.tmpl"; then
	ok 0 "mailnsd starts as root with server.user: $U on the key store"
	is "$(status_field "$MN_PID" Uid | cut -d' ' -f1)" "$UID_T" "running as $U"
	wait_sel "$sel1"; ok $? "the key $sel1 is served ($(served "$sel1"))"
	# rotation steps, as cron runs them, until a successor exists; the running
	# server sees the new published by itself (inotify, no signal is sent)
	sel2=""
	for i in $(seq 1 20); do
		NOW=$((NOW + 86400))
		"$MAILNS" keys rotate -c "$TMP/policy.yaml" --now "@$NOW" >>"$TMP/k.out" 2>&1
		sel2=$(awk -F'\t' -v s="$sel1" '$1 == "example.com" && $2 != s { print $2; exit }' \
			<("$MAILNS" keys list -c "$TMP/policy.yaml" --now "@$NOW"))
		[ -n "$sel2" ] && break
		wait_sel "$sel1" || break
	done
	[ -n "$sel2" ]; ok $? "a rotation step generated a successor ($sel2)"
	[ -n "$sel2" ] && wait_sel "$sel2"; ok $? "the running server serves $sel2 (watcher, no signal)"
	[ -n "$sel2" ] && [ -s "$D/$sel2.pem" ] && ! as_u cat "$D/$sel2.pem" >/dev/null 2>&1
	ok $? "$U cannot read the new private key either"
	grep -q 'reload failed\|ermission denied' "$MN_LOG"; ok $((! $?)) "no reload failed, no permission error"
	mn_stop; is "$?" 0 "clean stop"
else
	ok 1 "mailnsd starts as root with server.user: $U on the key store"
	diag "$(cat "$MN_LOG" 2>/dev/null)"
fi

# --- a root-owned state_dir (the package's layout): the server's own directories ----
# zones/ (serials) and journal/ are created for the server user; state_dir stays root's
mkdir -p "$TMP/rootstate" && chmod 0755 "$TMP/rootstate"
tmpl "  user: $U"
sed -e "s|@TMP@/state|$TMP/rootstate|" "$TMP/t.tmpl" >"$TMP/rs.tmpl"
if mn_start "$TMP/rs.tmpl"; then
	ok 0 "a root-owned state_dir: mailnsd starts as $U"
	is "$(stat -c %U "$TMP/rootstate" "$TMP/rootstate/zones" "$TMP/rootstate/journal" | tr '\n' ' ')" \
		"root $U $U " "state_dir stays root's; zones/ and journal/ made for $U"
	is "$(stat -c %U "$TMP/rootstate/zones/serials" 2>&1)" "$U" "the serials written by $U in zones/"
	mn_stop; is "$?" 0 "clean stop"
else
	ok 1 "a root-owned state_dir: mailnsd starts as $U"
fi

# --- the server's directory not writable by the server user: refused ---------------
mkdir -p "$TMP/rostate/zones" && chmod 0755 "$TMP/rostate" "$TMP/rostate/zones"
sed -e "s|@PORT@|1|" -e "s|@TMP@/state|$TMP/rostate|" "$TMP/t.tmpl" >"$TMP/ro.yaml"
# port 1: binding as root works; the refusal comes after the switch
out=$(timeout 10 "$MAILNSD" -f -c "$TMP/ro.yaml" 2>&1); rc=$?
is "$rc" 1 "a state_dir/zones $U cannot write: exit 1"
case $out in *"$TMP/rostate/zones is not writable by user $U"*) r=0;; *) r=1; diag "$out";; esac
ok $r "the message names the directory and the user"

# --- server.user: root stays root ----------------------------------------------------
tmpl "  user: root"
if mn_start "$TMP/t.tmpl"; then
	is "$(status_field "$MN_PID" Uid)" "0 0 0 0" "server.user: root keeps running as root"
	mn_stop
else
	ok 1 "server.user: root starts"
fi

done_testing
