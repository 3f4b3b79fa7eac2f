# SPDX-License-Identifier: GPL-3.0-or-later
# lib.sh -- helpers shared by the bench scripts (sourced, not run).

# free_port: prints a port free on loopback for both UDP and TCP now (50 tries), or fails.
free_port() {
	local p
	for p in $(shuf -i 20000-60000 -n 50); do
		ss -Hlnu "sport = :$p" | grep -q . || ss -Hlnt "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	return 1
}
