#!/usr/bin/python3
"""asyncio fan-out: 100 calls in flight at once over one AsyncClient (one socket).

Usage: python_fanout.py [REQUESTS_ENDPOINT] [CALLS]
(default $TOLLGATE_ENDPOINT, else tcp://127.0.0.1:5555; 100 calls).
"""
import asyncio
import collections
import os
import sys
import time

import tollgate


async def fan_out(endpoint: str, calls: int) -> int:
    async with tollgate.AsyncClient(endpoint) as client:
        start = time.monotonic()
        results = await asyncio.gather(
            *(client.call(f"fanout-{i % 4}", f"task {i}: one line please", max_tokens=50)
              for i in range(calls)),
            return_exceptions=True)
        elapsed = time.monotonic() - start
    failures = [r for r in results if isinstance(r, BaseException)]
    by_provider = collections.Counter(r.provider for r in results
                                      if isinstance(r, tollgate.CallResult))
    tokens = sum(r.usage.total_tokens for r in results if isinstance(r, tollgate.CallResult))
    print(f"{calls - len(failures)} of {calls} calls ok in {elapsed:.2f}s, {tokens} tokens, "
          f"by provider {dict(by_provider)}")
    for failure in failures[:5]:
        print(f"failed: {failure!r}", file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "TOLLGATE_ENDPOINT", "tcp://127.0.0.1:5555")
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    return asyncio.run(fan_out(endpoint, calls))


if __name__ == "__main__":
    sys.exit(main())
