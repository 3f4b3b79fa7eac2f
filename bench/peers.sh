# SPDX-License-Identifier: GPL-3.0-or-later
# peers.sh -- NSD and Knot DNS configurations serving the zone files of `mailns zone
# --dir DIR/zones`, for the benchmarks that run them beside mailnsd (sourced by
# bench/qps.sh and bench/reload.sh; defines functions only).

# peers_nsd_conf DIR PORT WORKERS [CONTROL_SOCKET]: writes DIR/nsd.conf, one zone per
# DIR/zones/*.zone, on 127.0.0.1:PORT; with CONTROL_SOCKET, nsd-control over that
# unix socket (no TLS: `nsd-control -c DIR/nsd.conf reload ZONE`)
peers_nsd_conf() {
	local dir=$1 port=$2 w=$3 sock=${4:-} f z
	{
		printf 'server:\n  ip-address: 127.0.0.1\n  port: %s\n  username: ""\n  chroot: ""\n' "$port"
		printf '  zonesdir: "%s/zones"\n  pidfile: "%s/nsd.pid"\n  database: ""\n' "$dir" "$dir"
		printf '  xfrdfile: "%s/xfrd.state"\n  zonelistfile: "%s/zone.list"\n' "$dir" "$dir"
		printf '  xfrdir: "%s"\n  server-count: %s\n  reuseport: yes\n  verbosity: 0\n' "$dir" "$w"
		printf '  logfile: "%s/nsd.log"\n  minimal-responses: yes\n  refuse-any: yes\n' "$dir"
		printf '  tcp-count: 1000\n'
		if [ -n "$sock" ]; then
			printf 'remote-control:\n  control-enable: yes\n  control-interface: "%s"\n' "$sock"
		else
			printf 'remote-control:\n  control-enable: no\n'
		fi
		for f in "$dir/zones"/*.zone; do
			z=${f##*/}; z=${z%.zone}
			printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"
		done
	} > "$dir/nsd.conf"
}

# peers_knot_conf DIR PORT WORKERS: writes DIR/knot.conf (control socket
# DIR/knot/knot.sock), one zone per DIR/zones/*.zone, on 127.0.0.1:PORT
peers_knot_conf() {
	local dir=$1 port=$2 w=$3 f z
	mkdir -p "$dir/knot"
	{
		printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: "%s/knot"\n' "$port" "$dir"
		printf '  udp-workers: %s\n  tcp-workers: %s\n  background-workers: 1\n' "$w" "$w"
		printf 'control:\n  listen: "%s/knot/knot.sock"\n' "$dir"
		printf 'log:\n  - target: "%s/knot.log"\n    any: warning\n' "$dir"
		printf 'database:\n  storage: "%s/knot"\n' "$dir"
		printf 'template:\n  - id: default\n    storage: "%s/zones"\n    file: "%%s.zone"\n' "$dir"
		printf '    zonefile-sync: -1\n    journal-content: none\n    semantic-checks: off\n'
		printf 'zone:\n'
		for f in "$dir/zones"/*.zone; do
			z=${f##*/}; printf '  - domain: "%s"\n' "${z%.zone}"
		done
	} > "$dir/knot.conf"
}
