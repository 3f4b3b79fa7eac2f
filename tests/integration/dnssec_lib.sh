# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_lib.sh -- for the DNSSEC integration scripts (sourced, not a test): the
# configurations of an NSD serving a parent zone and of an unbound validating from
# its trust anchor, both on 127.0.0.1.

# mn_nsd_conf FILE DIR PORT ZONE...: NSD on 127.0.0.1:PORT serving DIR/ZONE.zone for
# each ZONE (no database, no remote control; its pid, state and log files in DIR)
mn_nsd_conf() {
	local file=$1 dir=$2 port=$3 z
	shift 3
	{
		printf 'server:\n  ip-address: 127.0.0.1\n  port: %s\n  username: ""\n  chroot: ""\n' "$port"
		printf '  zonesdir: "%s"\n  pidfile: "%s"\n  database: ""\n' "$dir" "$dir/nsd.pid"
		printf '  xfrdfile: "%s"\n  zonelistfile: "%s"\n  xfrdir: "%s"\n' "$dir/xfrd.state" "$dir/zone.list" "$dir"
		printf '  logfile: "%s"\n  server-count: 1\n  verbosity: 1\n' "$dir/nsd.log"
		printf 'remote-control:\n  control-enable: no\n'
		for z in "$@"; do printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"; done
	} >"$file"
}

# mn_unbound_conf FILE DIR PORT ANCHOR PARENT_PORT PARENT CHILD_PORT CHILD...: unbound
# on 127.0.0.1:PORT, validator + iterator, trust anchor file ANCHOR, the root and
# PARENT asked at PARENT_PORT, each CHILD zone at CHILD_PORT; its log DIR/unbound.log
mn_unbound_conf() {
	local file=$1 dir=$2 port=$3 anchor=$4 pport=$5 parent=$6 cport=$7 z
	shift 7
	stub() { printf 'stub-zone:\n  name: "%s"\n  stub-addr: 127.0.0.1@%s\n' "$1" "$2"; }
	{
		printf 'server:\n  interface: 127.0.0.1\n  port: %s\n' "$port"
		printf '  do-ip4: yes\n  do-ip6: no\n  do-udp: yes\n  do-tcp: yes\n'
		printf '  access-control: 127.0.0.0/8 allow\n'
		printf '  username: ""\n  chroot: ""\n  directory: "%s"\n  pidfile: "%s"\n' "$dir" "$dir/unbound.pid"
		printf '  use-syslog: no\n  logfile: "%s"\n  verbosity: 1\n  val-log-level: 2\n' "$dir/unbound.log"
		printf '  num-threads: 1\n  so-reuseport: no\n  outgoing-interface: 127.0.0.1\n'
		printf '  do-not-query-localhost: no\n  module-config: "validator iterator"\n'
		printf '  trust-anchor-file: "%s"\n' "$anchor"
		printf '  harden-referral-path: no\n  qname-minimisation: no\n  target-fetch-policy: "0 0 0 0 0"\n'
		printf '  prefetch: no\n  aggressive-nsec: no\n'
		printf 'remote-control:\n  control-enable: no\n'
		stub . "$pport"
		stub "$parent" "$pport"
		for z in "$@"; do stub "$z" "$cport"; done
	} >"$file"
}
