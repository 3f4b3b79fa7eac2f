#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# golden.sh -- `mailns check` on every tests/data/bad policy prints exactly its .err
# file (and exits 1 when it holds an error; a bad policy without one is a failure);
# every tests/data/good policy is clean.
. "${top_srcdir:?}/tests/tap/tap.sh"
MAILNS="${top_builddir:?}/tools/mailns"
cd "$top_srcdir" || exit 1

for yaml in tests/data/bad/*.yaml; do
	want_file="${yaml%.yaml}.err"
	# every bad policy has its golden file (included fragments live in include.d/)
	[ -f "$want_file" ] || { ok 1 "$yaml has its golden diagnostics $want_file"; continue; }
	got=$("$MAILNS" check -c "$yaml" 2>&1)
	rc=$?
	want=$(cat "$want_file")
	want_rc=0
	grep -qE '(^|: )error: ' "$want_file" && want_rc=1
	is "$got" "$want" "check $yaml prints its golden diagnostics"
	is "$rc" "$want_rc" "check $yaml exits $want_rc"
done

for yaml in tests/data/good/*.yaml; do
	got=$("$MAILNS" check -c "$yaml" 2>&1)
	rc=$?
	is "$rc" 0 "check $yaml exits 0"
	is "$got" "" "check $yaml prints nothing"
done

# the bundled example must stay valid
"$MAILNS" check -c examples/policy.yaml >/dev/null 2>&1
ok $? "check examples/policy.yaml exits 0"

done_testing
