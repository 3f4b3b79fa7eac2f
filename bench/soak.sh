#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# soak.sh -- issue 17's soak: RELOADS one-domain reloads of mailnsd at N domains under
# query load.  Each round edits one domain's included file (its DMARC rua gets the
# round's tag gK), sends SIGHUP and waits until the new record is answered.  Meanwhile
# dnsperf sends QPS queries a second (issue 7's mix, in back-to-back runs of 30 s, 4 MB
# socket buffers; the drops ss counts at its sockets and at mailnsd's say who lost) and
# a checker asks on one socket (one loop thread: SO_REUSEPORT keeps a socket on one)
# by turns for the edited domain's TXT and SOA and for another domain's TXT: the
# round K of the TXT and SERIAL - SERIAL0 of the SOA must never go back from one
# answer to the next (a record and a serial from the same complete generation), and
# every other domain must answer its own record.  Prints RSS after the first reload
# and at the end (and every 10 % of the rounds), dnsperf's lost queries, the
# checker's errors and the reload times.  The resident sizes are taken once no reload
# runs or waits (the log's "reloading" lines all ended, then 0.5 s): after the first
# reload, at every 10 % of the rounds and at the end; a sampler reads VmRSS every
# 0.1 s besides, for the peaks while two generations live side by side.  Also
# printed: mailnsd's CPU seconds over the rounds and the load average.
#
# Usage: bench/soak.sh [N]           (default 100000)
# Env:   ROUNDS=2000 (RELOADS too), QPS=20000 (0: no load), MAX_S=7200 (stops after
#        the round that passes it), MAILNSD, UNIQUE_DKIM=1, DATA=dir of an earlier
#        bench/reload.sh or soak.sh KEEP=1 run of the same N (used in place: copy a
#        shared one first), KEEP=1.
# A benchmark, not a test: loopback only, mailnsd stopped by its PID, every loop bounded.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
MAILNSD=${MAILNSD:-$top/server/mailnsd}
N=${1:-100000}
RELOADS=${ROUNDS:-${RELOADS:-2000}}
MAX_S=${MAX_S:-7200}
QPS=${QPS:-20000}
UNIQUE_DKIM=${UNIQUE_DKIM:-1}
for t in dnsperf python3 ss; do
	command -v "$t" >/dev/null 2>&1 || { echo "soak.sh: $t not installed"; exit 2; }
done
[ -x "$MAILNSD" ] || { echo "soak.sh: no $MAILNSD"; exit 2; }
if [ -n "${DATA:-}" ]; then
	dir=$DATA; KEEP=1
else
	dir=$(mktemp -d /tmp/mailns-soak.XXXXXX)
	SELECTORS=2 SPF_NETS=20 UNIQUE_DKIM=$UNIQUE_DKIM "$top/bench/gen-policy.sh" "$N" "$dir" 5399
