"""LocalClient's script methods delegate to logger.automation; the service lifecycle."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from rtoc_tui.api import ClientError, ScriptInfo, ScriptOutput
from rtoc_tui.client.local import LocalClient
from rtoc_tui.scripting import Automation, attach_automation


async def poll(fn: Any, timeout: float = 5.0) -> Any:
    """Await fn() until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def rtoc_threads() -> list[str]:
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith(("rtoc-script", "rtoc-automation"))
    ]


async def test_without_automation_lists_are_empty_and_actions_refused(logger: Any) -> None:
    client = LocalClient(logger)
    assert await client.scripts() == [] and await client.saved_scripts() == []
    assert await client.global_events() == {} and await client.global_actions() == {}
    with pytest.raises(ClientError, match="not available"):
        await client.run_script("print(1)")


async def test_scripts_through_the_client(logger: Any) -> None:
    attach_automation(logger)
    client = LocalClient(logger)
    await logger.start(autorun=False)
    try:
        info = await client.run_script("print('hello')", "greet")
        assert isinstance(info, ScriptInfo) and info.name == "greet" and info.mode == "once"

        async def done() -> ScriptOutput | None:
            out = await client.script_output(info.id)
            return out if out.state == "finished" else None

        out = await poll(done)
        assert out.lines == ("hello",) and out.cursor == 1
        loop = await client.run_script(
            "while True:\n    pass\n", "loop", mode="repeat", samplerate=10
        )
        await client.stop_script(loop.id)

        async def stopped() -> bool:
            return [s.state for s in await client.scripts() if s.id == loop.id] == ["stopped"]

        await poll(stopped)
        await client.save_script("greet", "print('hello')\n")
        assert await client.saved_scripts() == ["greet"]
        assert await client.load_script("greet") == "print('hello')\n"
        await client.set_global_event("e", {"cond": "Test.S.latest > 1", "id": "x"})
        assert (await client.global_events())["e"]["trigger"] == "rising"
        await client.set_global_action("a", {"listenID": ["x"], "script": "pass"})
        assert (await client.global_actions())["a"]["active"] is True
        refused = (
            lambda: client.run_script("pass", mode="nope"),
            lambda: client.stop_script("999"),
            lambda: client.script_output("999"),
            lambda: client.load_script("../x"),
            lambda: client.set_global_event("e", {"cond": "Test.S.latest >"}),
        )
        for call in refused:
            with pytest.raises(ClientError):
                await call()
        await client.set_global_action("a", None)
        assert await client.global_actions() == {}
        with pytest.raises(ClientError, match="no global action"):
            await client.set_global_action("a", None)
    finally:
        await logger.stop()
    assert rtoc_threads() == []


async def test_logger_stop_ends_running_scripts_and_the_worker(logger: Any) -> None:
    auto = attach_automation(logger)
    assert attach_automation(logger) is auto and isinstance(logger.automation, Automation)
    assert [s for s in logger.services if s.name == "automation"] == [auto.service]
    await logger.start(autorun=False)
    run = auto.run("while True:\n    x = 1\n", "forever")
    assert "rtoc-automation" in rtoc_threads()
    await logger.stop()
    assert rtoc_threads() == []
    assert auto.output(run.id).state == "stopped"
