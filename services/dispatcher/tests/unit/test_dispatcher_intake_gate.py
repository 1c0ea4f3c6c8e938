"""The intake persists several campaign events at once while nothing is sent, one while sending."""

import asyncio

from disparo_dispatcher.intake_gate import IntakeGate


async def _most_at_once(gate: IntakeGate, events: int) -> int:
    running = most = 0
    release = asyncio.Event()

    async def persist() -> None:
        nonlocal running, most
        async with gate.turn():
            running += 1
            most = max(most, running)
            await release.wait()
            running -= 1

    tasks = [asyncio.create_task(persist()) for _ in range(events)]
    for _ in range(5):  # let every task reach the gate
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*tasks)
    return most


async def test_idle_replica_persists_up_to_its_concurrency() -> None:
    assert await _most_at_once(IntakeGate(3, sending=lambda: False), events=5) == 3


async def test_sending_replica_persists_one_at_a_time() -> None:
    assert await _most_at_once(IntakeGate(3, sending=lambda: True), events=5) == 1


async def test_sending_that_starts_holds_the_next_event_back() -> None:
    sending = False
    gate = IntakeGate(2, sending=lambda: sending)
    first_done = asyncio.Event()
    order: list[str] = []

    async def persist(name: str, hold: asyncio.Event | None) -> None:
        async with gate.turn():
            order.append(f"{name} in")
            if hold is not None:
                await hold.wait()
            order.append(f"{name} out")

    first = asyncio.create_task(persist("first", first_done))
    await asyncio.sleep(0)
    sending = True  # a claim found messages: the second event waits for the first
    second = asyncio.create_task(persist("second", None))
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["first in"]
    first_done.set()
    await asyncio.gather(first, second)
    assert order == ["first in", "first out", "second in", "second out"]
