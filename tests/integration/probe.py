#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# probe.py -- crafted DNS packets for the integration tests (what kdig cannot send):
# prints one line per command that the shell tests compare.  Loopback only, every
# wait bounded.
import socket
import struct
import sys
import time


def name_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(name, qtype=16, qid=0x1234, flags=0x0100, qdcount=1, opcode=0, edns=None):
    flags |= opcode << 11
    q = struct.pack("!HHHHHH", qid, flags, qdcount, 0, 0, 1 if edns is not None else 0)
    q += name_wire(name) + struct.pack("!HH", qtype, 1)
    if edns is not None:  # (payload, version)
        q += b"\0" + struct.pack("!HHBBHH", 41, edns[0], 0, edns[1], 0, 0)
    return q


def udp(port, pkt, timeout=1.0, host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(pkt, (host, port))
    try:
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_read_msg(s):
    hdr = recv_exact(s, 2)
    if hdr is None:
        return None
    return recv_exact(s, struct.unpack("!H", hdr)[0])


def describe(resp):
    """rcode=NAME flags=... qd an ns ar id"""
    if resp is None:
        return "noresponse"
    if len(resp) < 12:
        return "short"
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", resp[:12])
    rcodes = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
    fl = [f for f, bit in (("qr", 15), ("aa", 10), ("tc", 9), ("rd", 8), ("ra", 7)) if flags & (1 << bit)]
    return "rcode=%s flags=%s qd=%d an=%d ns=%d ar=%d id=%d" % (
        rcodes.get(flags & 15, str(flags & 15)), ",".join(fl), qd, an, ns, ar, qid)


def main():
    port = int(sys.argv[1])
    cmd = sys.argv[2]
    args = sys.argv[3:]
    if cmd == "udp":  # udp NAME QTYPE [opcode=N] [qdcount=N] [qr] [edns=PAYLOAD,VERSION]
        kw = {}
        flags = 0x0100
        for a in args[2:]:
            if a == "qr":
                flags |= 0x8000
            elif a.startswith("opcode="):
                kw["opcode"] = int(a[7:])
            elif a.startswith("qdcount="):
                kw["qdcount"] = int(a[8:])
            elif a.startswith("edns="):
                p, v = a[5:].split(",")
                kw["edns"] = (int(p), int(v))
        print(describe(udp(port, query(args[0], int(args[1]), flags=flags, **kw))))
    elif cmd == "rawudp":  # rawudp HEX
        print(describe(udp(port, bytes.fromhex(args[0]))))
    elif cmd == "pipeline":  # pipeline N NAME: N queries in one TCP write
        n = int(args[0])
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        msgs = b""
        for i in range(n):
            q = query(args[1], 16, qid=1000 + i)
            msgs += struct.pack("!H", len(q)) + q
        s.sendall(msgs)
        ids = set()
        for i in range(n):
            r = tcp_read_msg(s)
            if r is None:
                break
            ids.add(struct.unpack("!H", r[:2])[0])
        s.close()
        print("answered %d of %d" % (len(ids & set(range(1000, 1000 + n))), n))
    elif cmd == "idle":  # idle MAXWAIT: seconds until the server closes a silent connection
        s = socket.create_connection(("127.0.0.1", port), timeout=float(args[0]))
        t0 = time.monotonic()
        try:
            data = s.recv(1)
            print("closed after %d s" % round(time.monotonic() - t0) if data == b"" else "got data")
        except socket.timeout:
            print("still open")
        except ConnectionResetError:
            print("closed after %d s" % round(time.monotonic() - t0))
        finally:
            s.close()
    elif cmd == "conns":  # conns N NAME: open N connections, query on each, count answered
        socks, answered = [], 0
        for i in range(int(args[0])):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                socks.append(s)
            except OSError:
                continue
        for s in socks:
            try:
                q = query(args[1], 16)
                s.sendall(struct.pack("!H", len(q)) + q)
                if tcp_read_msg(s) is not None:
                    answered += 1
            except OSError:
                pass
        for s in socks:
            s.close()
        print("answered %d" % answered)
    elif cmd == "tcp":  # tcp HEX: one raw message (no length prefix) over TCP
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        m = bytes.fromhex(args[0])
        s.sendall(struct.pack("!H", len(m)) + m)
        try:
            print(describe(tcp_read_msg(s)))
        except (socket.timeout, ConnectionResetError):
            print("noresponse")
        s.close()
    elif cmd == "storm":  # storm N SEED: N hostile packets (UDP and TCP), bounded in time
        import random
        rnd = random.Random(int(args[1]))
        base = [query("_dmarc.example.com", 16), query("x._domainkey.example.com", 255, edns=(4096, 0)),
                query("7.113.0.203.in-addr._spf.example.org", 1, edns=(512, 0))]
        deadline = time.monotonic() + 20
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        for i in range(int(args[0])):
            if time.monotonic() > deadline:
                break
            b = bytearray(rnd.choice(base))
            kind = rnd.randrange(4)
            if kind == 0:  # random bytes
                b = bytearray(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 80)))
            elif kind == 1:  # flipped bits
                for _ in range(rnd.randrange(1, 6)):
                    b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
            elif kind == 2:  # truncated
                b = b[:rnd.randrange(len(b))]
            else:  # random header counts and flags, valid question
                b[2:12] = bytes(rnd.getrandbits(8) for _ in range(10))
                b[2] &= 0x7f  # keep QR clear so that most get an answer
            u.sendto(bytes(b), ("127.0.0.1", port))
            sent += 1
            if i % 50 == 0:  # and over TCP, one message per connection
                try:
                    t = socket.create_connection(("127.0.0.1", port), timeout=1)
                    t.sendall(struct.pack("!H", len(b)) + bytes(b))
                    t.close()
                except OSError:
                    pass
        u.close()
        print("sent %d" % sent)
    else:
        print("unknown command", cmd)
        sys.exit(2)


if __name__ == "__main__":
    main()
