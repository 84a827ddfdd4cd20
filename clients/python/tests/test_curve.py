"""CurveZMQ (PROTOCOL.md section 6): keys, admin-only ops, refused strangers."""
import pytest

import daemon
import tollgate


@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    work = tmp_path_factory.mktemp("curve")
    server = daemon.curve_keypair()
    user, admin = daemon.curve_keypair(), daemon.curve_keypair()
    (work / "server.key").write_text(server[1] + "\n")
    (work / "clients").write_text(f"# clients\n{user[0]}\n{admin[0]} admin\n")
    d = daemon.start(work / "d", env={
        "TOLLGATE_CURVE_SECRET_KEY_FILE": str(work / "server.key"),
        "TOLLGATE_CURVE_CLIENTS_FILE": str(work / "clients")})
    yield d, server[0], user, admin
    daemon.stop(d)


def test_an_allowed_key_calls_over_curve(curve):
    d, server_public, user, _ = curve
    with tollgate.Client(d.requests, server_key=server_public, client_keys=user,
                         timeout=daemon.scaled(10)) as client:
        assert client.public_key == user[0]
        assert client.call("curve-user", "hello over curve").text == "echo: hello over curve"


def test_a_non_admin_key_gets_unauthorized_for_admin_ops(curve):
    d, server_public, user, _ = curve
    with tollgate.Client(d.requests, server_key=server_public, client_keys=user,
                         timeout=daemon.scaled(10)) as client:
        client.call("curve-reset", "some usage")
        with pytest.raises(tollgate.Unauthorized):
            client.reset("curve-reset")
        with pytest.raises(tollgate.Unauthorized):
            client.set_limit("curve-reset", "anthropic", 5)


@pytest.mark.asyncio
async def test_an_admin_key_may_reset_and_the_async_client_speaks_curve(curve):
    d, server_public, _, admin = curve
    async with tollgate.AsyncClient(d.requests, server_key=server_public, client_keys=admin,
                                    timeout=daemon.scaled(10)) as client:
        await client.call("curve-admin", "usage to clear")
        reply = await client.reset("curve-admin")
        assert reply["cleared"]["anthropic"] > 0


def test_a_generated_key_the_daemon_does_not_know_gets_no_answer(curve):
    d, server_public, _, _ = curve
    with tollgate.Client(d.requests, server_key=server_public, timeout=0.3) as client:
        assert client.public_key is not None  # from zmq.curve_keypair()
        # The second request goes out after the refusal, when the socket has
        # no peer to send to: it too must time out, and close() must return.
        for _ in range(2):
            with pytest.raises(tollgate.ClientTimeout):
                client.ping()


@pytest.mark.asyncio
async def test_an_async_client_with_an_unknown_key_times_out(curve):
    d, server_public, _, _ = curve
    async with tollgate.AsyncClient(d.requests, server_key=server_public,
                                    timeout=0.3) as client:
        for _ in range(2):
            with pytest.raises(tollgate.ClientTimeout):
                await client.ping()


def test_a_subscriber_receives_alerts_over_curve(curve):
    d, server_public, _, admin = curve
    with tollgate.Client(d.requests, server_key=server_public, client_keys=admin,
                         timeout=daemon.scaled(10)) as client, \
            client.subscribe("alert.", d.events) as sub:
        client.call("curve-alerts", "usage")
        low = 1

        def alert():
            nonlocal low
            low += 1
            client.set_limit("curve-alerts", "anthropic", 100_000_000)
            client.set_limit("curve-alerts", "anthropic", 2 + low % 10)  # under its usage
            return sub.get(timeout=0.05)
        event = daemon.wait_until(alert, 10, "an alert over curve")
        assert event.body["ai_name"] == "curve-alerts"
