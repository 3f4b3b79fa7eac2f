#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reports_html.sh -- `mailns reports html` on ingested reports: a self-contained page (no
# script, nothing fetched, report text escaped) written atomically, loaded in headless
# Chromium: the screenshot is not blank and the DOM holds each domain and its advice.
. "${top_srcdir:?}/tests/tap/tap.sh"
MAILNS="${top_builddir:?}/tools/mailns"
command -v python3 >/dev/null || skip_all "python3 needed"
CHROMIUM=$(command -v chromium || command -v chromium-browser) || skip_all "chromium is not installed"
mn_tmpdir

# Chromium on the test's files only: no network at all (every host unresolvable, a dead
# proxy), no background services, bounded in time.
chromium() {
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-extensions --proxy-server=127.0.0.1:9 --host-resolver-rules='MAP * ~NOTFOUND' \
		--user-data-dir="$TMP/chr" "$@" 2>>"$TMP/chromium.log"
}
echo '<!DOCTYPE html><title>t</title><p>probe</p>' >"$TMP/probe.html"
chromium --dump-dom "file://$TMP/probe.html" | grep -q probe || skip_all "chromium cannot run here"

NOW=$(date -d 2026-12-06T12:00:00Z +%s)
export MAILNS_NOW="@$NOW"
P="$TMP/policy.yaml"
cat >"$P" <<EOF
version: 1
server:
  listen: ["127.0.0.1:5399"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  state_dir: $TMP/state
defaults:
  spf: { mode: flatten, ip4: [192.0.2.0/24] }
  dmarc: { p: none, rua: ["mailto:dmarc@example.net"] }
domains:
  example.com: {}
  example.org: {}
  example.net: {}
EOF
python3 "$top_srcdir/tests/integration/reports_advise_data.py" "$TMP/in" "$NOW" || exit 1
"$MAILNS" reports ingest -c "$P" "$TMP/in" >"$TMP/ingest.out" 2>&1
ok $? "ingest the reports"

# ---- the page ---------------------------------------------------------------------------
"$MAILNS" reports html -c "$P" -o "$TMP/page.html"
is "$?" 0 "html -o exits 0"
page="$TMP/page.html"
check "the page is written" -- test -s "$page"
"$MAILNS" reports html -c "$P" | cmp -s - "$page"
ok $? "stdout and -o give the same page"
stray=$(ls "$TMP" | grep -v -e '^page.html$' -e '^policy.yaml$' -e '^in$' -e '^state$' -e '^chr$' \
	-e '^probe.html$' -e '^chromium.log$' -e '^ingest.out$')
is "$stray" "" "no temporary file left beside the page"
! grep -qi '<script' "$page"
ok $? "no <script> in the page, though a report names a DKIM domain with one"
grep -q 'DKIM evil&lt;script&gt;alert(1)&lt;/script&gt;.example' "$page"
ok $? "that DKIM domain is shown escaped"
! grep -Eqi '(src|href)="(https?:|//)|@import|url\((https?:|//)' "$page"
ok $? "nothing external is referenced"
pos() { grep -bo "$1" "$page" | head -1 | cut -d: -f1; }
c=$(pos '<h2>example.com'); o=$(pos '<h2>example.org'); n=$(pos '<h2>example.net')
[ -n "$c" ] && [ -n "$o" ] && [ -n "$n" ] && [ "$c" -lt "$o" ] && [ "$o" -lt "$n" ]
ok $? "domains by volume: example.com (840), example.org (300), example.net (30)"

# an unwritable destination fails and leaves nothing half-written
mkdir "$TMP/ro" && chmod 0500 "$TMP/ro"
if [ "$(id -u)" -ne 0 ]; then
	"$MAILNS" reports html -c "$P" -o "$TMP/ro/page.html" 2>/dev/null
	is "$?" 1 "html -o into an unwritable directory exits 1"
fi
"$MAILNS" reports html -c "$P" -o "$TMP/nodir/page.html" 2>"$TMP/err"
is "$?" 1 "html -o into a missing directory exits 1"
check "and says why" -- grep -q "cannot write $TMP/nodir/page.html" "$TMP/err"

# ---- in a real browser -----------------------------------------------------------------
chromium --dump-dom "file://$page" >"$TMP/dom.html"
check "chromium renders the DOM" -- test -s "$TMP/dom.html"
for want in 'example.com' 'Authorize a sending source first' 'Move to p=quarantine' \
	'Stay at p=none' 'not enough data: 30 messages over 2 days' \
	'198.51.100.7 sends 21.4% of the mail' 'Passing DMARC (aligned DKIM or SPF)' 'Top sending sources'; do
	grep -qF "$want" "$TMP/dom.html"
	ok $? "the DOM shows '$want'"
done
! grep -qi '<script' "$TMP/dom.html"
ok $? "no script element in the DOM either"

chromium --screenshot="$TMP/page.png" --window-size=1280,2000 "file://$page" >/dev/null
check "screenshot taken" -- test -s "$TMP/page.png"
# a python3 with PIL (Debian's python3-pil), else the first python3
PY=python3
for py in python3 /usr/bin/python3; do
	"$py" -c 'import PIL' 2>/dev/null && { PY=$py; break; }
done
got=$("$PY" - "$TMP/page.png" <<'EOF'
import struct, sys, zlib
# the PNG's size from its IHDR; its distinct colours with PIL when present
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", data[16:24])
try:
    from PIL import Image
    img = Image.open(sys.argv[1]).convert("RGB")
    colours = len(img.getcolors(maxcolors=1 << 24))
    # the two chart colours are present: passing blue, failing orange
    px = set(img.getdata())
    blue = (0x25, 0x63, 0xeb) in px
    orange = (0xea, 0x58, 0x0c) in px
except ImportError:
    colours, blue, orange = -1, True, True
print(w, h, colours, blue, orange)
EOF
)
set -- $got
is "$1x$2" "1280x2000" "the screenshot is 1280x2000"
if [ "${3:-0}" = -1 ]; then
	diag "python3-pil missing: colours not counted"
else
	[ "${3:-0}" -gt 200 ]
	ok $? "the screenshot is not blank (${3:-0} distinct colours)"
	is "$4 $5" "True True" "the chart's passing and failing colours are on screen"
fi
[ -n "${MN_KEEP_SCREENSHOT:-}" ] && cp "$TMP/page.png" "$MN_KEEP_SCREENSHOT"

done_testing
