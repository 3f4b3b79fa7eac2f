#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# spfcheck.py -- pyspf (an independent RFC 7208 evaluator) through a loopback resolver:
# for each domain D, the result for the published apex D equals the result for the
# original at orig.D, at sampled addresses: inside, outside and each network
# boundary +-1 of the SPF cache file.  Usage: spfcheck.py PORT CACHEDIR DOMAIN...
# Prints one line per domain: "D: N addresses agree" or "D: ADDR: published X, original Y".
import ipaddress
import sys

import dns.resolver
import spf

port = int(sys.argv[1])
cachedir = sys.argv[2]
res = dns.resolver.Resolver(configure=False)
res.nameservers = ["127.0.0.1"]
res.port = port
res.lifetime = 5
dns.resolver.default_resolver = res


def samples(domain):
    nets = []
    try:
        with open("%s/%s" % (cachedir, domain)) as f:
            for line in f:
                if line.startswith("net "):
                    nets.append(ipaddress.ip_network(line.split()[1]))
    except OSError:
        pass
    addrs = {ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("2001:db8::1"),
             ipaddress.ip_address("10.99.0.1"), ipaddress.ip_address("2001:db8:ffff::1")}
    for n in nets:
        lo, hi = int(n.network_address), int(n.broadcast_address)
        top = (1 << n.max_prefixlen) - 1
        for v in (lo - 1, lo, (lo + hi) // 2, hi, hi + 1):
            if 0 <= v <= top:
                addrs.add(ipaddress.ip_address(v) if n.version == 6 or v <= 0xffffffff else None)
    addrs.discard(None)
    return sorted(addrs, key=lambda a: (a.version, int(a)))


def result(addr, domain):
    return spf.check2(i=str(addr), s="x@" + domain, h="x", querytime=20)[0]


for d in sys.argv[3:]:
    bad = None
    n = 0
    for a in samples(d):
        p, o = result(a, d), result(a, "orig." + d)
        n += 1
        if p != o or p in ("permerror", "temperror"):
            bad = "%s: %s: published %s, original %s" % (d, a, p, o)
            break
    print(bad if bad else "%s: %d addresses agree" % (d, n))
