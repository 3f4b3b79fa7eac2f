#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# gen-queries.py -- a dnsperf query file over N generated domains (bench/gen-policy.sh
# names: d0.example ... d<N-1>.example, selectors s1..s<SELECTORS>), in issue 7's mix:
# 40 % DKIM, 30 % DMARC, 20 % SPF, 5 % NXDOMAIN, 5 % NODATA.
# Usage: bench/gen-queries.py N [COUNT [SELECTORS [SEED]]] > queries.txt
import random
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: gen-queries.py N [COUNT [SELECTORS [SEED]]]")
    n = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
    sel = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    rnd = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
    # the exact mix in every block of 20 queries, shuffled: 8 DKIM, 6 DMARC,
    # 4 SPF, 1 NXDOMAIN, 1 NODATA
    block = ["dkim"] * 8 + ["dmarc"] * 6 + ["spf"] * 4 + ["nx", "nodata"]
    out = []
    for b in range((count + 19) // 20):
        kinds = block[:]
        rnd.shuffle(kinds)
        for k in kinds:
            d = "d%d.example" % rnd.randrange(n)
            if k == "dkim":
                out.append("s%d._domainkey.%s TXT" % (rnd.randint(1, sel), d))
            elif k == "dmarc":
                out.append("_dmarc.%s TXT" % d)
            elif k == "spf":
                out.append("_spf.%s TXT" % d)
            elif k == "nx":
                # a name inside a served zone that does not exist: NXDOMAIN
                z = rnd.choice(("_domainkey", "_dmarc", "_spf"))
                out.append("nx%d.%s.%s TXT" % (rnd.randrange(1000), z, d))
            else:
                # an existing name without the asked type: NODATA
                out.append(rnd.choice(("_dmarc.%s AAAA", "_spf.%s A",
                                       "s1._domainkey.%s AAAA")) % d)
    sys.stdout.write("\n".join(out[:count]) + "\n")


if __name__ == "__main__":
    main()
