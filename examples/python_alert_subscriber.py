#!/usr/bin/python3
"""Prints tollgated's alerts to stdout as they come, alerts missed in a seq gap too.

Usage: python_alert_subscriber.py [REQUESTS_ENDPOINT EVENTS_ENDPOINT] [--count N]
(default $TOLLGATE_ENDPOINT and $TOLLGATE_EVENTS, else tcp://127.0.0.1:5555 and
:5556). --count N exits after N alerts; otherwise it runs until interrupted.
"""
import argparse
import os
import sys

import tollgate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?",
                        default=os.environ.get("TOLLGATE_ENDPOINT", "tcp://127.0.0.1:5555"))
    parser.add_argument("events", nargs="?",
                        default=os.environ.get("TOLLGATE_EVENTS", "tcp://127.0.0.1:5556"))
    parser.add_argument("--count", type=int, default=0, help="exit after this many alerts")
    args = parser.parse_args()
    seen = 0
    # The client answers the `alerts` op, with which missed alerts are re-read.
    with tollgate.Client(args.requests) as client, \
            client.subscribe("alert.", args.events) as alerts:
        print("subscribed", flush=True)
        for event in alerts:
            a = event.body
            note = " (recovered after a gap)" if event.recovered else ""
            print(f"{event.topic} {a['ai_name']}/{a['provider']} {a['percentage']:.1f}% "
                  f"({a['used']}/{a['limit']}): {a['message']}{note}", flush=True)
            seen += 1
            if args.count and seen >= args.count:
                break
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
