"""Every op through the sync and async clients, and tollgate.compat, against a real tollgated."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import daemon
import tollgate
from tollgate import compat


@pytest.fixture(scope="module")
def client(tollgated):
    with tollgate.Client(tollgated.requests, timeout=30) as c:
        yield c


def test_ping_answers_version_and_pid(client, tollgated):
    reply = client.ping()
    assert reply["ok"] and reply["pid"] == tollgated.proc.pid and reply["version"]


def test_call_returns_a_typed_result_that_usage_and_history_count(client):
    result = client.call("ops-agent", "hello from python", max_tokens=40, temperature=0.2,
                         system="be brief", top_p=0.9, stop_sequences=["STOP"],
                         timeout_ms=20000)
    assert isinstance(result, tollgate.CallResult)
    assert result.text == "echo: hello from python"
    assert result.provider == "anthropic" and result.reason == "primary"
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    assert result.attempts[0].outcome == "ok" and not result.replayed and not result.cached
    assert result.stop_reason == "end_turn" and result.content[0]["type"] == "text"
    usage = client.usage("ops-agent")
    assert usage["providers"]["anthropic"]["used"] == result.usage.total_tokens
    history = client.history("ops-agent", months=2)
    assert len(history["months"]) == 2
    assert history["months"][0]["total_tokens"] == result.usage.total_tokens


def test_call_with_the_same_idempotency_key_is_replayed_and_charged_once(client):
    first = client.call("ops-idem", "once only", idempotency_key="k-ops-1")
    again = client.call("ops-idem", "once only", idempotency_key="k-ops-1")
    assert again.replayed and again.text == first.text
    assert client.usage("ops-idem")["providers"]["anthropic"]["requests"] == 1


def test_messages_with_content_blocks_and_images_are_accepted(client):
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
           "hgGAWjR9awAAAABJRU5ErkJggg==")  # one pixel
    result = client.call("ops-agent", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is in the picture"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}]}],
        preferred_provider="openai", model="gpt-4.1")
    assert result.provider == "openai" and result.reason == "preferred"


def test_cache_true_answers_a_repeat_from_the_cache(client):
    client.call("ops-cache", "cache this answer", cache=True)
    again = client.call("ops-cache", "cache this answer", cache=True)
    assert again.cached


def test_status_ops_answer_maps(client):
    client.call("ops-status", "something to report")
    summary = client.summary()
    assert any(a["ai_name"] == "ops-status" for a in summary["agents"])
    status = client.provider_status("ops-status")
    assert status["providers"]["anthropic"]["circuit"] == "closed"
    assert [a["ai_name"] for a in status["agents"]] == ["ops-status"]
    assert client.recommend("ops-status")["provider"] == "anthropic"
    assert client.emergency_status()["shutdown"] is False
    assert "ops-status" in client.forecast("ops-status")["agents"]
    daily = client.daily("ops-status", days=3)
    assert len(daily["days"]) == 3 and daily["days"][0]["providers"]["anthropic"]["requests"] == 1


def test_set_limit_fires_alerts_that_alerts_reads_and_reset_clears(client):
    client.call("ops-limit", "use some tokens")
    reply = client.set_limit("ops-limit", "anthropic", 10, limit_usd=5.0)
    assert reply["providers"]["anthropic"]["limit"] == 10
    assert any(o["ai_name"] == "ops-limit" and o["limit"] == 10 for o in client.limits()["limits"])
    alerts = client.alerts(ai_name="ops-limit", since_ms=0, limit=50)["alerts"]
    assert {a["level"] for a in alerts} >= {"warning", "critical", "emergency", "exhausted"}
    cleared = client.reset("ops-limit", "anthropic", force=False)
    assert cleared["cleared"]["anthropic"] > 0
    kinds = [e["kind"] for e in client.ledger_events(since_ms=0, limit=20)["events"]]
    assert "reset" in kinds and "limit" in kinds
    client.set_limit("ops-limit", "anthropic", None)
    assert not any(o["ai_name"] == "ops-limit" for o in client.limits()["limits"])


@pytest.mark.asyncio
async def test_async_client_answers_every_kind_of_op(tollgated):
    async with tollgate.AsyncClient(tollgated.requests, timeout=30) as client:
        assert (await client.ping())["ok"]
        result = await client.call("ops-async", "async hello")
        assert result.text == "echo: async hello"
        usage = await client.usage("ops-async")
        assert usage["providers"]["anthropic"]["used"] == result.usage.total_tokens
        assert (await client.recommend("ops-async"))["available"]
        with pytest.raises(tollgate.UnknownAgent):
            await client.reset("ops-never-seen")


def test_compat_functions_keep_the_old_service_interface(client):
    compat.configure(client)
    try:
        text, info = compat.call_ai("compat prompt", "ops-compat")
        assert text == "echo: compat prompt"
        assert info["provider"] == "anthropic" and info["usage"]["total_tokens"] > 0
        assert compat.get_provider_recommendation("ops-compat") == "anthropic"
        use_openai, reason = compat.should_use_openai("ops-compat")
        assert use_openai is False and reason == "primary"
        client.set_limit("ops-compat", "anthropic", 1)
        assert compat.should_use_openai("ops-compat")[0] is True
        assert compat.get_provider_recommendation("ops-compat") == "openai"
    finally:
        compat.configure(None)


def test_a_program_using_compat_exits_without_closing_anything(tollgated):
    script = ("from tollgate.compat import call_ai\n"
              "text, info = call_ai('from a script', 'ops-script')\n"
              "print(text, info['provider'])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=daemon.scaled(30),
                          env={**os.environ, "TOLLGATE_ENDPOINT": tollgated.requests,
                               "PYTHONPATH": str(Path(tollgate.__file__).parents[1])})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "echo: from a script anthropic\n"
