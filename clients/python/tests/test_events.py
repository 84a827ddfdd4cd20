"""Subscribers: alerts as events, and alerts missed in a seq gap read back with `alerts`."""
import asyncio
import time

import pytest

import daemon
import tollgate
from tollgate.events import GapTracker, alert_key

HIGH = 100_000_000


def fire_alerts(client, agent, low):
    """Re-arms the agent's levels with a high limit, then crosses them all at `low`."""
    client.set_limit(agent, "anthropic", HIGH)
    client.set_limit(agent, "anthropic", low)


def first_live_alert(client, sub, agent):
    """Fires alerts until the subscription delivers one (ZeroMQ's slow joiner)."""
    low = 1

    def delivered():
        nonlocal low
        low += 1
        fire_alerts(client, agent, 2 + low % 10)  # limits under the agent's usage
        return sub.get(timeout=0.05)
    return daemon.wait_until(delivered, 10, "the first alert event")


@pytest.fixture(scope="module")
def small_hwm_daemon(tmp_path_factory):
    # No rate limits: the tests make more calls than ANTHROPIC_RPM's default.
    # Small queues and kernel buffers on the daemon's side (and rcvhwm=1,
    # rcvbuf=4096 on the subscribers'), so a subscriber that stops reading
    # overflows after some tens of events whatever the timing: with the
    # OS's default send buffer, Linux absorbs megabytes first.
    d = daemon.start(tmp_path_factory.mktemp("events"),
                     env={"TOLLGATE_EVENTS_HWM": "10", "TOLLGATE_EVENTS_SNDBUF": "4096",
                          "ANTHROPIC_RPM": "0", "OPENAI_RPM": "0"})
    yield d
    daemon.stop(d)


def test_a_subscriber_receives_alerts_as_events(small_hwm_daemon):
    d = small_hwm_daemon
    with tollgate.Client(d.requests, timeout=daemon.scaled(20)) as client, \
            client.subscribe("alert.", d.events) as sub:
        client.call("events-live", "use tokens")
        event = first_live_alert(client, sub, "events-live")
        assert event.topic.startswith("alert.") and not event.recovered
        assert event.body["ai_name"] == "events-live" and event.seq is not None
        assert sub.gaps == 0


async def flood(client, agents, rounds):
    async def one(agent):
        for r in range(rounds):
            await client.set_limit(agent, "anthropic", HIGH)
            await client.set_limit(agent, "anthropic", 2 + r)
    await asyncio.gather(*(one(a) for a in agents))


def test_a_subscriber_that_overflows_recovers_every_missed_alert(small_hwm_daemon):
    d = small_hwm_daemon
    agents = [f"events-gap-{i}" for i in range(20)]
    with tollgate.Client(d.requests, timeout=daemon.scaled(30)) as client, \
            client.subscribe("alert.", d.events, rcvhwm=1, rcvbuf=4096) as sub:
        for agent in agents + ["events-marker", "events-end"]:
            assert client.call(agent, "use tokens").provider == "anthropic"
        first_live_alert(client, sub, "events-marker")
        start_ms = sub.tracker.since_ms
        # Not reading while many alerts are published: the queues overflow.
        async def publish():
            async with tollgate.AsyncClient(d.requests, timeout=daemon.scaled(60)) as ac:
                await flood(ac, agents, 15)
        asyncio.run(publish())
        received = []
        marker = 1

        def marker_seen():
            # A gap shows at the next event that gets through, so while
            # nothing comes, publish another marker alert.
            nonlocal marker
            event = sub.get(timeout=0.2)
            if event is None:
                marker += 1  # limits under the agent's usage: every level fires
                fire_alerts(client, "events-end", 2 + marker % 10)
                return False
            received.append(event)
            return event.body["ai_name"] == "events-end"
        daemon.wait_until(marker_seen, 30, "a marker alert after the flood", interval=0)
        assert sub.gaps >= 1
        recovered = [e for e in received if e.recovered]
        assert recovered and all(e.seq is None for e in recovered)
        kept = client.alerts(since_ms=start_ms, limit=10000)["alerts"]
        flooded = {alert_key(a) for a in kept if a["ai_name"].startswith("events-gap-")}
        assert len(flooded) == len(agents) * 15 * 4
        got = [alert_key(e.body) for e in received]
        assert flooded <= set(got)
        assert len(got) == len(set(got))  # none twice


