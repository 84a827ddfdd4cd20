#!/usr/bin/env python3
"""A webhook receiver for tollgate's notification tests.

Listens on 127.0.0.1 (an ephemeral port unless --port is given), prints
`listening PORT` once it accepts connections, then one JSON line per
request it receives, flushed at once:

    {"n": 1, "status": 500, "path": "/hook", "headers": {...}, "body": "..."}

`n` counts requests from 1; `status` is what it answered. Headers keep
the case the client sent. Standard library only.

Options:
    --port P          bind this port (to come back on the same URL after a restart)
    --fail-first N    answer the first N requests with --fail-status (default 500)
    --fail-status S   the status of those answers
    --hang            accept requests and never answer (a receiver that hangs);
                      each is still printed, with "status": null, once read
"""
import argparse
import http.server
import json
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=500)
    ap.add_argument("--hang", action="store_true")
    args = ap.parse_args()
    lock = threading.Lock()
    count = [0]
    hang = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if args.hang:
                with lock:
                    count[0] += 1
                    print(json.dumps({"n": count[0], "status": None, "path": self.path,
                                      "headers": {k: v for k, v in self.headers.items()},
                                      "body": body.decode("utf-8", "replace")}), flush=True)
                hang.wait()
                return
            with lock:
                count[0] += 1
                n = count[0]
                status = args.fail_status if n <= args.fail_first else 200
                print(json.dumps({"n": n, "status": status, "path": self.path,
                                  "headers": {k: v for k, v in self.headers.items()},
                                  "body": body.decode("utf-8", "replace")}), flush=True)
            answer = b"ok" if status == 200 else b"failing on purpose"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("listening %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
