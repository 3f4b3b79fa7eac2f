#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# reload-rss.sh -- mailnsd's memory around one-domain reloads: RSS once it answers,
# then after each of REPS edits of one domain's DMARC rua (in its included file, renamed
# over it, then SIGHUP, the new answer awaited, SETTLE s pause), and the peak (VmHWM).
# Run it on the data of bench/reload.sh for two builds, one after the other.
# Usage: bench/reload-rss.sh DATA N [MAILNSD]    (env: REPS=5, SETTLE=1.5)
# Needs python3.  Loopback only; mailnsd is stopped by its PID.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1 n=$2 bin=${3:-$top/server/mailnsd}
REPS=${REPS:-5} SETTLE=${SETTLE:-1.5}
port=$(( 30000 + RANDOM % 20000 ))
sed -i "s|^  listen: .*|  listen: [\"127.0.0.1:$port\"]|" "$dir/policy.yaml"
"$bin" -f -c "$dir/policy.yaml" > "$dir/rss-mailnsd.log" 2>&1 & pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
python3 "$top/bench/wait-answer.py" "$port" "_dmarc.d$((n - 1)).example" DMARC1 3600 "$pid" ||
	{ echo "reload-rss.sh: no answer"; exit 1; }
sleep "$SETTLE"
kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/"$pid"/status; }
rss="$(kb VmRSS)"
ch=$((n / 2))
f=$(grep -l "^  d$ch.example:" "$dir"/domains.d/*.yaml)
for i in $(seq 1 "$REPS"); do
	sed "s|rua: \[\"mailto:[a-z0-9]*@d$ch.example\"\]|rua: [\"mailto:m$i$RANDOM@d$ch.example\"]|" "$f" > "$f.new"
	tag=$(grep -o "mailto:m$i[0-9]*@d$ch.example" "$f.new" | head -1)
	python3 "$top/bench/reload-poll.py" "$port" "_dmarc.d$ch.example" "${tag%@*}@" 120 "$f.new" "$f" hup "$pid" \
		>/dev/null
	sleep "$SETTLE"
	rss="$rss $(kb VmRSS)"
done
echo "$bin: RSS KB start, after each reload: $rss  peak $(kb VmHWM)  loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
