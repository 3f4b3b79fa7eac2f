#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# man.sh -- the manual pages pass mandoc -T lint -W warning and groff -ww; the systemd
# units pass systemd-analyze verify; installed files land where users expect them
. "${top_srcdir:-.}/tests/tap/tap.sh"
src=${top_srcdir:-.}
build=${top_builddir:-.}
mn_tmpdir

pages="server/mailnsd.8 tools/mailns.1 policy/mailns-policy.5"

# mandoc: every message of level warning or above fails (style notes do not).
if command -v mandoc >/dev/null; then
	for p in $pages; do
		out=$(mandoc -T lint -W warning "$src/$p" 2>&1)
		is "$out" "" "mandoc -T lint -W warning $p"
	done
else
	diag "mandoc not installed: skipping mandoc lint"
fi
# groff: all warnings on, output discarded; any message fails.
if command -v groff >/dev/null; then
	for p in $pages; do
		out=$(groff -ww -man -z "$src/$p" 2>&1)
		is "$out" "" "groff -ww -man -z $p"
	done
fi

# Every key of the policy schema is documented in mailns-policy(5).
keys=$(sed -n 's/.*\.name = "\([a-z_0-9]*\)".*/\1/p' "$src/policy/schema.c" | sort -u)
missing=""
for k in $keys; do
	grep -Eq "^\.B[IR]? (.*[ \"])?([a-z_]+\.)*$k([ .]|\"|\$)" "$src/policy/mailns-policy.5" || missing="$missing $k"
done
is "$missing" "" "every key of policy/schema.c is in mailns-policy(5)"
for k in version server include defaults domains; do
	grep -q "^\.B[R]* $k\b" "$src/policy/mailns-policy.5"; ok $? "top-level key $k in mailns-policy(5)"
done

# make install into a DESTDIR: programs, pages, units, the example policy, nothing else.
if make -C "$build" -s install DESTDIR="$TMP/inst" prefix=/usr sysconfdir=/etc \
	systemdunitdir=/lib/systemd/system >"$TMP/install.log" 2>&1; then
	ok 0 "make install DESTDIR=..."
	got=$(cd "$TMP/inst" && find . -type f | sort | tr '\n' ' ')
	want="./etc/mailns/policy.yaml.example ./lib/systemd/system/mailns-dnssec.service ./lib/systemd/system/mailns-dnssec.timer ./lib/systemd/system/mailns-flatten.service ./lib/systemd/system/mailns-flatten.timer ./lib/systemd/system/mailns-rotate.service ./lib/systemd/system/mailns-rotate.timer ./lib/systemd/system/mailnsd.service ./usr/bin/mailns ./usr/sbin/mailnsd ./usr/share/doc/mailns/examples/cron.d/mailns ./usr/share/doc/mailns/examples/domains.d/hosted.yaml ./usr/share/doc/mailns/examples/policy.yaml ./usr/share/doc/mailns/examples/xfr1.key ./usr/share/man/man1/mailns.1 ./usr/share/man/man5/mailns-policy.5 ./usr/share/man/man8/mailnsd.8 "
	is "$got" "$want" "installed files"
	is "$(grep '^ExecStart=' "$TMP/inst/lib/systemd/system/mailnsd.service")" \
		"ExecStart=/usr/sbin/mailnsd -f -c /etc/mailns/policy.yaml" "mailnsd.service runs the installed mailnsd"
	is "$(grep -o '/usr/bin/mailns ' "$TMP/inst/usr/share/doc/mailns/examples/cron.d/mailns" | wc -l)" 6 \
		"the cron file names the installed mailns"
	is "$(grep -o 'mailns-keys .*keys rotate --only dkim \|mailns .*keys rotate --only dnssec ' \
		"$TMP/inst/usr/share/doc/mailns/examples/cron.d/mailns" | awk '{print $1, $NF}' | tr '\n' ' ')" \
		"mailns-keys dkim mailns dnssec " "cron: the DKIM keys as mailns-keys, the DNSSEC rollovers as mailns"
	is "$(grep -h '^ExecStart=\|^SuccessExitStatus=\|^User=' "$TMP/inst/lib/systemd/system/mailns-dnssec.service" \
		"$TMP/inst/lib/systemd/system/mailns-rotate.service" | tr '\n' ' ')" \
		"User=mailns ExecStart=/usr/bin/mailns keys rotate --only dnssec -c /etc/mailns/policy.yaml SuccessExitStatus=3 User=mailns-keys ExecStart=/usr/bin/mailns keys rotate --only dkim -c /etc/mailns/policy.yaml " \
		"units: DNSSEC rollovers as mailns (exit 3 not a failure), DKIM as mailns-keys"
	# the starter policy loads and serves no domain
	sed 's|/var/lib/mailns|'"$TMP"'/state|' "$TMP/inst/etc/mailns/policy.yaml.example" >"$TMP/starter.yaml"
	out=$("$MAILNS" check -c "$TMP/starter.yaml" 2>&1)
	is "$?:$out" "0:" "the starter policy passes mailns check"
	is "$("$MAILNS" zone -c "$TMP/starter.yaml" 2>&1)" "" "the starter policy serves no zone"
	# systemd-analyze verify: the units parse, with no unknown keys (any message fails)
	if command -v systemd-analyze >/dev/null; then
		mkdir -p "$TMP/units"
		abs=$(cd "$build" && pwd)
		for f in "$TMP"/inst/lib/systemd/system/*; do
			# point the units at the programs of this build, which exist
			sed -e "s|^\(Exec[A-Za-z]*=\)/usr/sbin/mailnsd |\1$abs/server/mailnsd |" \
				-e "s|^\(Exec[A-Za-z]*=\)/usr/bin/mailns |\1$abs/tools/mailns |" \
				"$f" >"$TMP/units/${f##*/}"
		done
		out=$(cd "$TMP/units" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1)
		is "$?:$out" "0:" "systemd-analyze verify of the five units"
		# an unknown key is reported (so the check above can fail)
		sed 's/^ProtectHome=/ProtectHom=/' "$TMP/units/mailnsd.service" >"$TMP/units/broken.service"
		out=$(cd "$TMP/units" && systemd-analyze verify --man=no ./broken.service 2>&1)
		case $out in *"Unknown key"*) ok 0 "systemd-analyze reports an unknown key";;
			*) ok 1 "systemd-analyze reports an unknown key"; diag "$out";; esac
	else
		diag "systemd-analyze not installed: skipping unit verification"
	fi
	make -C "$build" -s uninstall DESTDIR="$TMP/inst" prefix=/usr sysconfdir=/etc \
		systemdunitdir=/lib/systemd/system >>"$TMP/install.log" 2>&1
	is "$(cd "$TMP/inst" && find . -type f | wc -l)" 0 "make uninstall removes every file"
else
	ok 1 "make install DESTDIR=..."
	diag "$(tail -n 20 "$TMP/install.log")"
fi

done_testing