fi
[ -f "$dir/queries" ] || python3 "$top/bench/gen-queries.py" "$N" 200000 2 > "$dir/queries"
PID=""
cleanup() {
	[ -n "$PID" ] && { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	[ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
while :; do
	PORT=$(( 20000 + RANDOM % 40000 ))
	ss -Hlnut | awk '{print $5}' | grep -qE "[:.]$PORT\$" || break
done
sed -i "s|^  listen: .*|  listen: [\"127.0.0.1:$PORT\"]|" "$dir/policy.yaml"
"$MAILNSD" -f -c "$dir/policy.yaml" > "$dir/soak-mailnsd.log" 2>&1 & PID=$!
python3 "$top/bench/wait-answer.py" "$PORT" "_dmarc.d$((N - 1)).example" DMARC1 600 "$PID" ||
	{ echo "soak.sh: mailnsd did not answer"; exit 1; }
CH=$(( N / 3 ))
FILE=$(grep -l "^  d$CH.example:" "$dir"/domains.d/*.yaml)
echo "soak.sh: $N domains, $RELOADS reloads of d$CH.example ($FILE) under $QPS qps, mailnsd pid $PID port $PORT; $(uptime | sed 's/.*\(load average\)/\1/')"
python3 - "$PORT" "$PID" "$N" "$CH" "$FILE" "$RELOADS" "$QPS" "$dir" "$MAX_S" <<'PY'
import os, random, re, signal, socket, struct, subprocess, sys, threading, time
port, pid, n, ch, path, rounds, qps, d, max_s = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                                 int(sys.argv[4]), sys.argv[5], int(sys.argv[6]),
                                                 int(sys.argv[7]), sys.argv[8], float(sys.argv[9]))
log = d + "/soak-mailnsd.log"
name = "_dmarc.d%d.example" % ch

def wire(q):
    return b"".join(bytes([len(l)]) + l.encode() for l in q.split(".")) + b"\0"

def rss():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
    return 0

class Asker:
    """One UDP socket, one query in flight: (rcode, answer bytes) or None after 1 s."""
    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.connect(("127.0.0.1", port))
        self.s.settimeout(1.0)
        self.id = random.randrange(65536)
    def ask(self, qname, qtype):
        self.id = (self.id + 1) & 0xffff
        self.s.send(struct.pack(">HHHHHH", self.id, 0x0100, 1, 0, 0, 0) + wire(qname) + struct.pack(">HH", qtype, 1))
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            try:
                m = self.s.recv(65535)
            except socket.timeout:
                return None
            if len(m) >= 12 and struct.unpack(">H", m[:2])[0] == self.id:
                return m[3] & 15, m
        return None

def cpu_s():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def settled(timeout=120):
    """RSS once every reload logged has ended and the log is still for 0.5 s."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        text = open(log, errors="replace").read()
        started = text.count("reloading /")
        ended = text.count("reloaded: ") + text.count("reload failed")
        if started <= ended and len(text) == last:
            return rss()
        last = len(text)
        time.sleep(0.5)
    return rss()

def sock_drops(filt, proc=None):
    """{local address: drops} of the UDP sockets ss shows for filt (skmem's d), of process proc only."""
    out = subprocess.run(["ss", "-Huamnp", filt], capture_output=True, text=True).stdout
    drops, local = {}, None
    for l in out.splitlines():
        f = l.split()
        if len(f) >= 4 and not l[0].isspace():
            local = f[3] if proc is None or (",pid=%d," % proc) in l else None
        m = re.search(r"skmem:\(.*,d(\d+)\)", l)
        if m and local is not None:
            drops[local] = int(m.group(1))
    return drops

peak = [0, 1 << 62]    # the sampler's max and min along the rounds
client_drops = {}      # dnsperf's sockets (by local address): the most drops seen
def sampler():
    i = 0
    while not stop.is_set():
        r = rss()
        peak[0] = max(peak[0], r)
        peak[1] = min(peak[1], r)
        i += 1
        if i % 10 == 0:
            if perf[0] is not None:
                for k, v in sock_drops("src 0.0.0.0", perf[0]).items():
                    client_drops[(perf[0], k)] = max(client_drops.get((perf[0], k), 0), v)
        time.sleep(0.1)

def skip_name(m, o):
    while True:
        l = m[o]
        if l >= 0xc0:
            return o + 2
        if l == 0:
            return o + 1
        o += l + 1

def soa_serial(m):
    # the first answer record's SOA RDATA: MNAME, RNAME, then SERIAL
    o = skip_name(m, 12) + 4
    o = skip_name(m, o) + 10
    o = skip_name(m, skip_name(m, o))
    return struct.unpack(">I", m[o:o + 4])[0]

stop = threading.Event()
lost = [0, 0]          # dnsperf: lost, sent
perf = [None]          # the running dnsperf's pid
checks = {"asked": 0, "timeouts": 0, "back": 0, "wrong": 0}
def load():
    while qps > 0 and not stop.is_set():
        p = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", d + "/queries", "-e", "-b", "4096",
                              "-l", "30", "-t", "2", "-c", "4", "-q", "500", "-Q", str(qps)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        perf[0] = p.pid
        out = p.communicate()[0]
        perf[0] = None
        m1 = re.search(r"Queries sent:\s+(\d+)", out)
        m2 = re.search(r"Queries lost:\s+(\d+)", out)
        if m1 and m2:
            lost[1] += int(m1.group(1)); lost[0] += int(m2.group(1))
state = {"k0": None, "s0": None}
def check():
    a = Asker()
    last = -1
    i = 0
    while not stop.is_set():
        i += 1
        kind = i % 3
        if kind == 2:
            x = random.randrange(n)
            if x == ch:
                continue
            r = a.ask("_dmarc.d%d.example" % x, 16)
            checks["asked"] += 1
            if r is None:
                checks["timeouts"] += 1
            elif r[0] != 0 or (b"@d%d.example" % x) not in r[1]:
                checks["wrong"] += 1
            continue
        r = a.ask(name, 16 if kind == 0 else 6)
        checks["asked"] += 1
        if r is None:
            checks["timeouts"] += 1
            continue
        if r[0] != 0:
            checks["wrong"] += 1
            continue
        if kind == 0:
            mk = re.search(rb"mailto:g(\d+)@", r[1])
            g = int(mk.group(1)) if mk else 0
        else:
            if state["s0"] is None:
                continue
            g = soa_serial(r[1]) - state["s0"]
        if g < last:
            checks["back"] += 1
        last = max(last, g)

text = open(path).read()
pat = re.compile(r'(  d%d\.example:\n(?:    .*\n)*?    dmarc: \{ p: reject, rua: \["mailto:)[a-z0-9]*(@d%d\.example"\] \})' % (ch, ch))
if not pat.search(text):
    sys.exit("soak.sh: cannot find d%d's dmarc line in %s" % (ch, path))
def edit(k):
    global text
    text = pat.sub(lambda m: m.group(1) + "g%d" % k + m.group(2), text)
    with open(path + ".new", "w") as f:
        f.write(text)
    os.rename(path + ".new", path)

a = Asker()
def wait_tag(k, timeout=120):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        r = a.ask(name, 16)
        if r and b"mailto:g%d@" % k in r[1]:
            return time.monotonic() - t0
        time.sleep(0.002)
    return None

# round 0: the tag g0 and its serial are the reference (SERIAL0 = serial - 0)
edit(0); os.kill(pid, signal.SIGHUP)
if wait_tag(0) is None:
    sys.exit("soak.sh: the first reload was not served")
rss1 = settled()
r = a.ask(name, 6)
state["s0"] = soa_serial(r[1])
print("after the first reload: RSS %d KB, serial %d" % (rss1, state["s0"]), flush=True)
threads = [threading.Thread(target=load), threading.Thread(target=check), threading.Thread(target=sampler)]
for t in threads:
    t.start()
times = []
marks = []
t_start = time.monotonic()
cpu0 = cpu_s()
srv0 = sum(sock_drops("sport = :%d" % port).values())
for k in range(1, rounds + 1):
    if time.monotonic() - t_start > max_s:
        print("stopped after %d rounds: MAX_S=%.0f s passed" % (k - 1, max_s), flush=True)
        break
    time.sleep(0.05)
    edit(k)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGHUP)
    w = wait_tag(k)
    if w is None:
        print("round %d: the new record not served within 120 s" % k, flush=True)
        break
    times.append(time.monotonic() - t0)
    if k % max(1, rounds // 10) == 0:
        marks.append((k, settled()))
        print("round %d: RSS %d KB (%+.1f %%), reload median so far %.3f s, %s" %
              (k, marks[-1][1], 100.0 * (marks[-1][1] - rss1) / rss1, sorted(times)[len(times) // 2],
               open("/proc/loadavg").read().split(" ")[0]), flush=True)
cpu1 = cpu_s()
srv1 = sum(sock_drops("sport = :%d" % port).values())
t_rounds = time.monotonic() - t_start
stop.set()
for t in threads:
    t.join()
rss2 = settled()
times.sort()
q = lambda f: times[min(len(times) - 1, int(f * len(times)))] if times else float("nan")
print()
print("reloads %d in %.0f s; SIGHUP -> new answer (under load): median %.3f s, p90 %.3f, max %.3f" %
      (len(times), t_rounds, q(0.5), q(0.9), times[-1] if times else float("nan")))
print("mailnsd CPU over the rounds: %.1f s (%.3f s a round, queries included)" %
      (cpu1 - cpu0, (cpu1 - cpu0) / max(1, len(times))))
print("RSS after the first reload %d KB, at the end %d KB: %+.1f %%" % (rss1, rss2, 100.0 * (rss2 - rss1) / rss1))
if marks:
    lo, hi = min(m[1] for m in marks), max(m[1] for m in marks)
    print("RSS at every 10 %% (settled): %d-%d KB (%+.1f %% to %+.1f %%); sampled every 0.1 s: %d-%d KB (%+.1f %% to %+.1f %%)" %
          (lo, hi, 100.0 * (lo - rss1) / rss1, 100.0 * (hi - rss1) / rss1,
           peak[1], peak[0], 100.0 * (peak[1] - rss1) / rss1, 100.0 * (peak[0] - rss1) / rss1))
print("load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
print("dnsperf: %d sent, %d lost; dropped by a full receive buffer: %d at mailnsd's sockets, %d at dnsperf's (its 1 s samples)" %
      (lost[1], lost[0], srv1 - srv0, sum(client_drops.values())))
print("checker: %d asked, %d timeouts, %d wrong answers, %d times a generation went back" %
      (checks["asked"], checks["timeouts"], checks["wrong"], checks["back"]))
PY
