#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# quickstart.sh -- the README quick start: mailnsd started as root with
# examples/policy.yaml (its ports changed to free ones) answers, and runs as
# the example's server.user, not as root (uid from /proc/PID/status); its
# state_dir is made for that user.  A copy in a directory that user cannot
# enter (as /root, 0700) is served too, with a warning naming the user and
# the file; its reloads fail and keep the loaded zones.
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
MPORT=$(mn_free_port) && NPORT=$(mn_free_port "$MPORT") || skip_all "no free port"
sed -e 's/:5300"/:@PORT@"/g' -e "s/:9153\"/:$MPORT\"/" -e "s/:5354\"/:$NPORT\"/" \
	-e "s|^  state_dir: .*|  state_dir: $TMP/state|" "$TMP/policy.yaml" >"$TMP/quick.tmpl"
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

# --- a clone the user cannot reach (as /root): served, with a warning --------------------
grep -q '^  state_dir: /' "$top_srcdir/examples/policy.yaml"
ok $? "the example's state_dir is absolute (outside a clone closed to $user)"
mkdir -m 0700 "$TMP/private"
cp -r "$top_srcdir/examples/." "$TMP/private/"
sed -e "s|$TMP/state|$TMP/state2|" "$TMP/quick.tmpl" >"$TMP/private/quick.tmpl"
OUTER=$TMP
TMP=$OUTER/private	# mn_start writes $TMP/policy.yaml: the policy in the closed directory
mn_start "$TMP/quick.tmpl"; r=$?
TMP=$OUTER
if [ "$r" -ne 0 ]; then
	ok 1 "a policy the user cannot read: served all the same"
	done_testing
	exit 1
fi
ok 0 "a policy the user cannot read: served all the same"
is "$(mn_dig +short _dmarc.example.com TXT | head -c 20)" '"v=DMARC1; p=reject;' \
	"kdig _dmarc.example.com TXT answers"
grep -q "user $user (server.user) cannot read $TMP/private/policy.yaml (Permission denied): reloads will fail" "$MN_LOG"
ok $? "the warning names the user and the policy"
kill -HUP "$MN_PID"
for i in $(seq 1 50); do grep -q 'reload failed' "$MN_LOG" && break; sleep 0.1; done
grep -q 'reload failed' "$MN_LOG"; ok $? "a reload fails (logged)"
is "$(mn_dig +short _dmarc.example.com TXT | head -c 20)" '"v=DMARC1; p=reject;' \
	"and the loaded zones keep answering"
mn_stop; is "$?" 0 "clean stop"
done_testing
