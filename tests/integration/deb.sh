#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# deb.sh -- build the Debian package from the distributed sources, install it on this
# machine, check the state directory's owners and modes, run the service's command
# line as the mailns user, query it, run flatten and a rotation step as their users,
# rerun the postinst over an earlier version's layout, purge it.
# It changes this machine (a package, the mailns users): it runs only when
# MAILNS_TEST_HOST=1 (.ci/run sets it).  Needs root, dpkg-buildpackage and
# debhelper; skipped otherwise, and skipped when a mailns package is already
# installed (it is never touched).  Bounded: every step has a timeout.
. "${top_srcdir:-.}/tests/tap/tap.sh"
src=${top_srcdir:-.}
build=${top_builddir:-.}

# debian/changelog carries the version of configure.ac (checked even when skipping)
version=$("$MAILNS" --version 2>/dev/null | awk '{print $2}')
chver=$(sed -n '1s/^mailns (\([^)-]*\)\(-[^)]*\)\{0,1\}).*/\1/p' "$src/debian/changelog")
if [ -z "$version" ] || [ "$version" != "$chver" ]; then
	echo "1..1"
	echo "not ok 1 - debian/changelog version '$chver' is the version of configure.ac '$version'"
	exit 1
fi

[ "${MAILNS_TEST_HOST:-}" = 1 ] || skip_all "installs a package and adds users to this machine: MAILNS_TEST_HOST=1 runs it"
[ "$(id -u)" -eq 0 ] || skip_all "installing a .deb needs root"
for t in dpkg-buildpackage dh dpkg setpriv kdig flock timeout strings; do
	command -v "$t" >/dev/null || skip_all "$t is not installed"
done

mn_tmpdir
INSTALLED=""
USER_BEFORE=yes
KUSER_BEFORE=yes
deb_cleanup() {
	mn_stop >/dev/null 2>&1
	if [ -n "$INSTALLED" ]; then
		timeout 120 dpkg --purge mailns >/dev/null 2>&1
	fi
	# the users the package created go too, so that the next run starts clean
	# (mailns-keys first: its primary group is mailns)
	if [ -z "$KUSER_BEFORE" ] && getent passwd mailns-keys >/dev/null; then
		timeout 60 deluser --quiet --system mailns-keys >/dev/null 2>&1 ||
			userdel mailns-keys >/dev/null 2>&1
	fi
	if [ -z "$USER_BEFORE" ] && getent passwd mailns >/dev/null; then
		timeout 60 deluser --quiet --system mailns >/dev/null 2>&1 ||
			userdel mailns >/dev/null 2>&1
		getent group mailns >/dev/null && groupdel mailns >/dev/null 2>&1
	fi
	rm -rf "$TMP"
}
trap deb_cleanup EXIT

# ---- build, from exactly the files `make dist` ships --------------------------
t0=$(date +%s)
pkgdir="$TMP/src/mailns-$version"
mkdir -p "$TMP/src"
if ! make -C "$build" -s distdir distdir="$pkgdir" >"$TMP/distdir.log" 2>&1; then
	ok 1 "make distdir"
	diag "$(tail -n 20 "$TMP/distdir.log")"
	done_testing
	exit 1
fi
chmod -R u+w "$pkgdir"	# distcheck's sources are read-only; the build writes beside them
(cd "$pkgdir" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	timeout 900 dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1
rc=$?
ok $rc "dpkg-buildpackage -us -uc -b (nocheck)"
deb="$TMP/src/mailns_${version}_$(dpkg --print-architecture).deb"
if [ "$rc" -ne 0 ] || [ ! -f "$deb" ]; then
	diag "$(tail -n 30 "$TMP/build.log")"
	done_testing
	exit 1
fi
diag "package built in $(( $(date +%s) - t0 )) s"
warn=$(grep -E '\.[ch]:[0-9]+:[0-9]+: warning:' "$TMP/build.log")
is "$warn" "" "no compiler warning in the package build (Debian hardening flags, -O2)"
deps=$(dpkg-deb -f "$deb" Depends)
case $deps in *libldns*libssl*libuv1*libyaml*) ok 0 "Depends from shlibs: $deps";;
	*) ok 1 "Depends from shlibs: $deps";; esac

