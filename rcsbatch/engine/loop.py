"""Running the async core from plain code, with or without an event loop already running.

`run_sync` is how every sync library call reaches its coroutine: `asyncio.run` when no loop runs
in the calling thread; inside a running loop (a notebook cell, an async web handler) a helper
thread with a loop of its own runs it while the caller waits. Either way the caller's process
keeps its event loop policy, garbage collector settings and signal handlers: uvloop and GC
tuning belong to the console script (`console_loop`, cli.py).

A KeyboardInterrupt in the waiting caller (or asyncio cancelling the caller's task, as
`asyncio.run` does on Ctrl-C) cancels the coroutine; a run that has begun sending treats that as
Ctrl-C and comes back with its result (see runner.run_async), anything else ends as the
interrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# How often the waiting caller looks whether its own task was cancelled: asyncio's Ctrl-C
# handler cancels it instead of raising, and nothing else wakes a thread blocked in join().
POLL_SECONDS = 0.05


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to its end and return what it returns; see the module docstring."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return _on_helper_thread(coro)


def _on_helper_thread(coro: Coroutine[Any, Any, T]) -> T:
    caller = asyncio.current_task()
    cancels = caller.cancelling() if caller is not None else 0
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    # Not Thread.join: a KeyboardInterrupt inside it can leave the thread marked stopped while
    # it still runs. The helper says it is done once its loop is closed.
    done = threading.Event()
    threading.Thread(target=_drive, args=(loop, task, done), name="rcsbatch-engine").start()
    interrupted: type[BaseException] | None = None
    while not done.is_set():
        try:
            done.wait(POLL_SECONDS)
            if interrupted is None and caller is not None and caller.cancelling() > cancels:
                interrupted = asyncio.CancelledError
            else:
                continue
        except KeyboardInterrupt:
            if interrupted is not None:
                continue  # the coroutine is stopping already: wait for its end
            interrupted = KeyboardInterrupt
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing to stop
            loop.call_soon_threadsafe(task.cancel)
    if task.cancelled():
        raise interrupted() if interrupted is not None else asyncio.CancelledError()
    return task.result()


def _drive(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], done: threading.Event) -> None:
    """The helper thread: run `task` on `loop`, close the loop as asyncio.run would, say done."""
    try:
        # The task keeps its outcome (an error, KeyboardInterrupt) for the caller to raise.
        with (
            asyncio.Runner(loop_factory=lambda: loop) as runner,
            contextlib.suppress(BaseException),
        ):
            runner.run(_wait(task))
    finally:
        done.set()


async def _wait(task: asyncio.Task[T]) -> T:
    return await task


def console_loop() -> asyncio.Runner:
    """The console script's event loop: uvloop where it is installed (not on Windows), as it
    costs less CPU a message than asyncio's own loop here (bench/RESULTS.md), else asyncio's.
    RCSBATCH_EVENT_LOOP=asyncio chooses asyncio's own. Never for a library call."""
    if os.environ.get("RCSBATCH_EVENT_LOOP", "").lower() != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    return asyncio.Runner()
