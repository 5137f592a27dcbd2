#!/usr/bin/env python3
"""A loopback HTTP relay that lets at most N requests at a time through to an upstream server.

Why it exists: `cargo lambda watch` (1.8 and 1.9 alike) stops handing events to the function once
a hundred or so invocations queue up for one instance: it keeps accepting HTTP requests but never
dispatches them, and every later request hangs. The conformance suite sends 200 concurrent
requests in one case (the quota race), which the emulator's single function instance would
process one at a time anyway. Queueing those requests here instead of inside the emulator keeps
the emulator's own queue short; what reaches the function, and in which order it is processed, is
unchanged. On AWS, Lambda's front end does this queueing (or scales out).

Usage: invoke-gate.py LISTEN_PORT UPSTREAM_PORT [MAX_IN_FLIGHT]   (loopback only)
The relay forwards method, path, headers and body, and returns status, headers and body as
received (bodies are buffered; the emulator buffers responses too).
"""

import http.client
import http.server
import sys
import threading

LISTEN_PORT = int(sys.argv[1])
UPSTREAM_PORT = int(sys.argv[2])
GATE = threading.BoundedSemaphore(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
# Headers that describe one hop's connection, not the message.
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "host"}


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def relay(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP]
        with GATE:
            upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM_PORT, timeout=300)
            try:
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                upstream.putheader("host", f"127.0.0.1:{UPSTREAM_PORT}")
                for name, value in headers:
                    upstream.putheader(name, value)
                upstream.endheaders(body)
                response = upstream.getresponse()
                data = response.read()
            finally:
                upstream.close()
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = relay

    def log_message(self, format, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # The suite opens 200 connections at once; the default backlog of 5 would make the kernel
    # drop SYNs and clients wait seconds to retry.
    request_queue_size = 512


if __name__ == "__main__":
    with Server(("127.0.0.1", LISTEN_PORT), Relay) as server:
        print(f"invoke-gate listening on 127.0.0.1:{LISTEN_PORT}", flush=True)
        server.serve_forever()
