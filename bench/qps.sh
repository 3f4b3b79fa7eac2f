#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# qps.sh -- issue 7's benchmark: mailnsd, NSD, Knot and PowerDNS (bind backend) on
# loopback serving the same
# N mail-auth domains (3 zones each: two 2048-bit DKIM selectors, a 20-network SPF
# record, a DMARC record), queried by dnsperf with 40 % DKIM, 30 % DMARC, 20 % SPF,
# 5 % NXDOMAIN, 5 % NODATA.  Prints one table: qps (median of REPS interleaved
# runs), server CPU used and kqps per server core, ratio to each peer, p50/p99 at
# a fixed rate, RSS and load time after start, reload time of one changed domain.
#
# Modes: udp1  server pinned to core 1 (taskset), dnsperf pinned to core 0, UDP
#        tcp1  the same over TCP (dnsperf -m tcp, RFC 7766 pipelining)
#        udp2  no pinning anywhere; the peers run 2 workers (NSD server-count 2
#              with reuseport, Knot udp-workers 2, PowerDNS receiver-threads 2 with
#              reuseport), mailnsd with server.threads: 2 when its policy accepts
#              that key, otherwise as it is
# "echo" (bench/echo.c, compiled here) sends every datagram back with QR set and does
# no DNS work: the load generator's ceiling, measured in udp1 only.
#
# Usage: bench/qps.sh [N]            (default 10000)
# Env:   MAILNSD, MAILNS  the binaries (default: BUILD/server/mailnsd, BUILD/tools/mailns,
#                         BUILD defaulting to the tree holding this script)
#        LEN=10 seconds per dnsperf run, REPS=3, LAT_QPS=20000 (rate of the latency
#        run), SERVERS="mailnsd nsd knot pdns echo", KEEP=1 keeps the temp dir (DATA=that dir
#        reuses its policy, zone files and queries in a later run), UNIQUE_DKIM=1
#        (every domain's DKIM records distinct, see gen-policy.sh), NICE=-15 the
#        niceness of the servers and dnsperf when run as root (0: none), so that other
#        work on the machine disturbs the figures less.
#        DNSSEC=1: the policy with `server.dnssec: true`; every server serves the same
#        signed zones (mailns zone --dir's output: NSD, Knot and PowerDNS load them
#        as they are, mailnsd signs with the same keys and stored signatures) and
#        every query has the DO bit (dnsperf -D): the answers carry RRSIGs, the
#        NXDOMAIN and NODATA ones NSEC proofs.  Use a fresh DATA dir for it.
# It is a benchmark, not a test: it prints figures and does not fail on a slow
# machine.  Loopback only; every daemon is stopped by its PID.  Needs dnsperf, nsd,
# knot, kdig, taskset, python3, cc (Debian: dnsperf nsd knot knot-dnsutils util-linux
# gcc); PowerDNS is measured when installed (pdns-server pdns-backend-bind; keep its
# packaged service from starting: it would listen on port 53).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top}
MAILNSD=${MAILNSD:-$BUILD/server/mailnsd}
MAILNS=${MAILNS:-$BUILD/tools/mailns}
N=${1:-10000}
LEN=${LEN:-10}
REPS=${REPS:-3}
LAT_QPS=${LAT_QPS:-20000}
SERVERS=${SERVERS:-mailnsd nsd knot pdns echo}
NICE=${NICE:--15}
DNSSEC=${DNSSEC:-0}
DO=()
[ "$DNSSEC" = 1 ] && DO=(-D)
PRIO=()
[ "$NICE" != 0 ] && [ "$(id -u)" = 0 ] && PRIO=(nice -n "$NICE")
for t in "$MAILNSD" "$MAILNS"; do
	[ -x "$t" ] || { echo "qps.sh: no $t (set BUILD=builddir, or MAILNSD and MAILNS)"; exit 2; }
done
for t in dnsperf nsd knotd knotc kdig taskset python3 ss; do
	command -v "$t" >/dev/null 2>&1 || { echo "qps.sh: $t not installed (apt-get install dnsperf nsd knot knot-dnsutils)"; exit 2; }
done
case " $SERVERS " in *" pdns "*)
	if ! command -v pdns_server >/dev/null 2>&1 || ! command -v pdns_control >/dev/null 2>&1; then
		echo "qps.sh: PowerDNS not installed (apt-get install pdns-server pdns-backend-bind): left out"
		SERVERS=$(echo " $SERVERS " | sed 's/ pdns / /; s/^ //; s/ $//')
	fi ;;
