"""Many requests in flight on one client: replies are matched to their callers by id."""
import asyncio
import threading

import pytest

import daemon
import tollgate


@pytest.mark.asyncio
async def test_200_concurrent_calls_on_one_async_client(tollgated):
    async with tollgate.AsyncClient(tollgated.requests, timeout=daemon.scaled(60)) as client:
        prompts = [f"fan-out request number {i}" for i in range(200)]
        results = await asyncio.gather(*(client.call(f"conc-async-{i % 5}", p, max_tokens=30)
                                         for i, p in enumerate(prompts)))
        assert [r.text for r in results] == [f"echo: {p}" for p in prompts]
        assert len({r.id for r in results}) == 200
        requests = 0
        for agent in range(5):
            usage = await client.usage(f"conc-async-{agent}")
            requests += usage["providers"]["anthropic"]["requests"]
        assert requests == 200


def test_threads_share_one_sync_client(tollgated):
    baseline = threading.active_count()
    results, failures = {}, []
    with tollgate.Client(tollgated.requests, timeout=daemon.scaled(60)) as client:
        assert threading.active_count() == baseline + 1  # its one I/O thread

        def worker(n):
            try:
                for i in range(25):
                    prompt = f"thread {n} call {i}"
                    if i % 5 == 4:  # other ops interleaved with the calls
                        assert client.usage(f"conc-thread-{n}")["ai_name"] == f"conc-thread-{n}"
                    results[prompt] = client.call(f"conc-thread-{n}", prompt).text
            except BaseException as e:  # reported by the main thread below
                failures.append(e)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures, failures
        assert len(results) == 200
        assert all(text == f"echo: {prompt}" for prompt, text in results.items())
    assert threading.active_count() == baseline  # close() joined the I/O thread


def test_close_wakes_a_caller_still_waiting(tollgated):
    tollgated.fake.set_faults([f"anthropic:delay_ms={int(daemon.scaled(1000))}:times=1"])
    try:
        client = tollgate.Client(tollgated.requests, timeout=daemon.scaled(30))
        failure = []

        def caller():
            try:
                client.call("conc-closed", "never answered in time")
            except tollgate.ClientClosed as e:
                failure.append(e)

        t = threading.Thread(target=caller)
        t.start()
        daemon.wait_until(lambda: client._pending, 5, "the call in flight")
        client.close()
        t.join(timeout=daemon.scaled(5))
        assert not t.is_alive() and len(failure) == 1
        with pytest.raises(tollgate.ClientClosed):
            client.ping()
    finally:
        tollgated.fake.set_faults([])
