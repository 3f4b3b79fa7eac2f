# SPDX-License-Identifier: GPL-3.0-or-later
# tap.sh -- TAP helpers and server fixtures for the integration scripts (sourced)

TAP_N=0
TAP_FAILED=0
# ok, check and is return 0 when the point passed and 1 when it failed, so that
# `ok $? "…" || diag "…"` shows its diagnostics on a failure only.
ok() { # ok COND_EXIT_STATUS DESCRIPTION
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ] 2>/dev/null; then
		echo "ok $TAP_N - $2"
		return 0
	fi
	echo "not ok $TAP_N - $2"
	[[ "$1" =~ ^-?[0-9]+$ ]] || echo "# ok: status '$1' is not a number"
	TAP_FAILED=$((TAP_FAILED + 1))
	return 1
}
check() { # check DESCRIPTION -- COMMAND...: passes when COMMAND exits 0
	local d="$1"; shift; [ "$1" = "--" ] && shift
	"$@"; ok $? "$d"
}
is() { # is GOT WANT DESCRIPTION
	TAP_N=$((TAP_N + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $TAP_N - $3"
		return 0
	fi
	echo "not ok $TAP_N - $3"
	printf '# got:  %s\n# want: %s\n' "$1" "$2" | sed '2,${/^#/!s/^/# /}'
	TAP_FAILED=$((TAP_FAILED + 1))
	return 1
}
diag() { echo "$*" | sed 's/^/# /'; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
done_testing() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }

# ---- mailnsd fixture -------------------------------------------------------
MAILNSD="${top_builddir:-.}/server/mailnsd"
MAILNS="${top_builddir:-.}/tools/mailns"
MN_PID=""
MN_PORT=""

mn_tmpdir() { # creates $TMP, removed (and the server stopped) on exit
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/mailns-test.XXXXXX") || exit 1
	trap mn_cleanup EXIT
}
mn_cleanup() {
	mn_stop >/dev/null 2>&1
	[ -n "${TMP:-}" ] && rm -rf "$TMP"
}

mn_port_free() { # mn_port_free PORT: nothing listens on it (UDP or TCP)
	! ss -Hlnut 2>/dev/null | awk '{print $5}' | grep -qE "[:.]$1\$"
}

mn_dig() { # mn_dig ARGS...: kdig against the running server, bounded
	kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 "$@"
}

# mn_free_port [EXCLUDED...]: prints a loopback port free for UDP and TCP, none of
# EXCLUDED, in 20000-31999 (below Linux's ephemeral range, 32768+, so that no
# outgoing connection of a parallel test takes it meanwhile).  Fails after 8 tries.
mn_free_port() {
	local try p
	for try in 1 2 3 4 5 6 7 8; do
		p=$(( 20000 + ( (RANDOM << 3) ^ $$ ^ (try * 7919) ) % 12000 ))
		mn_port_free "$p" || continue
		case " $* " in *" $p "*) continue ;; esac
		echo "$p"
		return 0
	done
	return 1
}

# mn_wait_answer PORT NAME PID: waits (at most 10 s) until the server on
# 127.0.0.1#PORT answers SOA NAME; fails early if process PID is gone.
mn_wait_answer() {
	local i
	for i in $(seq 1 100); do
		kdig @127.0.0.1 -p "$1" +time=1 +retry=0 +short SOA "$2" 2>/dev/null | grep -q . && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# mn_start TEMPLATE [MAILNSD-ARGS]: writes $TMP/policy.yaml from TEMPLATE with
# @PORT@ and @TMP@ replaced, starts mailnsd -f on a free loopback port, waits
# until it answers.  Sets MN_PID, MN_PORT, MN_LOG.  Returns 1 if it never came up.
# mn_reloads_settled: waits (up to 50 s) until mailnsd has no reload running or
# pending: every "reloading" logged has ended ("reloaded" or "reload failed") and the
# log has not grown for a second (longer than the file watcher's 300 ms debounce, so
# a change it saw has started its reload by then).  Tests that change files mailnsd
# writes call it first: the watcher's reloads, woken by the test's own edits, would
# otherwise rewrite them under the test.  Returns 1 when it never settles.
mn_reloads_settled() {
	local i size last=-1 started ended
	for i in $(seq 1 50); do
		size=$(wc -c <"$MN_LOG")
		started=$(grep -c 'reloading /' "$MN_LOG")
		ended=$(grep -cE 'reloaded: |reload failed' "$MN_LOG")
		[ "$size" = "$last" ] && [ "$started" -le "$ended" ] && return 0
		last=$size
		sleep 1
	done
	return 1
}

mn_start() {
	local template=$1 try port i
	shift
	MN_LOG="$TMP/mailnsd.log"
	for try in 1 2 3 4 5 6 7 8; do
		port=$(mn_free_port) || break
		sed -e "s|@PORT@|$port|g" -e "s|@TMP@|$TMP|g" "$template" > "$TMP/policy.yaml"
		"$MAILNSD" -f -c "$TMP/policy.yaml" "$@" >>"$MN_LOG" 2>&1 &
		MN_PID=$!
		MN_PORT=$port
		for i in $(seq 1 100); do
			if ! kill -0 "$MN_PID" 2>/dev/null; then
				wait "$MN_PID" 2>/dev/null
				MN_PID=""
				break
			fi
			if kdig @127.0.0.1 -p "$port" +time=1 +retry=0 +short SOA "$MN_PROBE" 2>/dev/null | grep -q .; then
				return 0
			fi
			sleep 0.1
		done
		[ -n "$MN_PID" ] && { kill -TERM "$MN_PID"; wait "$MN_PID"; MN_PID=""; }
		grep -qi 'in use' "$MN_LOG" || break
	done
	diag "mailnsd did not start:"; diag "$(tail -n 20 "$MN_LOG")"
	return 1
}
MN_PROBE="_dmarc.example.com"

# mn_stop: SIGTERM, wait (bounded), return the server's exit status
mn_stop() {
	[ -n "$MN_PID" ] || return 0
	local i rc
	kill -TERM "$MN_PID" 2>/dev/null
	for i in $(seq 1 100); do
		kill -0 "$MN_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$MN_PID" 2>/dev/null; then
		kill -KILL "$MN_PID"
		wait "$MN_PID" 2>/dev/null
		MN_PID=""
		return 124
	fi
	wait "$MN_PID"
	rc=$?
	MN_PID=""
	return $rc
}

# ---- peer daemons: NSD, Knot and unbound on loopback ------------------------
# The *_server helpers print the common part of a configuration, everything the
# daemon writes kept under DIR (its log: DIR/nsd.log, DIR/knot.log, DIR/unbound.log);
# the caller appends its own options and zones.  The *_start helpers run the daemon
# in the foreground as a job of the calling shell (its output in DIR/NAME.out) and
# put its PID in the variable named VAR (default NSD_PID, KNOT_PID, UB_PID); the
# caller stops it by that PID (mn_stop_pids).  Ports come from mn_free_port.

# mn_nsd_server DIR PORT [VERBOSITY]: NSD's remote-control: section (off: parallel
# NSDs would all want its port) and its server: section on 127.0.0.1:PORT, zone files
# in DIR (zonesdir), last, for the caller's server options and zones to follow
mn_nsd_server() {
	printf 'remote-control:\n  control-enable: no\n'
	printf 'server:\n  ip-address: 127.0.0.1\n  port: %s\n  username: ""\n  chroot: ""\n' "$2"
	printf '  zonesdir: "%s"\n  pidfile: "%s/nsd.pid"\n  database: ""\n' "$1" "$1"
	printf '  xfrdfile: "%s/xfrd.state"\n  zonelistfile: "%s/zone.list"\n  xfrdir: "%s"\n' "$1" "$1" "$1"
	printf '  logfile: "%s/nsd.log"\n  server-count: 1\n  verbosity: %s\n' "$1" "${3:-1}"
}
mn_nsd_start() { # mn_nsd_start DIR CONF [VAR]
	nsd -d -c "$2" >>"$1/nsd.out" 2>&1 &
	printf -v "${3:-NSD_PID}" '%s' $!
}

# mn_knot_server DIR PORT: Knot's server, log and database sections on 127.0.0.1:PORT
mn_knot_server() {
	printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: "%s"\n' "$2" "$1"
	printf 'log:\n  - target: "%s/knot.log"\n    any: info\n' "$1"
	printf 'database:\n  storage: "%s"\n' "$1"
}
mn_knot_start() { # mn_knot_start DIR CONF [VAR]
	knotd -c "$2" >>"$1/knot.out" 2>&1 &
	printf -v "${3:-KNOT_PID}" '%s' $!
}

# mn_unbound_server DIR PORT [MODULES]: unbound's server: section, a resolver on
# 127.0.0.1:PORT that asks only loopback (stub zones, mn_stub), one thread, no
# prefetch; MODULES: module-config (default "iterator"); remote control off, first
mn_unbound_server() {
	printf 'remote-control:\n  control-enable: no\n'
	printf 'server:\n  interface: 127.0.0.1\n  port: %s\n  do-ip6: no\n' "$2"
	printf '  access-control: 127.0.0.0/8 allow\n'
	printf '  username: ""\n  chroot: ""\n  directory: "%s"\n  pidfile: "%s/unbound.pid"\n' "$1" "$1"
	printf '  use-syslog: no\n  logfile: "%s/unbound.log"\n  verbosity: 1\n' "$1"
	printf '  num-threads: 1\n  so-reuseport: no\n  outgoing-interface: 127.0.0.1\n'
	printf '  do-not-query-localhost: no\n  module-config: "%s"\n' "${3:-iterator}"
	printf '  harden-referral-path: no\n  qname-minimisation: no\n  target-fetch-policy: "0 0 0 0 0"\n'
	printf '  prefetch: no\n'
}
mn_stub() { # mn_stub ZONE PORT: a stub zone to 127.0.0.1@PORT
	printf 'stub-zone:\n  name: "%s"\n  stub-addr: 127.0.0.1@%s\n' "$1" "$2"
}
mn_unbound_start() { # mn_unbound_start DIR CONF [VAR]
	unbound -d -c "$2" >>"$1/unbound.out" 2>&1 &
	printf -v "${3:-UB_PID}" '%s' $!
}

# mn_peer_up PORT NAME PID DESCRIPTION LOG...: one test point, that the daemon PID
# answers SOA NAME on PORT (mn_wait_answer); when it does not, the tails of LOG...
# and the end of the test (exit 1)
mn_peer_up() {
	local port=$1 name=$2 pid=$3 what=$4 up
	shift 4
	mn_wait_answer "$port" "$name" "$pid"; up=$?
	ok $up "$what"
	[ $up -eq 0 ] && return 0
	diag "$(cat "$@" 2>/dev/null | tail -20)"
	done_testing
	exit 1
}

# mn_stop_pids PID...: SIGTERM, a bounded wait (10 s) for each, then SIGKILL; reaped
mn_stop_pids() {
	local p i
	for p in "$@"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	for p in "$@"; do
		[ -n "$p" ] || continue
		for i in $(seq 1 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 0
}

# mn_serial PORT ZONE: the SOA serial 127.0.0.1#PORT serves for ZONE (empty: none)
mn_serial() { kdig @127.0.0.1 -p "$1" +time=1 +retry=0 +short SOA "$2" 2>/dev/null | awk '{print $3}'; }
# mn_synced PORT ZONE...: every ZONE served on PORT with mailnsd's serial (polls up to 15 s)
mn_synced() {
	local port=$1 i z ok
	shift
	for i in $(seq 1 150); do
		ok=0
		for z in "$@"; do
			[ "$(mn_serial "$port" "$z")" = "$(mn_serial "$MN_PORT" "$z")" ] || { ok=1; break; }
		done
		[ $ok -eq 0 ] && return 0
		sleep 0.1
	done
	return 1
}
# mn_served PORT NAME TYPE WANT: polls (up to 10 s) until kdig +short NAME TYPE on PORT prints WANT
mn_served() {
	local i
	for i in $(seq 1 100); do
		[ "$(kdig @127.0.0.1 -p "$1" +time=1 +retry=0 +short "$2" "$3" 2>/dev/null)" = "$4" ] && return 0
		sleep 0.1
	done
	return 1
}
