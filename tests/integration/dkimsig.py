#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# dkimsig.py -- dkimpy signing and verifying for tests/integration/signers.sh
#   dkimsig.py sign DOMAIN SELECTOR PEM < message > signed message
#   dkimsig.py verify RESOLVER_PORT < signed message   (exit 0: every signature verifies)
# Keys are looked up through the resolver on 127.0.0.1:RESOLVER_PORT (unbound).
import base64
import sys

import dkim
import dns.resolver


def ed25519_seed(pem):
    """dkimpy takes an Ed25519 private key as base64 of the 32-byte seed:
    the last 32 bytes of the PKCS#8 DER (RFC 8410)."""
    body = b"".join(l for l in pem.splitlines() if not l.startswith(b"-----"))
    der = base64.b64decode(body)
    return base64.b64encode(der[-32:])


def sign(domain, selector, path):
    msg = sys.stdin.buffer.read()
    pem = open(path, "rb").read()
    if b"BEGIN RSA PRIVATE KEY" in pem:
        key, alg = pem, b"rsa-sha256"
    else:
        key, alg = ed25519_seed(pem), b"ed25519-sha256"
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key, signature_algorithm=alg,
                    include_headers=[b"from", b"to", b"subject"])
    sys.stdout.buffer.write(sig + msg)


def verify(port):
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = int(port)
    res.lifetime = 5

    def dnsfunc(name, timeout=5):
        try:
            ans = res.resolve(name.decode().rstrip(".") + ".", "TXT", lifetime=timeout)
        except Exception as e:  # NXDOMAIN, NoAnswer, timeout: no key
            print("dns: %s" % e.__class__.__name__, file=sys.stderr)
            return None
        return b"".join(ans[0].strings)

    msg = sys.stdin.buffer.read()
    d = dkim.DKIM(msg)
    n = msg.count(b"DKIM-Signature:")
    good = 0
    for i in range(n):
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except dkim.DKIMException as e:
            print("signature %d: %s" % (i, e), file=sys.stderr)
            ok = False
        print("signature %d: %s" % (i, "pass" if ok else "fail"))
        good += ok
    sys.exit(0 if n > 0 and good == n else 1)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "sign":
        sign(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "verify":
        verify(sys.argv[2])
    else:
        print(__doc__ or "usage: dkimsig.py sign|verify ...", file=sys.stderr)
        sys.exit(2)
