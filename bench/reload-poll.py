#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# reload-poll.py -- make one change and time it until 127.0.0.1:PORT answers TXT NAME
# with TEXT: renames TMP over DST (as an editor or a config tool saves), then sends
# SIGHUP to PID or runs CMD (a reload command), and asks every millisecond (one UDP
# query in flight at a time, 1 ms to answer).  Prints the seconds from the rename to
# the first answer holding TEXT, or ">TIMEOUT"; exit 1 then.
# Usage: bench/reload-poll.py PORT NAME TEXT TIMEOUT TMP DST [hup PID | cmd CMD...]
import os
import signal
import socket
import struct
import subprocess
import sys
import time


def main():
    port, name, text = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
    timeout, tmp, dst = float(sys.argv[4]), sys.argv[5], sys.argv[6]
    how = sys.argv[7:]
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    s.settimeout(0.001)
    qid = os.getpid() & 0xffff
    t0 = time.monotonic()
    os.rename(tmp, dst)
    if how[:1] == ["hup"]:
        os.kill(int(how[1]), signal.SIGHUP)
    elif how[:1] == ["cmd"]:
        subprocess.Popen(how[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        qid = (qid + 1) & 0xffff
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 16, 1)
        try:
            s.send(q)
            end = time.monotonic() + 0.001
            while time.monotonic() < end:
                m = s.recv(65535)
                if len(m) > 12 and struct.unpack(">H", m[:2])[0] == qid:
                    if m[3] & 15 == 0 and text in m:
                        print("%.4f" % (time.monotonic() - t0))
                        return 0
                    break
        except (socket.timeout, ConnectionRefusedError):
            pass
        time.sleep(0.001)
    print(">%g" % timeout)
    return 1


if __name__ == "__main__":
    sys.exit(main())
