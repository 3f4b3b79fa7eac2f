#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# quickstart.sh -- the README quick start: mailnsd started as root with
# examples/policy.yaml (its ports changed to free ones) answers, and runs as
# the example's server.user, not as root (uid from /proc/PID/status); its
# state_dir is made for that user.  A copy in a directory that user cannot
# enter (as /root, 0700) is refused with a message naming the user and file.
. "${top_srcdir:?}/tests/tap/tap.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (the quick start runs as root)"
mn_tmpdir
chmod 0755 "$TMP"	# as a clone in /srv or /tmp: other users may read it

user=$(awk '$1 == "user:" { print $2 }' "$top_srcdir/examples/policy.yaml")
case $user in "" | root) r=1 ;; *) r=0 ;; esac
ok $r "examples/policy.yaml names a user other than root ($user)"
uid=$(id -u "$user" 2>/dev/null)
[ -n "$uid" ] && [ "$uid" -ne 0 ]; ok $? "user $user exists on this system (uid $uid)"

# the example beside its files, as in the clone; free ports instead of 5300, 9153, 5354
cp -r "$top_srcdir/examples/." "$TMP/"
rm -rf "$TMP/state"
MPORT=$(mn_free_port) && NPORT=$(mn_free_port "$MPORT") || skip_all "no free port"
sed -e 's/:5300"/:@PORT@"/g' -e "s/:9153\"/:$MPORT\"/" -e "s/:5354\"/:$NPORT\"/" \
	"$TMP/policy.yaml" >"$TMP/quick.tmpl"
grep -q '127.0.0.1:@PORT@' "$TMP/quick.tmpl"; ok $? "the example's port replaced"

if ! mn_start "$TMP/quick.tmpl"; then
	ok 1 "mailnsd starts as root with the example policy"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts as root with the example policy"
is "$(mn_dig +short _dmarc.example.com TXT | head -c 20)" '"v=DMARC1; p=reject;' \
	"kdig _dmarc.example.com TXT answers"
ids=$(awk '/^Uid:|^Gid:/ { print $1, $2, $3, $4, $5 }' "/proc/$MN_PID/status" | tr '\n' ' ')
diag "$ids"
awk '$1 == "Uid:" { exit !($2 != 0 && $3 != 0 && $4 != 0 && $5 != 0) }' "/proc/$MN_PID/status"
ok $? "the running server's uids (real, effective, saved, fs) are not 0"
is "$(awk '$1 == "Uid:" { print $3 }' "/proc/$MN_PID/status")" "$uid" "it runs as $user"
is "$(stat -c %U "$TMP/state" 2>&1)" "$user" "state_dir made for $user"
grep -q "running as user $user" "$MN_LOG"; ok $? "the switch is logged"
mn_stop; is "$?" 0 "clean stop"

# --- a clone the user cannot reach: refused, with the reason -------------------------
mkdir -m 0700 "$TMP/private"
cp -r "$top_srcdir/examples/." "$TMP/private/"
rm -rf "$TMP/private/state"
sed -e "s|@PORT@|1|g" "$TMP/quick.tmpl" >"$TMP/private/policy.yaml"
out=$(timeout 10 "$MAILNSD" -f -c "$TMP/private/policy.yaml" 2>&1); rc=$?
is "$rc" 1 "a policy the user cannot read: exit 1"
case $out in
*"user $user (server.user) cannot read $TMP/private/policy.yaml (Permission denied)"*) r=0 ;;
*) r=1; diag "$out" ;;
esac
ok $r "the message names the user and the policy"
[ ! -e "$TMP/private/state" ]; ok $? "nothing created before the refusal"
done_testing
