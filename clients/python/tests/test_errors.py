"""Each error code the daemon gives becomes its exception class (PROTOCOL.md section 3)."""
import pytest

import daemon
import tollgate
from tollgate import errors


@pytest.fixture(scope="module")
def client(tollgated):
    with tollgate.Client(tollgated.requests, timeout=30) as c:
        yield c


def started(tmp_path, env, faults=()):
    return daemon.start(tmp_path / "d", env=env, faults=list(faults))


def test_every_error_class_is_a_tollgate_error_with_its_code():
    for code, cls in errors.ERROR_CLASSES.items():
        assert issubclass(cls, tollgate.TollgateError) and cls.code == code
    assert issubclass(tollgate.ClientTimeout, tollgate.Timeout)
    unknown = errors.error_from_reply({"id": 7, "ok": False,
                                       "error": {"code": "brand_new", "message": "m"}})
    assert type(unknown) is tollgate.TollgateError and unknown.code == "brand_new"
    assert unknown.request_id == 7 and unknown.message == "m"


def test_bad_request_names_the_field(client):
    with pytest.raises(tollgate.BadRequest) as e:
        client.call("not a valid name!", "x")
    assert "ai_name" in e.value.message and e.value.request_id is not None


def test_unknown_op_and_unsupported_version(client):
    with pytest.raises(tollgate.UnknownOp):
        tollgate.client.checked(client.request({"v": 1, "op": "no_such_op"}))
    with pytest.raises(tollgate.UnsupportedVersion):
        tollgate.client.checked(client.request({"v": 2, "op": "ping"}))


def test_unknown_agent_for_a_reset_of_an_agent_never_seen(client):
    with pytest.raises(tollgate.UnknownAgent) as e:
        client.reset("errors-nobody")
    assert "errors-nobody" in e.value.message


def test_too_large_for_a_prompt_over_the_per_request_cap(client):
    with pytest.raises(tollgate.TooLarge):
        client.call("errors-big", "x" * 80_000)


def test_budget_exhausted_when_no_provider_can_hold_the_call(client):
    client.set_limit("errors-poor", "anthropic", 50)
    client.set_limit("errors-poor", "openai", 50)
    with pytest.raises(tollgate.BudgetExhausted) as e:
        client.call("errors-poor", "hello", max_tokens=500)
    assert "both_exhausted" in e.value.message


def test_provider_error_carries_the_providers_message(client, tollgated):
    tollgated.fake.set_faults(["anthropic:status=400:times=1"])
    try:
        with pytest.raises(tollgate.ProviderError) as e:
            client.call("errors-provider", "refused please")
        assert "400" in e.value.message
    finally:
        tollgated.fake.set_faults([])


def test_timeout_when_the_calls_deadline_passes(client, tollgated):
    tollgated.fake.set_faults(["*:delay_ms=3000:times=1"])
    try:
        with pytest.raises(tollgate.Timeout) as e:
            client.call("errors-slow", "too slow", timeout_ms=200)
        assert type(e.value) is tollgate.Timeout  # the daemon's, not the client's
    finally:
        tollgated.fake.set_faults([])


def test_not_configured_without_api_keys(tmp_path):
    d = started(tmp_path, {"ANTHROPIC_API_KEY": None, "OPENAI_API_KEY": None})
    try:
        with tollgate.Client(d.requests, timeout=daemon.scaled(10)) as c:
            with pytest.raises(tollgate.NotConfigured) as e:
                c.call("errors-nokey", "hello")
        assert "ANTHROPIC_API_KEY environment variable not set" in e.value.message
    finally:
        daemon.stop(d)


def test_rate_limited_with_retry_after_in_seconds(tmp_path):
    d = started(tmp_path, {"ANTHROPIC_RPM": "1", "OPENAI_RPM": "1"})
    try:
        with tollgate.Client(d.requests, timeout=daemon.scaled(10)) as c:
            c.call("errors-rate", "one")
            c.call("errors-rate", "two")  # openai's one
            with pytest.raises(tollgate.RateLimited) as e:
                c.call("errors-rate", "three")
        assert e.value.retry_after is not None and 0 < e.value.retry_after <= 60
    finally:
        daemon.stop(d)


def test_emergency_shutdown_once_every_global_budget_is_exhausted(tmp_path):
    d = started(tmp_path, {})
    try:
        with tollgate.Client(d.requests, timeout=daemon.scaled(10)) as c:
            c.call("errors-spender", "spend")
            c.call("errors-spender", "spend", preferred_provider="openai")
            c.set_limit("*", "anthropic", 1)
            c.set_limit("*", "openai", 1)
            assert c.emergency_status()["shutdown"] is True
            with pytest.raises(tollgate.EmergencyShutdown):
                c.call("errors-spender", "refused")
    finally:
        daemon.stop(d)


def test_overloaded_when_the_in_flight_queue_is_full(tmp_path):
    slow = f"*:delay_ms={int(daemon.scaled(800))}:times=1"
    d = started(tmp_path, {"TOLLGATE_MAX_INFLIGHT": "1"}, faults=[slow])
    try:
        with tollgate.Client(d.requests, timeout=daemon.scaled(20)) as c:
            slow = c.stream("errors-busy", "keep the slot")  # sent at once, not awaited
            daemon.wait_until(lambda: not _armed(d.fake.faults()), 10,
                              "the first call at the provider")
            with pytest.raises(tollgate.Overloaded) as e:
                c.call("errors-busy", "no room")
            assert e.value.retry_after is not None
            assert isinstance(list(slow)[-1], tollgate.CallResult)
    finally:
        daemon.stop(d)


def _armed(faults):
    """Whether a fault of the script has not fired yet."""
    faults = faults.get("faults", faults) if isinstance(faults, dict) else faults
    return any(f.get("times", 1) > 0 for f in faults)
