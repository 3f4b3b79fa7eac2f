# SPDX-License-Identifier: GPL-3.0-or-later
# peers.sh -- NSD and Knot DNS configurations serving the zone files of `mailns zone
# --dir DIR/zones`, for the benchmarks that run them beside mailnsd (sourced by
# bench/qps.sh and bench/reload.sh; defines functions only, tree_pids for both too).
# Both are set up as an operator of many small zones would: NSD with one pattern and
# its zones in the zone list file (DIR/zone.list: nsd.conf stays small, so nsd-control
# does not parse 300,000 zone clauses for every command), no database, no zone file
# writes, no response rate limiting (mailnsd runs with rate_limit: 0 too: the
# benchmarks query from 127.0.0.1 alone, and NSD's default of 200 answers a second to
# one source would throttle the pollers, which ask every millisecond); Knot with one
# template, no zone file sync, no journal, no semantic checks.

# tree_pids PID...: each PID and its descendants (NSD forks xfrd, its main and server
# processes), for the benchmarks' CPU and memory sums
tree_pids() {
	local p c
	for p in "$@"; do
		echo "$p"
		for c in $(pgrep -P "$p"); do tree_pids "$c"; done
	done
}

# peers_zone_names DIR: the zone names of DIR/zones/*.zone, one a line
peers_zone_names() {
	find "$1/zones" -maxdepth 1 -name '*.zone' -printf '%f\n' | sed 's/\.zone$//' | sort
}

# peers_nsd_conf DIR PORT WORKERS [CONTROL_SOCKET]: writes DIR/nsd.conf and
# DIR/zone.list, one zone per DIR/zones/*.zone, on 127.0.0.1:PORT; with
# CONTROL_SOCKET, nsd-control over that unix socket (no TLS: `nsd-control -c
# DIR/nsd.conf reload ZONE`)
peers_nsd_conf() {
	local dir=$1 port=$2 w=$3 sock=${4:-}
	{
		printf 'server:\n  ip-address: 127.0.0.1\n  port: %s\n  username: ""\n  chroot: ""\n' "$port"
		printf '  zonesdir: "%s/zones"\n  pidfile: "%s/nsd.pid"\n  database: ""\n' "$dir" "$dir"
		printf '  xfrdfile: "%s/xfrd.state"\n  zonelistfile: "%s/zone.list"\n' "$dir" "$dir"
		printf '  xfrdir: "%s"\n  server-count: %s\n  reuseport: yes\n  verbosity: 0\n' "$dir" "$w"
		printf '  logfile: "%s/nsd.log"\n  minimal-responses: yes\n  refuse-any: yes\n' "$dir"
		printf '  tcp-count: 1000\n  zonefiles-write: 0\n  rrl-ratelimit: 0\n'
		if [ -n "$sock" ]; then
			printf 'remote-control:\n  control-enable: yes\n  control-interface: "%s"\n' "$sock"
		else
			printf 'remote-control:\n  control-enable: no\n'
		fi
		printf 'pattern:\n  name: "mailns"\n  zonefile: "%%s.zone"\n'
	} > "$dir/nsd.conf"
	{
		printf '# NSD zone list\n# name pattern\n'
		peers_zone_names "$dir" | sed 's/$/ mailns/; s/^/add /'
	} > "$dir/zone.list"
}

# peers_knot_conf DIR PORT WORKERS [BACKGROUND_WORKERS]: writes DIR/knot.conf (control
# socket DIR/knot/knot.sock), one zone per DIR/zones/*.zone, on 127.0.0.1:PORT; WORKERS
# UDP and TCP workers, BACKGROUND_WORKERS (default WORKERS) for loading the zones
peers_knot_conf() {
	local dir=$1 port=$2 w=$3 bg=${4:-$3}
	mkdir -p "$dir/knot"
	{
		printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: "%s/knot"\n' "$port" "$dir"
		printf '  udp-workers: %s\n  tcp-workers: %s\n  background-workers: %s\n' "$w" "$w" "$bg"
		printf 'control:\n  listen: "%s/knot/knot.sock"\n' "$dir"
		printf 'log:\n  - target: "%s/knot.log"\n    any: warning\n' "$dir"
		printf 'database:\n  storage: "%s/knot"\n' "$dir"
		printf 'template:\n  - id: default\n    storage: "%s/zones"\n    file: "%%s.zone"\n' "$dir"
		printf '    zonefile-sync: -1\n    journal-content: none\n    semantic-checks: off\n'
		printf 'zone:\n'
		peers_zone_names "$dir" | sed 's/^\(.*\)$/  - domain: "\1"/'
	} > "$dir/knot.conf"
}