esac
ncpu=$(nproc)
[ "$ncpu" -ge 2 ] || echo "qps.sh: only $ncpu core: pinned modes share it with dnsperf"
SRV_CPU=1 GEN_CPU=0
[ "$ncpu" -ge 2 ] || SRV_CPU=0

if [ -n "${DATA:-}" ]; then	# the data of an earlier KEEP=1 run of the same N
	dir=$DATA; KEEP=1
	rm -rf "$dir/knot" "$dir"/xfrd.state "$dir"/zone.list "$dir"/nsd.pid
else
	dir=$(mktemp -d /tmp/mailns-qps.XXXXXX)
fi
declare -A PID PORT
cleanup() {
	local s p
	for s in "${!PID[@]}"; do p=${PID[$s]}; [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
	for s in "${!PID[@]}"; do p=${PID[$s]}; [ -n "$p" ] && wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

used_ports=""
free_port() { # a port free for UDP and TCP on loopback, not handed out before
	local p
	while :; do
		p=$(( 20000 + RANDOM % 40000 ))
		case " $used_ports " in *" $p "*) continue ;; esac
		ss -Hlnut | awk '{print $5}' | grep -qE "[:.]$p\$" && continue
		used_ports="$used_ports $p"; echo "$p"; return
	done
}
now() { date +%s.%N; }
cpustat() { awk '/^cpu[0-9]/ { b = 0; for (i = 2; i <= 9; i++) if (i != 5 && i != 6) b += $i; t = 0; for (i = 2; i <= 9; i++) t += $i; printf "%s:%d:%d ", $1, b, t }' /proc/stat; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# cpu_ticks PID: user+system clock ticks of a process tree, every thread
cpu_ticks() {
	local t=0 p v
	for p in $(tree_pids "$1"); do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$p"/stat 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
# all_ticks: clock ticks used by every user process so far (with reaped children's;
# kernel threads such as ksoftirqd, which do the bench's own packet work, left out)
all_ticks() { cat /proc/[0-9]*/stat 2>/dev/null | awk '{ sub(/^.*\) /, "") } $2 != 2 && $2 != 0 { t += $12 + $13 + $14 + $15 } END { print t }'; }
# mem_kb PID: "RSS PSS" in KB summed over the tree (PSS counts NSD's shared pages once)
mem_kb() {
	local r=0 s=0 p a b
	for p in $(tree_pids "$1"); do
		read -r a b < <(awk '/^Rss:/ {r = $2} /^Pss:/ {s = $2} END {print r + 0, s + 0}' /proc/"$p"/smaps_rollup 2>/dev/null)
		r=$((r + ${a:-0})); s=$((s + ${b:-0}))
	done
	echo "$r $s"
}

# ---------------------------------------------------------------- the data
if [ -z "${DATA:-}" ]; then
	log "generating $N domains in $dir"
	SELECTORS=2 SPF_NETS=20 "$top/bench/gen-policy.sh" "$N" "$dir" 5399
	sed -i "s|^  state_dir: .*|&\n  tcp_max_per_ip: 1000\n  tcp_max_clients: 2000|" "$dir/policy.yaml"
	[ "$DNSSEC" = 1 ] && sed -i "s|^  state_dir: .*|&\n  dnssec: true|" "$dir/policy.yaml"
	cp "$dir/policy.yaml" "$dir/policy-threads.yaml"
	sed -i "s|^  state_dir: .*|&\n  threads: 2|" "$dir/policy-threads.yaml"
	t0=$(now)
	"$MAILNS" zone -c "$dir/policy.yaml" --dir "$dir/zones" || { echo "qps.sh: mailns zone failed"; exit 1; }
	log "mailns zone --dir: $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"
	python3 "$top/bench/gen-queries.py" "$N" 200000 2 > "$dir/queries"
fi
case " $SERVERS " in *" echo "*)
	cc -O2 -o "$dir/echo" "$top/bench/echo.c" || { echo "qps.sh: cannot build bench/echo.c"; exit 1; } ;;
esac
THREADS_KEY=""
if "$MAILNS" check -c "$dir/policy-threads.yaml" >/dev/null 2>&1; then THREADS_KEY=yes; fi
last="_dmarc.d$((N - 1)).example"
CH=$(( N / 2 ))	# the domain whose DMARC record the reload step changes

. "$top/bench/peers.sh"
nsd_conf() { peers_nsd_conf "$dir" "${PORT[nsd]}" "$1"; }	# nsd_conf WORKERS
knot_conf() { peers_knot_conf "$dir" "${PORT[knot]}" "$1"; }	# knot_conf WORKERS
pdns_conf() { # pdns_conf WORKERS: the bind backend reading the same zone files
	mkdir -p "$dir/pdns"
	{
		printf 'options { directory "%s/zones"; };\n' "$dir"
		for f in "$dir/zones"/*.zone; do
			z=${f##*/}; z=${z%.zone}
			printf 'zone "%s" { type master; file "%s.zone"; };\n' "$z" "$z"
		done
	} > "$dir/pdns/named.conf"
	{
		printf 'launch=bind\nbind-config=%s/pdns/named.conf\nbind-check-interval=0\n' "$dir"
		printf 'local-address=127.0.0.1\nlocal-port=%s\nsocket-dir=%s/pdns\n' "${PORT[pdns]}" "$dir"
		printf 'daemon=no\nguardian=no\ndisable-syslog=yes\nloglevel=3\nwebserver=no\napi=no\n'
		printf 'reuseport=yes\nreceiver-threads=%s\nmax-tcp-connections=2000\n' "$1"
	} > "$dir/pdns/pdns.conf"
}
pdns_ctl() { pdns_control --config-dir="$dir/pdns" --socket-dir="$dir/pdns" "$@"; }

# start_once SERVER WORKERS CPUSET: exec under taskset (CPUSET "" = no pinning), wait
# for the last zone's answer; sets LOAD[s] (s) and MEM[s] ("RSS PSS" KB)
declare -A LOAD MEM
start() { # start SERVER WORKERS CPUSET: start_once, again on another port (3 tries) when
	# the port was taken meanwhile (other benchmarks on the machine pick ports too)
	local try
	for try in 1 2 3; do
		start_once "$@" && return 0
		grep -qi 'in use' "$dir/$1".{log,out} 2>/dev/null || return 1
		log "$1: its port was taken, another one"
	done
	return 1
}
start_once() {
	local s=$1 w=$2 cpus=$3 t0 up="" pin=() f
	PORT[$s]=$(free_port)	# chosen now: loading the data can take minutes
	[ "$s" = mailnsd ] && for f in "$dir/policy.yaml" "$dir/policy-threads.yaml"; do
		sed -i "s|^  listen: .*|  listen: [\"127.0.0.1:${PORT[$s]}\"]|" "$f"
	done
	pin=("${PRIO[@]}")
	[ -n "$cpus" ] && pin+=(taskset -c "$cpus")
	case $s in
	mailnsd)
		local pol="$dir/policy.yaml"
		[ "$w" -gt 1 ] && [ -n "$THREADS_KEY" ] && pol="$dir/policy-threads.yaml"
		t0=$(now); "${pin[@]}" "$MAILNSD" -f -c "$pol" > "$dir/mailnsd.log" 2>&1 & PID[$s]=$! ;;
	nsd)
		nsd_conf "$w"
		t0=$(now); "${pin[@]}" nsd -d -c "$dir/nsd.conf" > "$dir/nsd.out" 2>&1 & PID[$s]=$! ;;
	knot)
		knot_conf "$w"
		t0=$(now); "${pin[@]}" knotd -c "$dir/knot.conf" > "$dir/knot.out" 2>&1 & PID[$s]=$! ;;
	pdns)
		pdns_conf "$w"
		t0=$(now); "${pin[@]}" pdns_server --config-dir="$dir/pdns" > "$dir/pdns.out" 2>&1 & PID[$s]=$! ;;
	echo)
		t0=$(now); "${pin[@]}" "$dir/echo" "${PORT[$s]}" > "$dir/echo.out" 2>&1 & PID[$s]=$! ;;
	esac
	if [ "$s" = echo ]; then	# no DNS answers: bound is ready
		for f in $(seq 1 200); do
			ss -Hlnu "sport = :${PORT[$s]}" | grep -q . && { up=$(now); break; }
			sleep 0.05
		done
	else
		python3 "$top/bench/wait-answer.py" "${PORT[$s]}" "$last" DMARC1 300 "${PID[$s]}" && up=$(now)
	fi
	kill -0 "${PID[$s]}" 2>/dev/null || up=""
	if [ -z "$up" ]; then
		log "$s did not answer: $(tail -n 3 "$dir/$s".{log,out} 2>/dev/null | tr '\n' ' ')"
		kill -TERM "${PID[$s]}" 2>/dev/null; wait "${PID[$s]}" 2>/dev/null; PID[$s]=""
		return 1
	fi
	# pin every thread again: Knot binds its UDP workers to cores by itself
	# (worker 0 to core 0, where dnsperf runs), which would void taskset
	if [ -n "$cpus" ]; then
		for f in $(tree_pids "${PID[$s]}"); do taskset -a -p -c "$cpus" "$f" >/dev/null 2>&1; done
	fi
	[ -n "${LOAD[$s]:-}" ] && return 0	# load time and memory: of the first start only
	LOAD[$s]=$(awk -v a="$t0" -v b="$up" 'BEGIN { printf "%.2f", b - a }')
	sleep 0.5	# let a reload-on-start or zone-file timers settle before reading memory
	MEM[$s]=$(mem_kb "${PID[$s]}")
}
stop() {
	local s=$1 i
	[ -n "${PID[$s]:-}" ] || return 0
	kill -TERM "${PID[$s]}" 2>/dev/null
	for i in $(seq 1 200); do kill -0 "${PID[$s]}" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "${PID[$s]}" 2>/dev/null
	wait "${PID[$s]}" 2>/dev/null
	PID[$s]=""
}

