"""A control-socket peer for the privilege tests: sends what sluicectl never
would (raw lines, deep nesting, slow drips) and listens as systemd's notify
socket does. Standard library only.

  control_peer.py request SOCK JSON          one line, prints the answer
  control_peer.py deep SOCK DEPTH            a request whose id nests DEPTH arrays
  control_peer.py drip SOCK N SECONDS        N connections dripping one byte a second;
                                             prints how many were refused, then holds
  control_peer.py notify PATH OUT            collects sd_notify datagrams into OUT
  control_peer.py metrics-idle PORT N        N idle connections to /metrics, then times one scrape
"""
import json
import os
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def read_line(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def request(path, line):
    s = connect(path)
    s.sendall(line.encode() + b"\n")
    print(read_line(s))


def deep(path, depth):
    line = '{"id":' + "[" * depth + "]" * depth + ',"cmd":"status"}'
    request(path, line)


def drip(path, n, seconds):
    held, refused = [], 0
    for _ in range(n):
        s = connect(path)
        s.setblocking(False)
        held.append(s)
    time.sleep(0.3)
    for s in held:
        try:
            if s.recv(4096):
                refused += 1
        except BlockingIOError:
            pass
    print(f"refused {refused}", flush=True)
    end = time.time() + seconds
    while time.time() < end:
        for s in held:
            try:
                s.send(b"{")
            except OSError:
                pass
        time.sleep(1)


def notify(path, out):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    with open(out, "a") as f:
        while True:
            msg = s.recv(4096).decode(errors="replace")
            f.write(msg.replace("\n", " ") + "\n")
            f.flush()


def metrics_idle(port, n):
    idle = []
    for i in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        if i % 2:
            c.sendall(b"GET /metr")  # half a request head
        idle.append(c)
    start = time.time()
    c = socket.create_connection(("127.0.0.1", port), timeout=20)
    c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        body += chunk
    took = time.time() - start
    ok = b"200 OK" in body and b"sluice_up" in body
    print(f"{'ok' if ok else 'bad'} {took:.3f}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "request":
        request(sys.argv[2], sys.argv[3])
    elif cmd == "deep":
        deep(sys.argv[2], int(sys.argv[3]))
    elif cmd == "drip":
        drip(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "notify":
        notify(sys.argv[2], sys.argv[3])
    elif cmd == "metrics-idle":
        metrics_idle(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(f"unknown {cmd}")
