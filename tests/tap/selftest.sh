#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# selftest.sh -- tap.sh itself: ok, is and check print the right line, count the
# failures and return the status they recorded (so `ok … || diag` works).
. "${top_srcdir:?}/tests/tap/tap.sh"

# point NAME SCRIPT: runs SCRIPT (tap.sh sourced) in a child, prints its output
point() { bash -c ". \"$top_srcdir/tests/tap/tap.sh\"; $1" 2>&1; }

is "$(point 'ok 0 x; echo rc=$?')" $'ok 1 - x\nrc=0' "ok 0: an ok line, returns 0"
is "$(point 'ok 1 x; echo rc=$?')" $'not ok 1 - x\nrc=1' "ok 1: a not ok line, returns 1"
is "$(point 'ok 1 x || echo fallback')" $'not ok 1 - x\nfallback' "ok 1 || …: the fallback runs"
is "$(point 'ok 0 x || echo fallback')" 'ok 1 - x' "ok 0 || …: the fallback does not run"
is "$(point 'ok "" x; echo rc=$?' | sed -n '1p;$p')" $'not ok 1 - x\nrc=1' "ok with no status fails"
is "$(point 'is a a x; echo rc=$?')" $'ok 1 - x\nrc=0' "is equal: returns 0"
is "$(point 'is a b x; echo rc=$?' | sed -n '1p;$p')" $'not ok 1 - x\nrc=1' "is different: not ok, returns 1"
is "$(point 'check x -- false; echo rc=$?')" $'not ok 1 - x\nrc=1' "check of a failing command returns 1"
is "$(point 'check x -- true; echo rc=$?')" $'ok 1 - x\nrc=0' "check of a passing command returns 0"
point 'ok 1 a; ok 0 b; done_testing' >/dev/null
is "$?" 1 "done_testing fails after a failed point"
point 'ok 0 a; is b b c; done_testing' >/dev/null
is "$?" 0 "done_testing passes when every point passed"
done_testing