# ------------------------------------------------------------- one dnsperf run
declare -A RUNS	# "s mode" -> "qps srv_cpu gen_cpu lost% other busy_srv busy_gen" one line per repetition
perf_run() { # perf_run SERVER MODE: appends one line to RUNS
	local s=$1 mode=$2 args=() pin=() a0 a1 c0 c1 t0 t1 k0 k1 out
	pin=("${PRIO[@]}")
	case $mode in
	udp1) pin+=(taskset -c "$GEN_CPU"); args=(-c 4 -q 500) ;;
	tcp1) pin+=(taskset -c "$GEN_CPU"); args=(-m tcp -c 8 -q 500) ;;
	udp2) args=(-c 4 -q 500) ;;
	esac
	a0=$(all_ticks); c0=$(cpu_ticks "${PID[$s]}"); t0=$(now); k0=$(cpustat)
	out="$dir/dp.$s.$mode"
	{ TIMEFORMAT='%U %S'; time "${pin[@]}" dnsperf -s 127.0.0.1 -p "${PORT[$s]}" -d "$dir/queries" \
		-e -l "$LEN" -t 2 "${DO[@]}" "${args[@]}" > "$out" 2>&1; } 2> "$out.time"
	c1=$(cpu_ticks "${PID[$s]}"); t1=$(now); k1=$(cpustat); a1=$(all_ticks)
	RUNS["$s $mode"]+=$(awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" \
		-v tf="$(cat "$out.time")" -v a0="$a0" -v a1="$a1" -v k0="$k0" -v k1="$k1" -v sc="cpu$SRV_CPU" -v gc="cpu$GEN_CPU" '
		function busy(c,   n, a, b, i, x, y) {	# busy share of core c between k0 and k1
			n = split(k0, a, " "); split(k1, b, " ")
			for (i = 1; i <= n; i++) if (index(a[i], c ":") == 1) {
				split(a[i], x, ":"); split(b[i], y, ":")
				return (y[3] - x[3]) > 0 ? (y[2] - x[2]) / (y[3] - x[3]) : 0
			}
			return 0
		}
		/Queries sent:/ { sent = $3 } /Queries lost:/ { lost = $3 }
		/Queries per second:/ { qps = $4 }
		END {
			split(tf, g, " ")
			cpu = (c1 - c0) / hz / (t1 - t0)
			gen = (g[1] + g[2]) / (t1 - t0)
			other = (a1 - a0) / hz / (t1 - t0) - cpu - gen
			printf "%.0f %.3f %.3f %.4f %.2f %.3f %.3f\n", qps, cpu, gen,
				(sent > 0 ? 100 * lost / sent : 0), (other > 0 ? other : 0), busy(sc), busy(gc)
		}' "$out")$'\n'
	log "$s $mode: $(echo "${RUNS["$s $mode"]}" | tail -n 2 | head -n 1) (qps srv_cpu gen_cpu lost% other_cpu core${SRV_CPU}_busy core${GEN_CPU}_busy)"
}

