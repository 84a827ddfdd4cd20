"""Every request the clients send carries only the fields docs/protocol.md lists for its op.

A ROUTER in this test stands in for the daemon: it records each request and
answers it `ok`. Every method of both clients (and tollgate.compat) is called
with every option set; the fields seen per op must be exactly the table's.
"""
import asyncio
import re
import threading
from collections import defaultdict
from pathlib import Path

import msgpack
import pytest
import zmq

import tollgate
from tollgate import compat

DOCS = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
ENVELOPE = {"v", "id", "op"}


def documented_fields():
    text = DOCS.read_text()
    table = text.split("<!-- request-fields -->")[1].split("<!-- /request-fields -->")[0]
    fields = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        fields[cells[0].strip("`")] = set(re.findall(r"`([a-z_]+)`", cells[1]))
    assert "call" in fields and "ping" in fields, "the table was not found"
    return fields


class Recorder:
    """A ROUTER on an ephemeral port, answering every request `ok`, in its own thread."""

    def __init__(self):
        self.requests = []
        self._ctx = zmq.Context()
        self._stop_r, self._stop_w = self._ctx.socket(zmq.PAIR), self._ctx.socket(zmq.PAIR)
        self._stop_r.bind("inproc://stop-recorder")
        self._stop_w.connect("inproc://stop-recorder")
        router = self._ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.bind("tcp://127.0.0.1:*")
        self.endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        self._thread = threading.Thread(target=self._serve, args=(router,))
        self._thread.start()

    def _serve(self, router):
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(self._stop_r, zmq.POLLIN)
        while self._stop_r not in dict(poller.poll()):
            frames = router.recv_multipart()
            body = msgpack.unpackb(frames[-1], raw=False)
            self.requests.append(body)
            reply = {"v": 1, "id": body.get("id"), "ok": True, "text": "", "alerts": [],
                     "provider": "anthropic", "available": True, "reason": "primary"}
            router.send_multipart(frames[:-1] + [msgpack.packb(reply)])
        router.close(0)

    def close(self):
        self._stop_w.send(b"stop")
        self._thread.join()
        self._stop_r.close(0)
        self._stop_w.close(0)
        self._ctx.term()


CALL_OPTIONS = dict(system=[{"type": "text", "text": "be brief"}], max_tokens=10,
                    temperature=0.5, preferred_provider="openai", model="m",
                    idempotency_key="k", timeout_ms=1000,
                    tools=[{"name": "t", "description": "d", "input_schema": {}}],
                    tool_choice={"type": "auto"}, stop_sequences=["s"], top_p=0.5, cache=True)
MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def every_op(c):
    """Calls (sync) every op method with every option; the async client mirrors it."""
    return [c.ping(), c.usage("a"), c.summary(), c.provider_status("a"), c.recommend("a"),
            c.emergency_status(), c.alerts(limit=1, since_ms=2, ai_name="a"),
            c.history("a", months=2), c.reset("a", "anthropic", force=True),
            c.set_limit("a", "anthropic", 5, limit_usd=1.5), c.limits(), c.forecast("a"),
            c.daily("a", days=3), c.ledger_events(limit=1, since_ms=2), c.cancel("x")]


def check(requests):
    table = documented_fields()
    seen = defaultdict(set)
    for body in requests:
        op = body["op"]
        assert op in table, f"op {op} is not in the table"
        extra = set(body) - ENVELOPE - table[op]
        assert not extra, f"{op} sent {extra}, not in docs/protocol.md"
        assert body["v"] == 1 and body["id"] is not None
        seen[op] |= set(body) - ENVELOPE
    for op, fields in table.items():
        assert seen[op] == fields, f"{op}: sent {sorted(seen[op])}, table {sorted(fields)}"


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


def test_the_sync_client_sends_only_documented_fields(recorder):
    with tollgate.Client(recorder.endpoint, timeout=10) as client:
        every_op(client)
        client.call("a", "prompt", **CALL_OPTIONS)
        client.call("a", messages=MESSAGES, **CALL_OPTIONS)
        assert isinstance(list(client.stream("a", "p", **CALL_OPTIONS))[-1], tollgate.CallResult)
        compat.configure(client)
        try:
            compat.call_ai("prompt", "a")
            compat.get_provider_recommendation("a")
            compat.should_use_openai("a")
        finally:
            compat.configure(None)
    check(recorder.requests)


@pytest.mark.asyncio
async def test_the_async_client_sends_only_documented_fields(recorder):
    async with tollgate.AsyncClient(recorder.endpoint, timeout=10) as c:
        await asyncio.gather(
            c.ping(), c.usage("a"), c.summary(), c.provider_status("a"), c.recommend("a"),
            c.emergency_status(), c.alerts(limit=1, since_ms=2, ai_name="a"),
            c.history("a", months=2), c.reset("a", "anthropic", force=True),
            c.set_limit("a", "anthropic", 5, limit_usd=1.5), c.limits(), c.forecast("a"),
            c.daily("a", days=3), c.ledger_events(limit=1, since_ms=2), c.cancel("x"),
            c.call("a", "prompt", **CALL_OPTIONS), c.call("a", messages=MESSAGES, **CALL_OPTIONS))
        items = [i async for i in c.stream("a", "p", **CALL_OPTIONS)]
        assert isinstance(items[-1], tollgate.CallResult)
    check(recorder.requests)


def test_the_check_catches_an_undocumented_field():
    with pytest.raises(AssertionError, match="not in docs"):
        check([{"v": 1, "id": 1, "op": "usage", "ai_name": "a", "agent": "b"}])