@pytest.mark.asyncio
async def test_the_async_subscriber_receives_alerts(small_hwm_daemon):
    d = small_hwm_daemon
    async with tollgate.AsyncClient(d.requests, timeout=daemon.scaled(20)) as client:
        sub = client.subscribe("alert.critical", d.events)
        try:
            await client.call("events-async", "use tokens")
            event = None
            for n in range(200):
                await client.set_limit("events-async", "anthropic", HIGH)
                await client.set_limit("events-async", "anthropic", 2 + n % 10)
                event = await sub.get(timeout=0.05)
                if event is not None:
                    break
            assert event is not None and event.topic == "alert.critical"
        finally:
            sub.close()


@pytest.mark.asyncio
async def test_the_async_subscriber_recovers_missed_alerts_too(small_hwm_daemon):
    d = small_hwm_daemon
    agents = [f"events-agap-{i}" for i in range(20)]
    async with tollgate.AsyncClient(d.requests, timeout=daemon.scaled(60)) as client:
        async with client.subscribe("alert.", d.events, rcvhwm=1, rcvbuf=4096) as sub:
            for agent in agents + ["events-aend"]:
                assert (await client.call(agent, "use tokens")).provider == "anthropic"
            event, n = None, 0
            deadline = time.monotonic() + daemon.scaled(10)
            while event is None:  # the subscription is live once an alert comes
                n += 1
                assert time.monotonic() < deadline, "no alert event"
                await client.set_limit("events-aend", "anthropic", HIGH)
                await client.set_limit("events-aend", "anthropic", 2 + n % 10)
                event = await sub.get(timeout=0.05)
            start_ms = sub.tracker.since_ms
            await flood(client, agents, 15)
            deadline = time.monotonic() + daemon.scaled(30)
            received = []
            while not any(e.body["ai_name"] == "events-aend" and e.body["at_ms"] > start_ms
                          for e in received[-1:]):
                event = await sub.get(timeout=0.2)
                if event is None:  # a gap shows at the next event: publish one
                    n += 1
                    await client.set_limit("events-aend", "anthropic", HIGH)
                    await client.set_limit("events-aend", "anthropic", 2 + n % 10)
                    assert time.monotonic() < deadline, "no event after the flood"
                else:
                    received.append(event)
            assert sub.gaps >= 1 and any(e.recovered for e in received)
            kept = (await client.alerts(since_ms=start_ms, limit=10000))["alerts"]
            flooded = {alert_key(a) for a in kept if a["ai_name"].startswith("events-agap-")}
            assert len(flooded) == len(agents) * 15 * 4
            assert flooded <= {alert_key(e.body) for e in received}


def test_seq_going_back_is_a_gap_and_recovery_skips_alerts_already_seen():
    tracker = GapTracker("alert.")
    seen = {"level": "warning", "ai_name": "a", "provider": "p", "period": "2026-11",
            "threshold": 0.8, "used": 9, "limit": 10, "at_ms": tracker.since_ms + 1}
    for seq in (7, 8):
        tracker.note_seq({"seq": seq})
    assert not tracker.recovery_due and tracker.first_sight("alert.warning", seen)
    tracker.note_seq({"seq": 1})  # a restarted daemon counts from 1 again
    assert tracker.recovery_due and tracker.gaps == 1
    missed = dict(seen, level="critical", at_ms=seen["at_ms"] + 5)
    other = dict(seen, level="exhausted", at_ms=seen["at_ms"] + 6)
    recovered = GapTracker("alert.critical")
    recovered.since_ms = tracker.since_ms
    events = tracker.recovered([other, missed, seen])  # newest first, as the op
    assert [e.topic for e in events] == ["alert.critical", "alert.exhausted"]
    assert all(e.recovered for e in events) and not tracker.recovery_due
