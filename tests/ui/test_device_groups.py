"""The device screen groups a driver's parameters (PARAMETER_GROUPS) so an 80x24 terminal
can use them: here the Otii, live against its emulator."""

from __future__ import annotations

import asyncio

from rtoc_tui.drivers.otii.emulator import OtiiEmulator
from textual.widgets import DataTable, Input, Tab, Tabs

from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.screens.device import DeviceScreen

from .conftest import StableClient, settle, wait_for
from .test_devices import select_device


def shown(screen: DeviceScreen) -> list[str]:
    table = screen.query_one("#params-table", DataTable)
    return [str(k.value) for k in table.rows]


async def test_otii_parameters_in_groups_at_80x24(make_logger) -> None:
    # the real clock: the Otii's samples carry real Unix times
    ui_logger = make_logger()
    with OtiiEmulator(port=0) as emu:
        # one value a tick: a 4 kS/s stream makes every key press wait for plot frames
        ui_logger.devices.settings["Otii"] = {
            "port": emu.port,
            "samplerate": 10.0,
            "record": False,
            "channels": "mc",
        }
        plugin = ui_logger.devices.start("Otii")
        app = build_app(StableClient(ui_logger, ("Otii",)), ui_logger.config)
        async with app.run_test(size=(80, 24)) as pilot:
            # not settle(): the plot never idles while the Otii streams
            await wait_for(pilot, lambda: app.state.polls >= 1, what="polls")
            await wait_for(pilot, lambda: plugin.connected, what="Otii connected")
            await select_device(pilot, "Otii")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
            screen = app.screen
            await wait_for(pilot, lambda: screen.detail is not None, what="device detail")
            tabs = screen.query_one("#param-groups", Tabs)
            assert tabs.display
            assert screen._groups[:6] == [
                "Output",
                "Supply",
                "Channels",
                "I/O",
                "Project",
                "Device",
            ]
            # one group at a time, and the whole group fits on the screen without scrolling
            assert screen.group == "Output"
            assert shown(screen)[:3] == ["main_power", "power_regulation", "main_voltage"]
            table = screen.query_one("#params-table", DataTable)
            for _ in screen._groups:
                assert len(shown(screen)) <= table.scrollable_content_region.height
                await pilot.press("right_square_bracket")
                await pilot.pause()
            assert screen.group == "Output"  # wrapped around
            # every group's tab is on screen at 80 columns
            for tab in tabs.query(Tab):
                assert tabs.region.x <= tab.region.x and tab.region.right <= tabs.region.right

            # switch to the I/O group and drive a GPO from the screen
            await pilot.press(
                "right_square_bracket", "right_square_bracket", "right_square_bracket"
            )
            await wait_for(pilot, lambda: screen.group == "I/O")
            rows = shown(screen)
            assert {"gpo1", "gpi1", "uart", "baudrate", "adc_resistor"} <= set(rows)
            table.focus()
            table.move_cursor(row=rows.index("gpo1"))
            await pilot.press("enter")
            edit = screen.query_one("#edit-input", Input)
            edit.value = "True"
            await pilot.press("enter")
            await wait_for(pilot, lambda: emu.device().gpo[1] is True, what="GPO1 set")
            await wait_for(pilot, lambda: "gpo1 = True" in screen.last_result)

            # back to Output: switching the main output off reaches the device
            await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
            await wait_for(pilot, lambda: screen.group == "Output")
            table.focus()
            table.move_cursor(row=shown(screen).index("main_voltage"))
            await pilot.press("enter")
            edit.value = "2.5"
            await pilot.press("enter")
            await wait_for(pilot, lambda: emu.device().main_voltage == 2.5, what="voltage set")
            await pilot.press("escape")
        # off the loop: stopping joins the driver's thread, which may wait for the loop
        await asyncio.to_thread(ui_logger.devices.stop, "Otii")


async def test_a_driver_without_groups_shows_one_list(ui_logger, clock) -> None:
    ui_logger.devices.start("Generator")
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await select_device(pilot, "Generator")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.detail is not None, what="device detail")
        assert not screen.query_one("#param-groups", Tabs).display
        assert shown(screen) == [p.name for p in screen.detail.parameters]
        await pilot.press("right_square_bracket")
        assert screen.group == ""
