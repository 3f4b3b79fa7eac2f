#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# notify.sh -- NOTIFY to a secondary: a python3 UDP listener on 127.0.0.1 as the
# target sees random message IDs (not one after the other), sent from the
# server's first listen address (127.0.0.2 here, not the route's 127.0.0.1);
# a response counts only with the message's ID and from the target's address.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v python3 >/dev/null || skip_all "python3 not installed"
mn_tmpdir

NPORT=$(mn_free_port) || skip_all "no free port"
# the policy of server.sh, listening on 127.0.0.2 first, notifying 127.0.0.1:NPORT
sed -e 's|^  listen: .*|  listen: ["127.0.0.2:@PORT@", "127.0.0.1:@PORT@", "[::1]:@PORT@"]|' \
	-e "s|^\(  user: root.*\)$|\1\n  transfer:\n    notify: [\"127.0.0.1:$NPORT\"]|" \
	"$top_srcdir/tests/integration/server.tmpl" >"$TMP/n.tmpl"
grep -q 'notify: \["127.0.0.1' "$TMP/n.tmpl" || { ok 1 "policy written"; done_testing; exit 1; }

# The secondary: answers _dmarc.example.com right, _spf.example.com with a wrong ID,
# _dmarc.example.org with the right ID from another address (127.0.0.3); records
# every NOTIFY for 4.5 s after the first.
cat >"$TMP/secondary.py" <<'PY'
import socket, struct, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.bind(("127.0.0.3", 0))
def qname(m):
    i, labels = 12, []
    while m[i]:
        labels.append(m[i + 1:i + 1 + m[i]].decode().lower())
        i += 1 + m[i]
    return ".".join(labels), i + 5
seen, first, deadline = [], None, time.time() + 30
while time.time() < deadline:
    if first is not None and time.time() > first + 4.5:
        break
    s.settimeout(0.2)
    try:
        m, peer = s.recvfrom(2048)
    except socket.timeout:
        continue
    if len(m) < 17 or (m[2] >> 3) & 15 != 4 or m[2] & 0x80:
        continue
    if first is None:
        first = time.time()
    mid = struct.unpack("!H", m[:2])[0]
    name, end = qname(m)
    seen.append("%s %d %d %s" % (peer[0], peer[1], mid, name))
    reply = lambda i: struct.pack("!HBBHHHH", i, 0x80 | 4 << 3 | 4, 0, 1, 0, 0, 0) + m[12:end]
    if name == "_dmarc.example.com":
        s.sendto(reply(mid), peer)
    elif name == "_spf.example.com":
        s.sendto(reply(mid ^ 0x5a5a), peer)
    elif name == "_dmarc.example.org":
        other.sendto(reply(mid), peer)
with open(out, "w") as f:
    f.write("\n".join(seen) + "\n")
PY
timeout 40 python3 "$TMP/secondary.py" "$NPORT" "$TMP/seen" &
SEC_PID=$!
sleep 0.3

if ! mn_start "$TMP/n.tmpl"; then
	ok 1 "mailnsd starts"
	kill "$SEC_PID"; wait "$SEC_PID"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts, listening on 127.0.0.2 first"
wait "$SEC_PID"
ok $? "the secondary ran to its end"
diag "$(head -n 40 "$TMP/seen")"

n=$(grep -c . "$TMP/seen")
[ "$n" -ge 8 ]; ok $? "several NOTIFYs received ($n)"
is "$(awk '{print $1}' "$TMP/seen" | sort -u | tr '\n' ' ')" "127.0.0.2 " \
	"every NOTIFY came from the first listen address, 127.0.0.2"
# one after the other, the old IDs went up by one: at most a few pairs may by chance
read -r pairs steps < <(awk 'NR > 1 { p++; if (($3 - prev + 65536) % 65536 == 1) s++ } { prev = $3 }
	END { print p + 0, s + 0 }' "$TMP/seen")
[ "$pairs" -ge 7 ] && [ $((steps * 4)) -lt "$pairs" ]
ok $? "message IDs are not sequential ($steps of $pairs steps of +1)"
is "$(grep -c ' _dmarc.example.com$' "$TMP/seen")" 1 \
	"answered with its ID from the target: sent once, not retried"
[ "$(grep -c ' _spf.example.com$' "$TMP/seen")" -ge 2 ]
ok $? "answered with another ID: sent again"
[ "$(grep -c ' _dmarc.example.org$' "$TMP/seen")" -ge 2 ]
ok $? "answered with its ID from another address: sent again"
[ "$(grep -c ' _domainkey.example.com$' "$TMP/seen")" -ge 2 ]
ok $? "not answered: sent again"

mn_stop; is "$?" 0 "clean stop"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$MN_LOG"; ok $((! $?)) "no sanitizer report in the server log"
done_testing