# ---- install: one test at a time on this machine; dpkg's lock may be busy -----
exec 9>"${TMPDIR:-/tmp}/mailns-deb-test.lock"
flock -w 600 9 || { diag "another deb.sh holds the lock"; done_testing; exit 1; }
if dpkg-query -W -f='${Status}' mailns 2>/dev/null | grep -q 'installed\|config-files\|half'; then
	diag "a mailns package is already on this machine: not touching it"
	done_testing
	exit
fi
getent passwd mailns >/dev/null || USER_BEFORE=""
getent passwd mailns-keys >/dev/null || KUSER_BEFORE=""
for i in $(seq 1 60); do
	timeout 300 dpkg -i "$deb" >"$TMP/install.log" 2>&1 && { INSTALLED=yes; break; }
	INSTALLED=maybe
	grep -q 'lock' "$TMP/install.log" || break
	sleep 2
done
[ "$INSTALLED" = yes ]; ok $? "dpkg -i mailns_${version}.deb"
[ "$INSTALLED" = yes ] || { diag "$(tail -n 20 "$TMP/install.log")"; done_testing; exit 1; }

for f in /usr/sbin/mailnsd /usr/bin/mailns; do
	[ -x "$f" ]; ok $? "$f installed"
done
for f in /usr/share/man/man8/mailnsd.8.gz /usr/share/man/man1/mailns.1.gz \
	/usr/share/man/man5/mailns-policy.5.gz /etc/cron.d/mailns /etc/mailns/policy.yaml \
	/usr/share/doc/mailns/examples/policy.yaml \
	/lib/systemd/system/mailnsd.service /lib/systemd/system/mailns-rotate.timer \
	/lib/systemd/system/mailns-rotate.service /lib/systemd/system/mailns-flatten.timer \
	/lib/systemd/system/mailns-flatten.service /lib/systemd/system/mailns-dnssec.timer \
	/lib/systemd/system/mailns-dnssec.service; do
	[ -f "$f" ]; ok $? "$f installed"
done
[ -d /etc/mailns/domains.d ]; ok $? "/etc/mailns/domains.d exists"
# the package is configured --sysconfdir=/etc --localstatedir=/var (debhelper's defaults)
/usr/bin/mailns --help | grep -q 'else /etc/mailns/policy.yaml\.'
ok $? "mailns reads /etc/mailns/policy.yaml by default"
/usr/sbin/mailnsd --help | grep -q ' /etc/mailns/policy.yaml)'
ok $? "mailnsd reads /etc/mailns/policy.yaml by default"
strings /usr/bin/mailns | grep -qx /var/lib/mailns; ok $? "the default state_dir is /var/lib/mailns"
conff=$(dpkg-query -W -f='${Conffiles}' mailns | awk '{print $1}' | sort | tr '\n' ' ')
is "$conff" "/etc/cron.d/mailns /etc/mailns/policy.yaml " "conffiles"
uid=$(getent passwd mailns | cut -d: -f3)
[ -n "$uid" ] && [ "$uid" -lt 1000 ]; ok $? "system user mailns (uid $uid)"
getent group mailns >/dev/null; ok $? "group mailns"
layout() { # the owners and modes of the state directory, one line
	stat -c '%n %U:%G %a' /var/lib/mailns /var/lib/mailns/zones /var/lib/mailns/journal \
		/var/lib/mailns/spf /var/lib/mailns/reports /var/lib/mailns/keys /var/lib/mailns/opendkim \
		/var/lib/mailns/rspamd /var/lib/mailns/mta-sts 2>&1 | tr '\n' ' '
}
LAYOUT="/var/lib/mailns root:mailns 750 /var/lib/mailns/zones mailns:mailns 750 \
/var/lib/mailns/journal mailns:mailns 750 /var/lib/mailns/spf mailns:mailns 750 \
/var/lib/mailns/reports mailns:mailns 750 /var/lib/mailns/keys mailns-keys:mailns 2750 /var/lib/mailns/opendkim mailns-keys:mailns 2750 \
/var/lib/mailns/rspamd mailns-keys:mailns 2750 /var/lib/mailns/mta-sts mailns:mailns 755 "
is "$(layout)" "$LAYOUT" "/var/lib/mailns root's (0750, group mailns); zones/ journal/ spf/ reports/ mailns's, mta-sts/ too (0755); the key store mailns-keys's"
kgid=$(getent passwd mailns-keys | cut -d: -f4)
is "$kgid" "$(getent group mailns | cut -d: -f3)" "system user mailns-keys, primary group mailns"
as_mailns() { setpriv --reuid=mailns --regid=mailns --init-groups "$@"; }
for d in keys opendkim rspamd; do
	as_mailns mv /var/lib/mailns/$d /var/lib/mailns/$d.moved 2>/dev/null
	[ $? -ne 0 ] && [ -d /var/lib/mailns/$d ] && [ ! -e /var/lib/mailns/$d.moved ]
	ok $? "the server user cannot rename /var/lib/mailns/$d"
