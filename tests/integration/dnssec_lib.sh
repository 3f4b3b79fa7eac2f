# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_lib.sh -- for the DNSSEC rollover scripts (sourced after tap.sh, not a test):
# the configurations of an NSD serving a parent zone and of an unbound validating from
# its trust anchor, both on 127.0.0.1, written with tap.sh's mn_nsd_server,
# mn_unbound_server and mn_stub.

# mn_nsd_conf FILE DIR PORT ZONE...: NSD on 127.0.0.1:PORT serving DIR/ZONE.zone for
# each ZONE (no database, no remote control; its pid, state and log files in DIR)
mn_nsd_conf() {
	local file=$1 dir=$2 port=$3 z
	shift 3
	{
		mn_nsd_server "$dir" "$port"
		for z in "$@"; do printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"; done
	} >"$file"
}

# mn_unbound_conf FILE DIR PORT ANCHOR PARENT_PORT PARENT CHILD_PORT CHILD...: unbound
# on 127.0.0.1:PORT, validator + iterator, trust anchor file ANCHOR, the root and
# PARENT asked at PARENT_PORT, each CHILD zone at CHILD_PORT; its log DIR/unbound.log
mn_unbound_conf() {
	local file=$1 dir=$2 port=$3 anchor=$4 pport=$5 parent=$6 cport=$7 z
	shift 7
	{
		mn_unbound_server "$dir" "$port" "validator iterator"
		printf '  val-log-level: 2\n  trust-anchor-file: "%s"\n  aggressive-nsec: no\n' "$anchor"
		mn_stub . "$pport"
		mn_stub "$parent" "$pport"
		for z in "$@"; do mn_stub "$z" "$cport"; done
	} >"$file"
}

# mn_ub_status PORT NAME TYPE: "RCODE ad|-" of a DO query to the resolver at 127.0.0.1:PORT
mn_ub_status() {
	local out
	out=$(kdig @127.0.0.1 -p "$1" +time=3 +retry=1 +dnssec "$2" "$3" 2>/dev/null)
	printf '%s %s\n' "$(echo "$out" | sed -n 's/^;; ->>HEADER<<- opcode: QUERY; status: \([A-Z]*\);.*/\1/p')" \
		"$(echo "$out" | grep -q '^;; Flags: .* ad' && echo ad || echo -)"
}

# mn_verify_zones POLICY DIR ZONE...: `mailns zone` writes every zone into DIR (emptied
# first) and ldns-verify-zone accepts each ZONE; prints what is wrong (nothing: all good)
mn_verify_zones() {
	local policy=$1 dir=$2 z
	shift 2
	rm -rf "$dir" && mkdir -p "$dir"
	"$MAILNS" zone -c "$policy" -d "$dir" >"$dir.out" 2>&1 || echo "mailns zone fails: $(head -3 "$dir.out")"
	for z in "$@"; do
		ldns-verify-zone "$dir/$z.zone" >"$dir.verify" 2>&1 || echo "$z: $(tr '\n' ' ' <"$dir.verify" | cut -c1-300)"
	done
}
