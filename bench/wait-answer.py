#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# wait-answer.py -- wait until 127.0.0.1:PORT answers a TXT query for NAME with an
# answer containing TEXT, asking every 10 ms (kdig's shortest timeout is 1 s,
# too coarse for load and reload times).  Exit 0 when answered, 1 after TIMEOUT s,
# 2 as soon as process PID (when given) has gone.
# Usage: bench/wait-answer.py PORT NAME TEXT [TIMEOUT [PID]]
import os
import socket
import struct
import sys
import time


def main():
    port, name, text = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
    deadline = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) > 4 else 120)
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.01)
    pid = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    qid = os.getpid() & 0xffff
    while time.monotonic() < deadline:
        if pid and not os.path.exists("/proc/%d" % pid):
            return 2
        qid = (qid + 1) & 0xffff
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 16, 1)
        try:
            s.sendto(q, ("127.0.0.1", port))
            end = time.monotonic() + 0.01
            while time.monotonic() < end:
                m = s.recv(65535)
                if len(m) > 12 and struct.unpack(">H", m[:2])[0] == qid:
                    if m[3] & 15 == 0 and struct.unpack(">H", m[6:8])[0] > 0 and text in m:
                        return 0
                    break
        except (socket.timeout, ConnectionRefusedError):
            pass
        time.sleep(0.005)
    return 1


if __name__ == "__main__":
    sys.exit(main())
