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
