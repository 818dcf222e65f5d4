#!/usr/bin/env python3
"""A webhook receiver for tests/test_webhook.sh (standard library only).

Listens on 127.0.0.1 (port 0: the kernel picks one, written to PORT_FILE
once listening) and logs every request as one JSON line to LOG_FILE:
{"path", "headers", "body", "at" (seconds, monotonic), "client_port",
"answer"}.

How it answers depends on the path, so one receiver serves every sink
of a test pipeline:
  /ok/...                 200
  /flaky/N/...            503 to the first N requests on that path, then 200
  /down/...               500 always
  /bad/...                400 always
  /busy/S/...             429 with Retry-After: S to the first request, then 200
  /hang/...               reads the request, never answers
  /moved/...              307 to /ok/moved (relative Location)
  /loop/...               302 to itself
  /downgrade/...          308 to https://127.0.0.1:1/ (another scheme)
  /huge/...               200 with a 1 MiB body

Usage: webhook_receiver.py PORT_FILE LOG_FILE [CERT_FILE KEY_FILE]
(with a certificate and key, it speaks HTTPS)
"""
import http.server
import json
import os
import ssl
import sys
import threading
import time

port_file, log_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()
seen = {}  # path -> requests so far
stopping = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
    # Headers and body leave in separate writes: without this, Nagle and
    # the client's delayed ACK hold each answer ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def answer(self, status, headers=(), body=b"ok"):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with lock:
            count = seen.get(self.path, 0) + 1
            seen[self.path] = count
        parts = self.path.strip("/").split("/")
        kind = parts[0]
        status, headers, reply = 200, [], b"ok"
        if kind == "flaky" and count <= int(parts[1]):
            status = 503
        elif kind == "down":
            status, reply = 500, b"broken\r\nfor good"
        elif kind == "bad":
            status, reply = 400, b'{"error": "no thanks"}'
        elif kind == "busy" and count == 1:
            status, headers = 429, [("Retry-After", parts[1])]
        elif kind == "moved":
            status, headers = 307, [("Location", "/ok/moved")]
        elif kind == "loop":
            status, headers = 302, [("Location", self.path)]
        elif kind == "downgrade":
            status, headers = 308, [("Location", "https://127.0.0.1:1/")]
        elif kind == "huge":
            reply = b"x" * (1 << 20)
        record = {
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "at": time.monotonic(),
            "client_port": self.client_address[1],
            "answer": 0 if kind == "hang" else status,
        }
        with lock, open(log_file, "a") as log:
            log.write(json.dumps(record) + "\n")
        if kind == "hang":
            stopping.wait(600)
            self.close_connection = True
            return
        self.answer(status, headers, reply)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if len(sys.argv) > 4:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as out:
    out.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
finally:
    stopping.set()
    server.server_close()
