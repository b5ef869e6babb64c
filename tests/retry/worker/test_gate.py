"""Turns in one worker: a task that runs alone waits for the others, and nothing starts beside it."""

import asyncio

from retry.worker.gate import Gate


async def test_a_task_cancelled_while_it_waits_to_run_alone_opens_the_gate_again() -> None:
    running = {"others": 3}
    changes = []
    gate = Gate(lambda: running["others"], lambda: changes.append(gate.closed))

    async def alone() -> None:
        async with gate.turn(alone=True):
            pass

    waiting = asyncio.ensure_future(alone())
    await asyncio.sleep(0)
    assert gate.closed  # the worker claims nothing new while it waits
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)

    assert not gate.closed
    await asyncio.wait_for(gate.wait_open(), 1)  # claims go on
    assert changes[-1] is False


async def test_an_alone_turn_starts_once_the_others_have_ended_and_holds_the_gate_until_it_ends() -> None:
    running = {"others": 2}  # the worker's claimed attempts: the one that runs alone, and one beside it
    gate = Gate(lambda: running["others"], lambda: None)
    started = asyncio.Event()

    async def alone() -> None:
        async with gate.turn(alone=True):
            started.set()
            await asyncio.sleep(0.01)

    turn = asyncio.ensure_future(alone())
    await asyncio.sleep(0.01)
    assert not started.is_set()
    running["others"] = 1
    gate.notify()
    await asyncio.wait_for(started.wait(), 1)
    assert gate.closed
    await turn
    assert not gate.closed
