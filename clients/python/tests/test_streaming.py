"""Streamed calls (PROTOCOL.md section 9): typed chunks, then the result; cancel."""
import json

import pytest

import daemon
import tollgate

WEATHER = [{"name": "get_weather", "description": "Current weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                             "required": ["city"]}}]


@pytest.fixture(scope="module")
def client(tollgated):
    with tollgate.Client(tollgated.requests, timeout=daemon.scaled(30)) as c:
        yield c


def test_a_streamed_text_call_yields_text_deltas_then_the_result(client):
    items = list(client.stream("stream-text", "stream these words please", max_tokens=60))
    *chunks, result = items
    assert chunks and all(isinstance(c, tollgate.TextDelta) for c in chunks)
    assert [c.part for c in chunks] == list(range(1, len(chunks) + 1))
    assert isinstance(result, tollgate.CallResult)
    assert "".join(c.text for c in chunks) == result.text == "echo: stream these words please"
    assert client.usage("stream-text")["providers"]["anthropic"]["used"] == \
        result.usage.total_tokens


def test_a_streamed_tool_call_yields_its_start_and_json_pieces(client):
    items = list(client.stream("stream-tool", messages=[
        {"role": "user",
         "content": 'Weather in Paris? [call_tool get_weather {"city": "Paris"}]'}],
        tools=WEATHER, tool_choice={"type": "auto"}))
    result = items[-1]
    starts = [c for c in items if isinstance(c, tollgate.ToolUseStart)]
    assert len(starts) == 1 and starts[0].name == "get_weather"
    pieces = "".join(c.partial_json for c in items
                     if isinstance(c, tollgate.InputJsonDelta) and c.index == starts[0].index)
    assert json.loads(pieces) == {"city": "Paris"}
    assert result.stop_reason == "tool_use"
    assert result.tool_uses[0]["id"] == starts[0].id
    assert result.tool_uses[0]["input"] == {"city": "Paris"}


def test_cancel_ends_a_stream_with_cancelled(client, tollgated):
    tollgated.fake.set_faults(["anthropic:event_delay_ms=300:times=1"])
    try:
        stream = client.stream("stream-cancel", "a long answer that takes a while " * 3)
        items = iter(stream)
        first = next(items)
        assert isinstance(first, tollgate.TextDelta)
        assert client.cancel(stream.id)["found"] is True
        with pytest.raises(tollgate.Cancelled) as e:
            for _ in items:
                pass
        assert e.value.partial and e.value.request_id == stream.id
    finally:
        tollgated.fake.set_faults([])


def test_cancel_of_an_unknown_id_is_not_found(client):
    assert client.cancel("no-such-call")["found"] is False


def test_leaving_a_stream_early_cancels_the_call_in_the_daemon(client, tollgated):
    # On openai, so that the other tests' cancelled streams (anthropic) do not count.
    closed = lambda: tollgated.fake.stats()["openai"]["streams_client_closed"]  # noqa: E731
    assert closed() == 0
    tollgated.fake.set_faults(["openai:event_delay_ms=300:times=1"])
    try:
        for chunk in client.stream("stream-leave", "words and more words " * 4,
                                   preferred_provider="openai"):
            break
        # The cancel was sent when the loop left: the daemon ends the call,
        # charged as cut, long before the stream would have ended.
        daemon.wait_until(
            lambda: client.usage("stream-leave")["providers"]["openai"]["requests"] == 1,
            3, "the cancelled call charged")
        assert client.usage("stream-leave")["providers"]["openai"]["reserved"] == 0
        # ...and the provider sees its stream closed by the daemon, not finished.
        daemon.wait_until(lambda: closed() == 1, 3, "the provider's stream closed")
    finally:
        tollgated.fake.set_faults([])


@pytest.mark.asyncio
async def test_async_stream_yields_chunks_and_can_be_cancelled(tollgated):
    async with tollgate.AsyncClient(tollgated.requests, timeout=daemon.scaled(30)) as client:
        items = [i async for i in client.stream("stream-async", "async streaming")]
        assert isinstance(items[-1], tollgate.CallResult)
        assert "".join(c.text for c in items[:-1]) == items[-1].text
        tollgated.fake.set_faults(["anthropic:event_delay_ms=300:times=1"])
        try:
            stream = client.stream("stream-async", "cancel me " * 5)
            seen = []
            with pytest.raises(tollgate.Cancelled):
                async for item in stream:
                    seen.append(item)
                    if len(seen) == 1:
                        assert (await stream.cancel())["found"]
        finally:
            tollgated.fake.set_faults([])
