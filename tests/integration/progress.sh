#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# progress.sh -- `mailns keys rotate` generating on several threads (--jobs) and
# its progress line: a first run over 41 domains (42 keys: more than one batch
# of --jobs 2, a two-algorithm domain among them) with --jobs 2 prints the same
# actions in the same order and writes the same states as --jobs 1, each
# private key the pair of its published record; under a pty (script) stderr
# shows "keys: D/T (P%)[, R/s, T left]" lines ending at 41/41 and cleared, the
# action lines on stdout never mixed into it; with stderr not a terminal, or
# --quiet, nothing.  No server: a first run only generates.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v openssl >/dev/null || skip_all "openssl is not installed"
command -v script >/dev/null || skip_all "script (util-linux) is not installed"
mn_tmpdir
NOW=$(date -u -d 2030-01-01T00:00:00Z +%s)
N=40
policy() { # policy STATE: the policy file for that state dir
	{
		printf 'version: 1\nserver:\n  listen: ["127.0.0.1:53"]\n  nameservers: [ns1.example.net.]\n'
		printf '  hostmaster: hostmaster.example.net.\n  user: root\n  state_dir: %s\n' "$TMP/$1"
		printf 'defaults:\n  dkim: { algorithm: rsa-1024, rotate_every: 10d, publish_ahead: 1d }\ndomains:\n'
		for i in $(seq 1 $N); do
			printf '  d%02d.example:\n    dkim: {}\n' "$i"
			[ "$i" -eq 17 ] && printf '  dual.example:\n    dkim: { algorithm: [rsa-1024, ed25519] }\n'
		done
	} > "$TMP/$1.yaml"
}
# state DIR: the published states without the key material (p= differs per run)
state() { (cd "$TMP/$1/keys" && for d in */; do sed 's/p=[A-Za-z0-9+\/=]*/p=/' "$d/published"; done) }
# pairs DIR: "bad" for each private key whose public half is not its published record
pairs() {
	local f d sel pub want
	for f in "$TMP/$1"/keys/*/*.pem; do
		d=$(basename "$(dirname "$f")"); sel=$(basename "$f" .pem)
		pub=$(openssl pkey -in "$f" -pubout -outform DER 2>/dev/null | base64 -w0)
		want=$(awk -v s="$sel" '$1 == s { sub(/.*p=/, ""); print }' "$TMP/$1/keys/$d/published")
		case "$sel" in *e) pub=$(openssl pkey -in "$f" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 -w0) ;; esac
		[ -n "$pub" ] && [ "$pub" = "$want" ] || echo "bad $d $sel"
	done
}

for s in one two tty quiet; do policy $s; done
"$MAILNS" keys rotate -c "$TMP/one.yaml" --now "@$NOW" --jobs 1 > "$TMP/one.out" 2> "$TMP/one.err"
is "$?" 0 "keys rotate --jobs 1 exits 0"
"$MAILNS" keys rotate -c "$TMP/two.yaml" --now "@$NOW" --jobs 2 > "$TMP/two.out" 2> "$TMP/two.err"
is "$?" 0 "keys rotate --jobs 2 exits 0"
is "$(grep -c '	generate$' "$TMP/two.out")" $((N + 2)) "--jobs 2: $((N + 2)) keys generated"
check "--jobs 2 prints the actions of --jobs 1, in the same order" -- cmp -s "$TMP/one.out" "$TMP/two.out"
check "and writes the same states (selectors, phases, times)" -- cmp -s <(state one) <(state two)
is "$(ls "$TMP"/two/keys/*/*.pem | wc -l)" $((N + 2)) "a private key for each"
is "$(pairs two)" "" "each private key is the pair of the record published for its selector"
is "$(cat "$TMP/one.err" "$TMP/two.err")" "" "stderr not a terminal: no progress line"

# under a pseudo-terminal: stdout and stderr both on it
script -qec "'$MAILNS' keys rotate -c '$TMP/tty.yaml' --now @$NOW --jobs 2" /dev/null > "$TMP/tty.raw" < /dev/null
is "$?" 0 "keys rotate on a terminal exits 0"
tr '\r' '\n' < "$TMP/tty.raw" | grep -a 'keys: ' > "$TMP/tty.lines"
T=$((N + 1))
ok "$(grep -qax "keys: $T/$T (100.0%), [0-9]*\.[0-9]/s, 0s left" "$TMP/tty.lines"; echo $?)" \
	"the line reaches $T/$T (100.0%) with a rate" || diag "$(cat -A "$TMP/tty.raw" | head -c 2000)"
bad=$(grep -avxE "keys: [0-9]+/$T \([0-9]+\.[0-9]%\)(, [0-9]+\.[0-9]/s, ([0-9]+h[0-9]{2}m|[0-9]+m[0-9]{2}s|[0-9]+s) left)? *" "$TMP/tty.lines")
is "$bad" "" "every progress line is well-formed"
is "$(tr -d '\r' < "$TMP/tty.raw" | grep -ac '	generate$')" $((N + 2)) "every action line reaches the terminal"
is "$(tr '\r' '\n' < "$TMP/tty.raw" | grep -a 'generate' | grep -avc '^2030-01-01T00:00:00Z	[a-z0-9.]*	mn20300101[a-z]	[a-z0-9-]*	generate$')" 0 \
	"no action line has the progress line mixed into it"
# after the last progress line: spaces over it between carriage returns, before anything else
cleared() { python3 -c 'import re, sys
s = open(sys.argv[1], "rb").read()
i = s.rfind(b"keys: ")
sys.exit(0 if i >= 0 and re.match(rb"keys: [^\r\n]*\r +\r", s[i:]) else 1)' "$1"; }
ok "$(cleared "$TMP/tty.raw"; echo $?)" "the line is cleared at the end, before the last output" ||
	diag "$(tail -c 300 "$TMP/tty.raw" | cat -A)"
check "the same states as without a terminal" -- cmp -s <(state one) <(state tty)
script -qec "'$MAILNS' keys rotate -c '$TMP/quiet.yaml' --now @$NOW --quiet" /dev/null > "$TMP/quiet.raw" < /dev/null
is "$?" 0 "keys rotate --quiet on a terminal exits 0"
is "$(grep -ac 'keys: ' "$TMP/quiet.raw")" 0 "--quiet: no progress line"
is "$(python3 -c 'import re, sys; print(len(re.findall(rb"\r(?!\n)", open(sys.argv[1], "rb").read())))' "$TMP/quiet.raw")" 0 \
	"--quiet: no carriage return but the terminal's line ends"

"$MAILNS" keys rotate -c "$TMP/one.yaml" --now "@$NOW" --jobs 0 > /dev/null 2> "$TMP/err"
is "$?" 2 "--jobs 0 is a usage error"
is "$(head -1 "$TMP/err")" "mailns: bad --jobs '0' (1 to 64)" "it says why"
"$MAILNS" keys list -c "$TMP/one.yaml" --now "@$NOW" --jobs 2 > /dev/null 2>&1
is "$?" 2 "--jobs with keys list is a usage error"
done_testing
