#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# live.sh -- live reload: the real mailnsd notices edits of the policy, of its
# included files (and a new file matching the include glob) and of the key store,
# debounced; a broken or half-written policy keeps the old answers; while a
# bounded query loop sees no error and never an old answer after a new one.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v python3 >/dev/null || skip_all "python3 not found"
mn_tmpdir
mkdir -p "$TMP/domains.d"
printf 'domains:\n  example.org:\n    dmarc: { p: none }\n' > "$TMP/domains.d/main.yaml"
if ! mn_start "$top_srcdir/tests/integration/live.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts on 127.0.0.1 port $MN_PORT"
POLICY=$TMP/policy.yaml
STATE=$TMP/state

answer() { mn_dig +short "$1" "$2"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# served NAME TYPE WANT: polls every 50 ms up to 3 s; sets ELAPSED (ms); 0 when served
served() {
	local t0 i; t0=$(ms)
	for i in $(seq 1 60); do
		if [ "$(answer "$1" "$2")" = "$3" ]; then ELAPSED=$(( $(ms) - t0 )); return 0; fi
		sleep 0.05
	done
	ELAPSED=$(( $(ms) - t0 )); return 1
}
count() { grep -c "$1" "$MN_LOG"; }
# quiet_wait: until the debounce timer and any reload are over (log unchanged 1 s)
quiet_wait() {
	local a b i
	for i in $(seq 1 20); do
		a=$(wc -l < "$MN_LOG"); sleep 1; b=$(wc -l < "$MN_LOG")
		[ "$a" = "$b" ] && return 0
	done
	return 1
}

grep -q 'watching [0-9]* directories for changes' "$MN_LOG"; ok $? "the log says what is watched"
is "$(answer _dmarc.example.com TXT)" '"v=DMARC1; p=reject; rua=mailto:g1@example.net"' "example.com at generation 1"
is "$(answer _dmarc.example.org TXT)" '"v=DMARC1; p=none; rua=mailto:g1@example.net"' "example.org at generation 1"

# --- the query loop: bounded, UDP, both names alternately --------------------
cat > "$TMP/qloop.py" <<'PY'
import os, re, socket, struct, sys, time
port, stop, limit, ready = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
names = ["_dmarc.example.com", "_dmarc.example.org"]
def wire(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"
def skipname(m, o):
    while True:
        n = m[o]
        if n == 0: return o + 1
        if n & 0xC0 == 0xC0: return o + 2
        o += 1 + n
def ask(s, qid, name):
    s.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire(name) + struct.pack("!HH", 16, 1))
    while True:
        m = s.recv(4096)
        if len(m) >= 12 and struct.unpack("!H", m[:2])[0] == qid: break
    rcode, an = m[3] & 15, struct.unpack("!H", m[6:8])[0]
    o = skipname(m, 12) + 4
    txt = []
    for _ in range(an):
        o = skipname(m, o)
        t, _c, _ttl, rdl = struct.unpack("!HHIH", m[o:o + 10]); o += 10
        rd, o = m[o:o + rdl], o + rdl
        if t == 16:
            i, parts = 0, []
            while i < len(rd):
                parts.append(rd[i + 1:i + 1 + rd[i]].decode()); i += 1 + rd[i]
            txt.append("".join(parts))
    return rcode, txt
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", port)); s.settimeout(1.0)
t0, n, errors, regress, maxgen = time.time(), 0, 0, 0, 0
seen = {nm: [] for nm in names}          # distinct p values, in order of first sight
gens = []
while time.time() - t0 < limit and not os.path.exists(stop):
    name = names[n % 2]; n += 1
    try:
        rcode, txt = ask(s, n & 0xFFFF, name)
    except socket.timeout:
        errors += 1; print("# timeout %s" % name, file=sys.stderr); continue
    m = re.match(r"v=DMARC1; p=(\w+); rua=mailto:g(\d+)@", txt[0]) if rcode == 0 and len(txt) == 1 else None
    if m is None:
        errors += 1; print("# bad answer %s rcode=%d %r" % (name, rcode, txt), file=sys.stderr); continue
    p, gen = m.group(1), int(m.group(2))
    if n == 2:                            # both names answered once: the shell may edit
        open(ready, "w").close()
    if gen < maxgen:                      # an older set after a newer one (either name)
        regress += 1; print("# %s generation %d after %d" % (name, gen, maxgen), file=sys.stderr)
    maxgen = max(maxgen, gen)
    if gen not in gens: gens.append(gen)
    v = seen[name]
    if not v or v[-1] != p:
        if p in v:                        # back to an old value of this name
            regress += 1; print("# %s p=%s again after %s" % (name, p, v[-1]), file=sys.stderr)
        v.append(p)
print("queries=%d errors=%d regressions=%d gens=%s com=%s org=%s stopped=%s" % (
    n, errors, regress, ",".join(map(str, gens)), ",".join(seen[names[0]]),
    ",".join(seen[names[1]]), "yes" if os.path.exists(stop) else "no"))
PY
python3 "$TMP/qloop.py" "$MN_PORT" "$TMP/qloop.stop" 20 "$TMP/qloop.ready" > "$TMP/qloop.out" 2> "$TMP/qloop.err" &
QPID=$!
for i in $(seq 1 100); do [ -e "$TMP/qloop.ready" ] && break; sleep 0.05; done
[ -e "$TMP/qloop.ready" ]; ok $? "the query loop runs"

# (1) the policy file, edited by rename (sed -i): both domains change together
r0=$(count 'reloaded:')
sed -i 's/mailto:g1@/mailto:g2@/' "$POLICY"
served _dmarc.example.com TXT '"v=DMARC1; p=reject; rua=mailto:g2@example.net"'; ok $? "sed -i on the policy: the change is served (${ELAPSED} ms)"
[ "$ELAPSED" -le 1000 ]; ok $? "served within 1 s (${ELAPSED} ms)"
is "$(answer _dmarc.example.org TXT)" '"v=DMARC1; p=none; rua=mailto:g2@example.net"' "the other domain changed in the same reload"
quiet_wait
is "$(( $(count 'reloaded:') - r0 ))" 1 "one edit, one reload"

# (2) an included file, written in place
printf 'domains:\n  example.org:\n    dmarc: { p: reject }\n' > "$TMP/domains.d/main.yaml"
served _dmarc.example.org TXT '"v=DMARC1; p=reject; rua=mailto:g2@example.net"'; ok $? "an included file written in place: served (${ELAPSED} ms)"

# (3) a new file matching the include glob
printf 'domains:\n  example.net:\n    dmarc: { p: quarantine }\n' > "$TMP/domains.d/new.yaml"
served _dmarc.example.net TXT '"v=DMARC1; p=quarantine; rua=mailto:g2@example.net"'; ok $? "a new file matching domains.d/*.yaml: its domain is served (${ELAPSED} ms)"
quiet_wait

# (4) a broken change: the old answers stay, the log names the position
f0=$(count 'reload failed')
cp "$TMP/domains.d/main.yaml" "$TMP/main.good"
printf 'domains:\n  example.org:\n    dmarc: { p: none }\n    dmrac: {}\n' > "$TMP/domains.d/main.yaml"
for i in $(seq 1 60); do [ "$(count 'reload failed')" -gt "$f0" ] && break; sleep 0.05; done
grep 'reload failed' "$MN_LOG" | tail -n 1 | grep -qF "$TMP/domains.d/main.yaml:4:5: error: unknown key 'dmrac'"; ok $? "a broken include: the log names main.yaml:4:5 and the unknown key"
is "$(answer _dmarc.example.org TXT)" '"v=DMARC1; p=reject; rua=mailto:g2@example.net"' "a broken include: the old answer stays"
is "$(answer _dmarc.example.net TXT)" '"v=DMARC1; p=quarantine; rua=mailto:g2@example.net"' "a broken include: the other zones stay"
cp "$TMP/main.good" "$TMP/domains.d/main.yaml"
quiet_wait

# (5) a two-step save: truncate, then write the new content
s0=$(count 'reloading ')
sed 's/mailto:g2@/mailto:g3@/' "$POLICY" > "$TMP/policy.new"
: > "$POLICY"
sleep 0.05
cat "$TMP/policy.new" > "$POLICY"
served _dmarc.example.com TXT '"v=DMARC1; p=reject; rua=mailto:g3@example.net"'; ok $? "truncate then write: the final content is served (${ELAPSED} ms)"
quiet_wait
is "$(( $(count 'reloading ') - s0 ))" 1 "truncate then write 50 ms apart: one reload (debounced)"
is "$(answer _dmarc.example.org TXT)" '"v=DMARC1; p=reject; rua=mailto:g3@example.net"' "truncate then write: example.org at generation 3"

# (6) the key store: a published file written atomically (tmp + mv)
mkdir -p "$STATE/keys/example.com"
echo 'sel1 active v=DKIM1; k=ed25519; p=wG/6wjlBTtfEnxMoVvbp/Nu+vl5JJzjtm1fwHZKArOs=' > "$STATE/keys/example.com/published.tmp.x1"
mv "$STATE/keys/example.com/published.tmp.x1" "$STATE/keys/example.com/published"
served sel1._domainkey.example.com TXT '"v=DKIM1; k=ed25519; p=wG/6wjlBTtfEnxMoVvbp/Nu+vl5JJzjtm1fwHZKArOs="'; ok $? "a key store change: the new selector is served (${ELAPSED} ms)"
quiet_wait
# a second change in the now existing key directory (watched since the last reload)
echo 'sel2 active v=DKIM1; k=ed25519; p=wG/6wjlBTtfEnxMoVvbp/Nu+vl5JJzjtm1fwHZKArOs=' > "$STATE/keys/example.com/published.tmp.x2"
mv "$STATE/keys/example.com/published.tmp.x2" "$STATE/keys/example.com/published"
served sel2._domainkey.example.com TXT '"v=DKIM1; k=ed25519; p=wG/6wjlBTtfEnxMoVvbp/Nu+vl5JJzjtm1fwHZKArOs="'; ok $? "a second key store change: served (${ELAPSED} ms)"
is "$(mn_dig +short sel1._domainkey.example.com TXT | wc -l)" 0 "the replaced selector is gone"
quiet_wait

# (7) quiet: the serials file the server writes at each reload starts no reload
r0=$(count 'reloading ')
sleep 2
is "$(( $(count 'reloading ') - r0 ))" 0 "2 s of quiet: no reload (the server's own serials writes are ignored)"
grep -q "$STATE/serials\|serials.tmp" "$MN_LOG"; ok $((! $?)) "no change noticed on the serials file"

# --- the query loop's verdict --------------------------------------------------
touch "$TMP/qloop.stop"
wait "$QPID"; ok $? "the query loop ran"
sum=$(cat "$TMP/qloop.out")
diag "$sum"
[ -s "$TMP/qloop.err" ] && diag "$(head -n 20 "$TMP/qloop.err")"
n=$(echo "$sum" | sed -n 's/.*queries=\([0-9]*\).*/\1/p')
[ "${n:-0}" -ge 100 ]; ok $? "the query loop sent ${n:-0} queries"
echo "$sum" | grep -q ' errors=0 '; ok $? "no error rcode, no timeout, no missing answer"
echo "$sum" | grep -q ' regressions=0 '; ok $? "never an older answer after a newer one (both names)"
echo "$sum" | grep -q ' gens=1,2,3 '; ok $? "the loop saw generations 1, 2, 3 in order"
echo "$sum" | grep -q ' org=none,reject '; ok $? "example.org's p went none -> reject, never back"
echo "$sum" | grep -q ' stopped=yes'; ok $? "the loop ran until the end of the edits"

mn_stop; ok $? "SIGTERM: mailnsd exits 0"
grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$MN_LOG"; ok $((! $?)) "no sanitizer report"
grep -q 'stopped' "$MN_LOG"; ok $? "clean stop logged"
done_testing