done
as_mailns ln -s /tmp /var/lib/mailns/planted 2>/dev/null
[ $? -ne 0 ] && [ ! -L /var/lib/mailns/planted ]; ok $? "nor plant a link in /var/lib/mailns"
is "$(grep -E '^(User|Group|UMask)=' /lib/systemd/system/mailns-rotate.service | tr '\n' ' ')" \
	"User=mailns-keys Group=mailns UMask=0027 " "mailns-rotate.service runs as mailns-keys:mailns, umask 0027"
is "$(grep -E '^(User|Group|UMask|SuccessExitStatus)=' /lib/systemd/system/mailns-dnssec.service | tr '\n' ' ')" \
	"User=mailns Group=mailns SuccessExitStatus=3 UMask=0027 " \
	"mailns-dnssec.service runs as mailns:mailns, umask 0027, exit 3 (waiting for a DS) not a failure"
is "$(grep -h '^ExecStart=' /lib/systemd/system/mailns-rotate.service /lib/systemd/system/mailns-dnssec.service | tr '\n' ' ')" \
	"ExecStart=/usr/bin/mailns keys rotate --only dkim -c /etc/mailns/policy.yaml ExecStart=/usr/bin/mailns keys rotate --only dnssec -c /etc/mailns/policy.yaml " \
	"the DKIM job runs --only dkim, the DNSSEC one --only dnssec"
for t in mailns-rotate mailns-dnssec mailns-flatten; do
	is "$(systemctl is-enabled $t.timer 2>&1)" enabled "$t.timer enabled"
done
is "$(grep '^ExecStart=' /lib/systemd/system/mailnsd.service)" \
	"ExecStart=/usr/sbin/mailnsd -f -c /etc/mailns/policy.yaml" "mailnsd.service command line"
is "$(grep '^User=' /lib/systemd/system/mailnsd.service)" "User=mailns" "mailnsd.service runs as mailns"
is "$(grep -h '^StateDirectory=\|^ReadWritePaths=' /lib/systemd/system/mailnsd.service \
	/lib/systemd/system/mailns-flatten.service /lib/systemd/system/mailns-rotate.service \
	/lib/systemd/system/mailns-dnssec.service | tr '\n' ' ')" \
	"StateDirectory=mailns/zones mailns/journal StateDirectory=mailns/spf ReadWritePaths=/var/lib/mailns/keys /var/lib/mailns/opendkim /var/lib/mailns/rspamd ReadWritePaths=/var/lib/mailns/dnssec " \
	"units: each writes only its own directories (no StateDirectory=mailns: it would chown the key store)"