# ------------------------------------------------------------- latency
declare -A LAT
declare -A CPUQ
lat_run() { # lat_run SERVER: p50/p99 at LAT_QPS over UDP, pinned; the server's CPU a query
	local s=$1 c0 c1
	c0=$(cpu_ticks "${PID[$s]}")
	"${PRIO[@]}" taskset -c "$GEN_CPU" dnsperf -s 127.0.0.1 -p "${PORT[$s]}" -d "$dir/queries" -e -l 5 -t 2 "${DO[@]}" \
		-c 4 -q 500 -Q "$LAT_QPS" -v > "$dir/lat.$s" 2>&1
	c1=$(cpu_ticks "${PID[$s]}")
	# microseconds of server CPU (user + system) a completed query, at a rate below
	# saturation: what the other work on the machine changes least (it takes cores
	# away, it adds little to the cost of one query)
	CPUQ[$s]="${CPUQ[$s]:+${CPUQ[$s]} }"$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" \
		'/Queries completed:/ { if ($3 > 0) printf "%.2f", c / hz / $3 * 1e6; else printf "-" }' "$dir/lat.$s")
	LAT[$s]="${LAT[$s]:+${LAT[$s]} }"$(awk '$1 == ">" { print $NF * 1e6 }' "$dir/lat.$s" | sort -n | awk '
		{ v[NR] = $1 } END {
			if (NR == 0) { print "-/-"; exit }
			a = int(NR * 0.5); b = int(NR * 0.99)
			if (a < 1) a = 1
			if (b < 1) b = 1
			printf "%d/%d", v[a], v[b]
		}')
	log "$s latency p50/p99 us at $LAT_QPS qps: ${LAT[$s]##* }, CPU ${CPUQ[$s]##* } us a query"
}

# ------------------------------------------------------------- reload
declare -A RELOAD
# reload_run SERVER TAG [hup]: one domain's DMARC changes under LAT_QPS load; timed by
# bench/reload-poll.py as in bench/reload.sh: the poller renames the new file over the
# old one, signals the server or runs its reload command, and asks every millisecond;
# the seconds from the rename to the first answer with the new text (the clock starts
# in the running poller: an interpreter's start-up is not part of the figure)
reload_run() {
	local s=$1 tag=$2 r f zf bg lost how=() name="_dmarc.d$CH.example"
	local new="v=DMARC1; p=reject; rua=mailto:$tag@d$CH.example"
	local len=$(( 6 + 2 * ${LOAD[$s]%.*} ))	# long enough to cover a full reload
	"${PRIO[@]}" taskset -c "$GEN_CPU" dnsperf -s 127.0.0.1 -p "${PORT[$s]}" -d "$dir/queries" -e -l "$len" -t 2 "${DO[@]}" \
		-c 4 -q 500 -Q "$LAT_QPS" > "$dir/rl.$s.$tag" 2>&1 & bg=$!
	sleep 1.5
	case $s in
	mailnsd)	# the included file replaced by rename, as an editor or a config tool writes
		f=$(grep -l "^  d$CH.example:" "$dir"/domains.d/*.yaml)
		sed "s|rua: \[\"mailto:[a-z0-9]*@d$CH.example\"\]|rua: [\"mailto:$tag@d$CH.example\"]|" "$f" > "$f.tmp"
		[ "${3:-}" = hup ] && how=(hup "${PID[$s]}") ;;
	nsd|knot|pdns)
		zf="$dir/zones/$name.zone" f="$dir/zones/$name.zone.tmp"
		awk -v new="$new" '$4 == "SOA" { $7 = $7 + 1 } $4 == "TXT" { $0 = $1 "\t" $2 "\t" $3 "\tTXT\t\"" new "\"" } { print }' \
			"$zf" > "$f"
		case $s in
		nsd) how=(hup "${PID[$s]}") ;;
		knot) how=(cmd knotc -c "$dir/knot.conf" -s "$dir/knot/knot.sock" zone-reload "$name") ;;
		pdns) how=(cmd sh -c 'pdns_control --config-dir="$1" --socket-dir="$1" bind-reload-now "$2";
			pdns_control --config-dir="$1" --socket-dir="$1" purge "$2\$"' sh "$dir/pdns" "$name") ;;	# and its packet cache
		esac ;;
	esac
	if [ "$s" = mailnsd ]; then zf=$f; f=$f.tmp; fi
	r=$(python3 "$top/bench/reload-poll.py" "${PORT[$s]}" "$name" "mailto:$tag@d$CH.example" 300 "$f" "$zf" "${how[@]}")
	wait "$bg"
	lost=$(awk '/Queries lost:/ { print $3 }' "$dir/rl.$s.$tag")
	RELOAD[$s]="${RELOAD[$s]:+${RELOAD[$s]},}${r}/${lost:-?}"
	log "$s reload ($tag${3:+, $3}): $r s to the new answer, dnsperf lost ${lost:-?} queries"
}

# ------------------------------------------------------------- the run
LA0=$(uptime)
log "load before: $LA0"
active=""
for s in $SERVERS; do
	log "starting $s (1 worker, pinned to core $SRV_CPU)"
	if start "$s" 1 "$SRV_CPU"; then
		active="$active $s"
		log "$s: answering after ${LOAD[$s]} s, RSS/PSS ${MEM[$s]} KB"
	fi
done
# the same answers from each server: rcode and answer count of a few queries
dns_active=$(echo " $active " | sed 's/ echo / /')	# the servers that answer DNS
for q in "s1._domainkey.d1.example TXT" "_dmarc.d1.example TXT" "_spf.d1.example TXT" \
	"nx1._spf.d1.example TXT" "_dmarc.d1.example AAAA"; do
	line=""
	for s in $dns_active; do
		line="$line $s:$(kdig @127.0.0.1 -p "${PORT[$s]}" +time=1 +retry=0 $q 2>/dev/null |
			awk '/status:/ { sub(/,/, "", $6); st = $6 } /ANSWER:/ { for (i = 1; i <= NF; i++) if ($i == "ANSWER:") a = $(i + 1) } END { print st "/" a + 0 }' | tr -d ,)"
	done
	log "check $q:$line"
done
for r in $(seq 1 "$REPS"); do
	for s in $active; do perf_run "$s" udp1; done
	for s in $dns_active; do perf_run "$s" tcp1; done
	for s in $dns_active; do lat_run "$s"; done
done
for s in $dns_active; do reload_run "$s" chg1; done
case " $active " in *" mailnsd "*) reload_run mailnsd chg2 hup ;; esac
for s in $active; do stop "$s"; done
active2=""
for s in $SERVERS; do
	[ "$s" = echo ] && continue	# one thread: a ceiling for udp1 only
	log "starting $s (2 workers, no pinning)"
	start "$s" 2 "" && active2="$active2 $s"
done
for r in $(seq 1 "$REPS"); do
	for s in $active2; do perf_run "$s" udp2; done
done
for s in $active2; do stop "$s"; done
LA1=$(uptime)
log "load after: $LA1"

# ------------------------------------------------------------- the table
{
	for k in "${!RUNS[@]}"; do
		printf '%s' "${RUNS[$k]}" | sed "/^$/d; s|^|$k |"
	done
} > "$dir/runs"
for s in $SERVERS; do
	printf 'info %s %s %s %s %s %s\n' "$s" "${LOAD[$s]:--}" "${MEM[$s]:-- -}" \
		"$(med() { tr ' ' '\n' | cut -d/ -f"$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
			echo "$(echo "${LAT[$s]:--/-}" | med 1)/$(echo "${LAT[$s]:--/-}" | med 2)")" \
		"$(echo "${RELOAD[$s]:--}" | tr ' ' ',')" "$(echo "${CPUQ[$s]:--}" | tr ' ' ',')"
done >> "$dir/runs"
echo
echo "mailns bench/qps.sh: $N domains ($((3 * N)) zones$([ "$DNSSEC" = 1 ] && echo ", signed, DO-bit queries")), $(nproc) cores, dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ {print $2}'), ${LEN}s per run, $REPS interleaved runs, medians"
echo "load average before: ${LA0#*load average: }   after: ${LA1#*load average: }   servers and dnsperf at nice ${PRIO[2]:-0}"
python3 - "$dir/runs" "$SERVERS" "${THREADS_KEY:-no}" "$N" <<'PY'
import statistics, sys
rows, info = {}, {}
for l in open(sys.argv[1]):
    f = l.split()
    if f[0] == "info":
        info[f[1]] = f[2:]
    else:
        rows.setdefault((f[0], f[1]), []).append([float(x) for x in f[2:]])
servers = sys.argv[2].split()
ndom = int(sys.argv[4])
med = lambda v: statistics.median(v)
q = {k: med([r[0] for r in v]) for k, v in rows.items()}
hdr = ("server", "mode", "qps", "min-max", "srv_cpu", "kqps/core", "gen_cpu", "busy_c1/c0", "lost%", "other")
hdr += tuple("x" + p for p in servers) + ("p50/p99_us", "RSS_MB", "PSS_MB", "KB/dom", "load_s", "reload_s/lost")
print(" ".join("%-9s" % h for h in hdr))
n = None
for mode in ("udp1", "tcp1", "udp2"):
    for s in servers:
        v = rows.get((s, mode))
        if not v:
            continue
        cpu = med([r[1] for r in v])
        out = [s, mode, "%.0f" % q[(s, mode)], "%.0f-%.0f" % (min(r[0] for r in v), max(r[0] for r in v)),
               "%.2f" % cpu, "%.1f" % (q[(s, mode)] / cpu / 1000 if cpu else 0),
               "%.2f" % med([r[2] for r in v]),
               "%.2f/%.2f" % (med([r[5] for r in v]), med([r[6] for r in v])),
               "%.3f" % max(r[3] for r in v), "%.2f" % max(r[4] for r in v)]
        for p in servers:
            out.append("%.2f" % (q[(s, mode)] / q[(p, mode)]) if (p, mode) in q and q[(p, mode)] else "-")
        i = info.get(s)
        if mode == "udp1" and i:
            load, rss, pss, lat, rel = i[:5]
            out += [lat, "%.1f" % (int(rss) / 1024) if rss != "-" else "-",
                    "%.1f" % (int(pss) / 1024) if pss != "-" else "-",
                    "%.2f" % (int(rss) / ndom) if rss != "-" else "-", load, rel]
        else:
            out += ["-"] * 6
        print(" ".join("%-9s" % c for c in out))
for mode in ("udp2",):
    for s in servers:
        if (s, mode) in q and (s, "udp1") in q:
            print("scaling %s: udp2/udp1 = %.2f" % (s, q[(s, mode)] / q[(s, "udp1")]))
cpuq = {}
for s in servers:
    v = [float(x) for x in (info.get(s, [""] * 6)[5] if len(info.get(s, [])) > 5 else "").split(",") if x not in ("", "-")]
    if v:
        cpuq[s] = statistics.median(v)
if cpuq:
    print("server CPU a query at the latency run's rate, us (median): " +
          ", ".join("%s %.2f" % (s, c) for s, c in cpuq.items()))
    first = servers[0]
    for s in cpuq:
        if s != first and first in cpuq and cpuq[first]:
            print("  %s/%s = %.2f (how much more CPU a query %s uses)" % (s, first, cpuq[s] / cpuq[first], s))
if sys.argv[3] != "yes":
    print("note: mailnsd has no server.threads key yet: its udp2 row is one loop thread, unpinned")
PY
echo "columns: qps median over the runs (min-max); srv_cpu = the server's processes' cores (utime+stime / wall of the dnsperf run);"
echo " kqps/core = qps/srv_cpu; gen_cpu = dnsperf's cores likewise; busy_c1/c0 = share of core $SRV_CPU / core $GEN_CPU busy by anything"
echo " (incl. softirq: on loopback the kernel's receive work runs on the sender's core; near 1.00 on c0 = the generator is the limit);"
echo " lost% worst run; other = worst run's cores used by every other process on the machine (other helpers, builds):"
echo " high values mean a disturbed row; the load average includes the bench's own threads;"
echo " xS = this row's qps / S's qps in the same mode; p50/p99 from dnsperf -v at $LAT_QPS qps, UDP, pinned, 5 s, median of REPS; RSS/PSS after load"
echo " (1 worker, summed over the process tree); load_s exec -> first answer for the last zone; reload_s one domain's DMARC"
echo " changed -> the new answer (bench/reload-poll.py: from the rename, asked every 1 ms), under $LAT_QPS qps, the server"
echo " pinned to core $SRV_CPU with its answering thread (mailnsd: file replaced, watcher; then file replaced + SIGHUP;"
echo " NSD: zone file + SIGHUP; Knot: zone file + knotc zone-reload; PowerDNS: zone file + pdns_control bind-reload-now"
echo " and purge), with dnsperf's lost queries of that run.  echo: bench/echo.c, no DNS work (the generator's ceiling)."
