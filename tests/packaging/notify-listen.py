#!/usr/bin/env python3
"""A stand-in for systemd's notification socket (sd_notify(3)), for tests and benchmarks.

    notify-listen.py SOCKET LOG

Binds the datagram socket SOCKET (pass it to a daemon as NOTIFY_SOCKET) and appends one line per
message to LOG: "<CLOCK_MONOTONIC seconds> <sender pid> <message with newlines as |>", where the
sender pid comes from the kernel (SO_PASSCRED), as systemd's NotifyAccess=main check uses it.
Runs until SIGTERM; removes SOCKET on exit.
"""
import os
import signal
import socket
import struct
import sys
import time

path, log = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(path)
os.chmod(path, 0o777)  # daemons that run as another user (User=eas) must be able to send


def stop(*_):
    try:
        os.unlink(path)
    finally:
        os._exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
with open(log, "a", buffering=1) as out:
    out.write(f"{time.monotonic():.6f} 0 LISTENING\n")
    while True:
        data, ancdata, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        text = data.decode("utf-8", "replace").strip().replace("\n", "|")
        out.write(f"{time.monotonic():.6f} {pid} {text}\n")