if command -v systemd-analyze >/dev/null; then
	out=$(cd /lib/systemd/system && systemd-analyze verify --man=no mailnsd.service \
		mailns-rotate.service mailns-rotate.timer mailns-flatten.service mailns-flatten.timer \
		mailns-dnssec.service mailns-dnssec.timer 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify of the installed units"
fi
out=$(setpriv --reuid=mailns --regid=mailns --init-groups /usr/bin/mailns check 2>&1)
is "$?:$out" "0:" "mailns check of the shipped /etc/mailns/policy.yaml, as mailns"

# ---- the service's command line, as the mailns user --------------------------
# Same program and options as ExecStart, as User=mailns, on a test policy on a free
# loopback port with the package's state directory.
chmod 0755 "$TMP"
cat >"$TMP/policy.tmpl" <<'EOF'
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: /var/lib/mailns
domains:
  example.com:
    spf: { mode: plain, ip4: [192.0.2.0/24], all: fail }
    dmarc: { p: reject, rua: ["mailto:dmarc@example.com"] }
  example.net:
    spf: { mode: flatten, ip4: [198.51.100.0/24], all: fail }
    dkim: { algorithm: ed25519 }
  example.org:
    dnssec: { keys: ksk+zsk }
    dmarc: { p: none }
EOF
printf '#!/bin/sh\nexec setpriv --reuid=mailns --regid=mailns --init-groups /usr/sbin/mailnsd "$@"\n' \
	>"$TMP/mailnsd-as-mailns"
chmod 0755 "$TMP/mailnsd-as-mailns"
MAILNSD="$TMP/mailnsd-as-mailns"
if mn_start "$TMP/policy.tmpl"; then
	ok 0 "/usr/sbin/mailnsd -f -c POLICY started as mailns"
	is "$(ps -o user= -p "$MN_PID" | tr -d ' ')" mailns "the server process runs as mailns"
	is "$(mn_dig +short TXT _dmarc.example.com)" '"v=DMARC1; p=reject; rua=mailto:dmarc@example.com"' \
		"kdig TXT _dmarc.example.com"
	is "$(mn_dig +short TXT _spf.example.com)" '"v=spf1 ip4:192.0.2.0/24 -all"' "kdig TXT _spf.example.com"
	is "$(stat -c '%U %a' /var/lib/mailns/zones/serials 2>&1)" "mailns 640" "serials written to /var/lib/mailns/zones by mailns"
	is "$(stat -c '%U' /var/lib/mailns/dnssec/_dmarc.example.org/*.key 2>&1 | sort -u)" mailns \
		"mailnsd made the DNSSEC keys of _dmarc.example.org as mailns"
	mn_stop; ok $? "SIGTERM: mailnsd exits 0"
else
	ok 1 "/usr/sbin/mailnsd -f -c POLICY started as mailns"
fi

# The timers' commands as their users: flatten as mailns (literal networks only: no
# DNS query), a DKIM rotation step as mailns-keys (nothing written under dnssec/), a
# DNSSEC one (a ZSK rollover started: no DS asked) as mailns (nothing under keys/)
as_mailns /usr/bin/mailns flatten -c "$TMP/policy.yaml" --resolver "127.0.0.1:$(mn_free_port)" \
	>"$TMP/flatten.out" 2>&1
ok $? "mailns flatten as mailns" || diag "$(cat "$TMP/flatten.out")"
is "$(stat -c '%U %a' /var/lib/mailns/spf/example.net 2>&1)" "mailns 644" "it wrote spf/example.net"
tree() { find "$1" -printf '%P %U %s %T@\n' 2>&1 | sort; }
dnssec_before=$(tree /var/lib/mailns/dnssec)
setpriv --reuid=mailns-keys --regid=mailns --init-groups /usr/bin/mailns keys rotate --only dkim \
	-c "$TMP/policy.yaml" >"$TMP/rotate.out" 2>&1
rc=$?; [ $rc -eq 0 ] || [ $rc -eq 3 ]; ok $? "mailns keys rotate --only dkim as mailns-keys (exit $rc)" ||
	diag "$(cat "$TMP/rotate.out")"
is "$(tree /var/lib/mailns/dnssec)" "$dnssec_before" "it wrote nothing under dnssec/"
keys_before=$(tree /var/lib/mailns/keys)
zsk=$(grep -l '^role zsk$' /var/lib/mailns/dnssec/_dmarc.example.org/*.key 2>/dev/null | wc -l)
runuser -u mailns -- /usr/bin/mailns keys rotate --only dnssec --dnssec-roll _dmarc.example.org --zsk \
	--resolver "127.0.0.1:$(mn_free_port)" -c "$TMP/policy.yaml" >"$TMP/dnssec.out" 2>&1
ok $? "runuser -u mailns -- mailns keys rotate --only dnssec: a ZSK rollover started" ||
	diag "$(cat "$TMP/dnssec.out")"
is "$(grep -l '^role zsk$' /var/lib/mailns/dnssec/_dmarc.example.org/*.key 2>/dev/null | wc -l)" $((zsk + 1)) \
	"a new ZSK of _dmarc.example.org in dnssec/" || diag "$(cat "$TMP/dnssec.out")"
is "$(stat -c '%U' /var/lib/mailns/dnssec/_dmarc.example.org/* | sort -u)" mailns "owned by mailns, mailnsd's user"
is "$(tree /var/lib/mailns/keys)" "$keys_before" "it wrote nothing under keys/"
setpriv --reuid=mailns-keys --regid=mailns --init-groups /usr/bin/mailns keys rotate --only dnssec \
	-c "$TMP/policy.yaml" >"$TMP/rotate.out" 2>&1
is "$?" 1 "the DNSSEC part as mailns-keys fails (dnssec/ is not its): why it has its own unit"
is "$(stat -c '%U:%G %a' /var/lib/mailns/keys/example.net /var/lib/mailns/keys/example.net/published \
	/var/lib/mailns/keys/example.net/*.pem 2>&1 | tr '\n' ' ')" \
	"mailns-keys:mailns 2750 mailns-keys:mailns 640 mailns-keys:mailns 600 " \
	"keys/example.net 2750, published 0640, the private key 0600"
as_mailns cat /var/lib/mailns/keys/example.net/*.pem >/dev/null 2>&1
ok $((! $?)) "the server user cannot read the private key"

# An install of an earlier version: /var/lib/mailns the server user's, serials at its
# top, and a link that user planted for journal/.  The postinst takes the directory
# back, moves the serials, removes the link without following it.
mkdir -p "$TMP/victim" && printf 'victim\n' >"$TMP/victim/file"
chown mailns:mailns /var/lib/mailns && chmod 0750 /var/lib/mailns
mv /var/lib/mailns/zones/serials /var/lib/mailns/serials
serials=$(cat /var/lib/mailns/serials)
rm -rf /var/lib/mailns/journal
as_mailns ln -s "$TMP/victim" /var/lib/mailns/journal
timeout 120 /var/lib/dpkg/info/mailns.postinst configure 0.0.9 >"$TMP/postinst.log" 2>&1
ok $? "postinst configure over the earlier layout" || diag "$(tail -n 5 "$TMP/postinst.log")"
is "$(layout)" "$LAYOUT" "the layout is restored"
is "$(cat /var/lib/mailns/zones/serials 2>&1)" "$serials" "the serials moved to zones/serials"
[ ! -e /var/lib/mailns/serials ]; ok $? "and are no longer at the top"
is "$(ls -A "$TMP/victim"):$(cat "$TMP/victim/file")" "file:victim" "the planted link's target is untouched"

# The shipped policy and exact ExecStart, with the unit's ambient CAP_NET_BIND_SERVICE,
# when 127.0.0.1:53 is free here: it serves nothing, so it answers REFUSED.
if mn_port_free 53; then
	setpriv --reuid=mailns --regid=mailns --init-groups --inh-caps=+net_bind_service \
		--ambient-caps=+net_bind_service /usr/sbin/mailnsd -f -c /etc/mailns/policy.yaml \
		>"$TMP/port53.log" 2>&1 &
	MN_PID=$!
	MN_PORT=53
	got=""
	for i in $(seq 1 50); do
		got=$(mn_dig SOA example.com 2>/dev/null | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
		[ -n "$got" ] && break
		kill -0 "$MN_PID" 2>/dev/null || break
		sleep 0.1
	done
	is "$got" REFUSED "the shipped policy on 127.0.0.1:53 as mailns with CAP_NET_BIND_SERVICE answers REFUSED"
	mn_stop; ok $? "SIGTERM: mailnsd exits 0"
	[ -n "$got" ] || diag "$(tail -n 5 "$TMP/port53.log")"
else
	diag "127.0.0.1:53 is in use here: the shipped policy is not started"
fi

# ---- purge: everything the package made is gone, the user stays ----------------
timeout 300 dpkg --purge mailns >"$TMP/purge.log" 2>&1
ok $? "dpkg --purge mailns"
INSTALLED=""
is "$(dpkg-query -W -f='${Status}' mailns 2>/dev/null)" "" "package unknown to dpkg after purge"
left=""
for f in /usr/sbin/mailnsd /usr/bin/mailns /etc/mailns /etc/cron.d/mailns /var/lib/mailns \
	/lib/systemd/system/mailnsd.service /lib/systemd/system/mailns-rotate.timer \
	/usr/share/doc/mailns /usr/share/man/man5/mailns-policy.5.gz; do
	[ -e "$f" ] && left="$left $f"
done
is "$left" "" "nothing left after purge"
getent passwd mailns >/dev/null; ok $? "the mailns user stays after purge (Debian practice)"
getent passwd mailns-keys >/dev/null; ok $? "the mailns-keys user stays after purge"
diag "deb.sh took $(( $(date +%s) - t0 )) s"
done_testing
