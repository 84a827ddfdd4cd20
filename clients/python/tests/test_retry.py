"""A client-side timeout, then a resend with the same idempotency key: charged once."""
import logging

import pytest

import daemon
import tollgate

SLOW_MS = int(daemon.scaled(0.8) * 1000)  # the provider's delay
CLIENT_WAIT = 0.2  # seconds: always shorter than SLOW_MS, so the first attempt times out


def agent_usage(client, agent):
    return client.usage(agent)["providers"]["anthropic"]


def test_client_timeout_is_a_timeout_and_the_retry_with_the_same_key_is_charged_once(
        tollgated, caplog):
    tollgated.fake.set_faults([f"anthropic:delay_ms={SLOW_MS}:times=1"])
    caplog.set_level(logging.INFO, logger="tollgate")
    before = tollgated.fake.stats()["anthropic"]["requests"]
    with tollgate.Client(tollgated.requests, timeout=daemon.scaled(30)) as client:
        with pytest.raises(tollgate.ClientTimeout) as e:
            client.call("retry-sync", "slow answer", timeout=CLIENT_WAIT,
                        idempotency_key="retry-sync-1")
        assert isinstance(e.value, tollgate.Timeout)
        # Resent with the same key: it waits for the first call in the daemon.
        result = client.call("retry-sync", "slow answer", timeout=CLIENT_WAIT, retries=20,
                             idempotency_key="retry-sync-1")
        assert any("resending" in r.getMessage() for r in caplog.records)
        assert result.replayed
        usage = agent_usage(client, "retry-sync")
        assert usage["requests"] == 1 and usage["used"] == result.usage.total_tokens
    assert tollgated.fake.stats()["anthropic"]["requests"] == before + 1


def test_retries_reuse_the_generated_idempotency_key(tollgated, caplog):
    tollgated.fake.set_faults([f"anthropic:delay_ms={SLOW_MS}:times=1"])
    caplog.set_level(logging.INFO, logger="tollgate")
    before = tollgated.fake.stats()["anthropic"]["requests"]
    with tollgate.Client(tollgated.requests, timeout=daemon.scaled(30)) as client:
        result = client.call("retry-auto", "slow again", timeout=CLIENT_WAIT, retries=20)
        assert any("resending" in r.getMessage() for r in caplog.records)
        assert result.replayed
        assert agent_usage(client, "retry-auto")["requests"] == 1
    assert tollgated.fake.stats()["anthropic"]["requests"] == before + 1


@pytest.mark.asyncio
async def test_async_retries_are_charged_once(tollgated):
    tollgated.fake.set_faults([f"anthropic:delay_ms={SLOW_MS}:times=1"])
    async with tollgate.AsyncClient(tollgated.requests, timeout=daemon.scaled(30)) as client:
        with pytest.raises(tollgate.ClientTimeout):
            await client.call("retry-async", "slow", timeout=CLIENT_WAIT,
                              idempotency_key="retry-async-1")
        result = await client.call("retry-async", "slow", timeout=CLIENT_WAIT, retries=20,
                                   idempotency_key="retry-async-1")
        assert result.replayed
        usage = (await client.usage("retry-async"))["providers"]["anthropic"]
        assert usage["requests"] == 1 and usage["used"] == result.usage.total_tokens
        assert client.late_replies >= 1  # the first attempt's reply came after it gave up
