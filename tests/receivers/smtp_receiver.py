#!/usr/bin/env python3
"""An SMTP server for tollgate's notification tests (aiosmtpd, the Debian
package python3-aiosmtpd).

Listens on 127.0.0.1 (an ephemeral port unless --port is given), prints
`listening PORT` once it accepts connections, then one JSON line per
message it accepts, flushed at once:

    {"n": 1, "mail_from": "...", "rcpt_tos": [...], "data": "the whole message"}

Options:
    --port P    bind this port
"""
import argparse
import asyncio
import json

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        data = envelope.content
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        print(json.dumps({"n": self.count, "mail_from": envelope.mail_from,
                          "rcpt_tos": list(envelope.rcpt_tos), "data": data}), flush=True)
        return "250 OK"


async def serve(port):
    handler = Handler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="tollgate-test"), "127.0.0.1", port)
    print("listening %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
