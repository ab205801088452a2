"""The bot's menus (RTOC 2.0 documentation, section 5.5.2) and the role each action needs.

Every action is registered with the lowest role allowed to run it; `TelegramBot` checks that role
against the user's current permission each time an action or a typed answer arrives, so hiding a
button is never the only protection. Menus talk to the logger only through `LoggerClient`.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..api import ClientError, LoggerClient
from . import actions as custom
from .plots import PLOT_POINTS, Mark, Series, render_plot
from .screens import Button, Prompt, Screen
from .users import EVENT_LEVELS, ROLES, TelegramUser, UsersError, role_rank

if TYPE_CHECKING:
    from .bot import TelegramBot

log = logging.getLogger("rtoc.telegram")

READ, WRITE, ADMIN = 1, 2, 3
PERIODS: tuple[tuple[str, float | None], ...] = (
    ("10 min", 600.0),
    ("1 h", 3600.0),
    ("6 h", 6 * 3600.0),
    ("24 h", 86400.0),
    ("7 days", 7 * 86400.0),
    ("30 days", 30 * 86400.0),
    ("All", None),
)
PAGE = 20  # list entries per page
PRIORITIES = ("Info", "Warning", "Error")
PRIORITY_ICONS = ("ℹ️", "⚠️", "❗")
BACK = "⬅ Back"
MAIN = "🏠 Main menu"

Handler = Callable[..., Awaitable["Screen | None"]]
F = TypeVar("F", bound=Handler)
ACTIONS: dict[str, tuple[int, Handler]] = {}
PROMPTS: dict[str, tuple[int, Handler]] = {}


def action(name: str, role: int) -> Callable[[F], F]:
    """Register a menu action and the lowest role that may run it."""

    def deco(fn: F) -> F:
        ACTIONS[name] = (role, fn)
        return fn

    return deco


def prompt(name: str, role: int) -> Callable[[F], F]:
    """Register the handler of a typed answer and the lowest role that may give it."""

    def deco(fn: F) -> F:
        PROMPTS[name] = (role, fn)
        return fn

    return deco


class MenuError(ValueError):
    """A menu request cannot be done; the text is shown to the user."""


@dataclass
class ChatState:
    """What a chat has selected in the menus (kept in memory only)."""

    selected: list[str] = field(default_factory=list)
    period_s: float | None = 3600.0
    show_events: bool = True
    prompt: Prompt | None = None
    pending_priority: int = 0


@dataclass
class Chat:
    """The user an update came from and the state of their chat."""

    id: int
    user: TelegramUser
    state: ChatState


def _parse_value(text: str) -> Any:
    """A typed value: a Python literal (number, list, True, 'text') or else the plain text."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _parse_float(text: str, what: str) -> float:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        raise MenuError(f"{what} must be a number, not {text.strip()!r}; send it again") from None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _period_label(period_s: float | None) -> str:
    for label, s in PERIODS:
        if s == period_s:
            return label
    return "all data" if period_s is None else f"{period_s / 3600:g} h"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


class Menus:
    """Builds the screens and runs the actions of one bot."""

    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot

    @property
    def client(self) -> LoggerClient:
        return self.bot.client

    async def _config(self) -> dict[str, Any]:
        return {c.key: c.value for c in await self.client.config()}

    # -- main menu ------------------------------------------------------------------------------
    @action("main", READ)
    async def main(self, chat: Chat, notice: str = "") -> Screen:
        rank = chat.user.rank
        st = await self.client.status()
        text = (
            f"{st.name}: {st.signals} signals, {st.devices_running} devices running, "
            f"{st.events} events.\nYou are signed in as {chat.user.name} ({chat.user.permission})."
        )
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        for name in self.bot.custom_actions():
            if custom.is_admin_only(name) and rank < ADMIN:
                continue
            s.add(Button(f"▶ {custom.label(name)}", "custom", (name,)))
        if rank >= WRITE:
            for target in chat.user.shortcuts[0]:
                s.add(Button(f"★ {target}", "shortcut_param", (target,)))
            for target in chat.user.shortcuts[1]:
                s.add(Button(f"★ {target}()", "shortcut_func", (target,)))
        s.add(Button("📈 Latest values", "latest"), Button("📊 Signals", "signals"))
        if rank >= WRITE:
            s.add(Button("🔌 Devices", "devices"), Button("✉ Send event/signal", "send"))
            s.add(Button("⚙ Automation", "automation"), Button("🛠 Settings", "settings"))
        else:
            s.add(Button("🛠 Settings", "settings"))
        return s

    # -- latest values --------------------------------------------------------------------------
    @action("latest", READ)
    async def latest(self, chat: Chat) -> Screen:
        sigs = sorted(await self.client.signals(), key=lambda s: s.name)
        now = time.time()
        lines = []
        for sig in sigs:
            if sig.latest is None:
                lines.append(f"{sig.name}: no data")
                continue
            x, y = sig.latest
            age = f" ({_age(now - x)})" if abs(now - x) < 10 * 365 * 86400 else ""
            lines.append(f"{sig.name}: {_fmt(y)} {sig.unit}".rstrip() + age)
        text = "Latest values\n" + ("\n".join(lines) if lines else "No signals yet.")
        if len(text) > 4000:
            text = text[:3990] + "\n..."
        return Screen(text).add(Button("🔄 Refresh", "latest"), Button(BACK, "main"))

    # -- signals and plots ------------------------------------------------------------------------
    @action("signals", READ)
    async def signals(self, chat: Chat, page: int = 0, notice: str = "") -> Screen:
        names = sorted(s.name for s in await self.client.signals())
        st = chat.state
        st.selected = [n for n in st.selected if n in names]
        text = (
            f"Signals: {len(names)}. Selected: {', '.join(st.selected) or 'none'}.\n"
            f"Period: {_period_label(st.period_s)}. Events in the plot: "
            f"{'shown' if st.show_events else 'hidden'}."
        )
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        chunk = names[page * PAGE : (page + 1) * PAGE]
        for i in range(0, len(chunk), 2):
            s.add(
                *[
                    Button(("✅ " if n in st.selected else "▫ ") + n, "sig_toggle", (n, page))
                    for n in chunk[i : i + 2]
                ]
            )
        s.add(
            Button("◀ Previous", "signals", (page - 1,)) if page > 0 else None,
            Button("Next ▶", "signals", (page + 1,)) if (page + 1) * PAGE < len(names) else None,
        )
        s.add(
            Button("🕑 Select period", "period"),
            Button("Hide events" if st.show_events else "Show events", "toggle_events"),
        )
        s.add(Button("🖼 Generate plot", "plot"))
        if chat.user.rank >= ADMIN:
            s.add(
                Button("🗑 Delete signals", "delete_signals"),
                Button("🗑 Delete events", "delete_events"),
            )
        s.add(Button(BACK, "main"))
        return s

    @action("sig_toggle", READ)
    async def sig_toggle(self, chat: Chat, name: str, page: int = 0) -> Screen:
        sel = chat.state.selected
        if name in sel:
            sel.remove(name)
        else:
            sel.append(name)
        return await self.signals(chat, page)

    @action("toggle_events", READ)
    async def toggle_events(self, chat: Chat) -> Screen:
        chat.state.show_events = not chat.state.show_events
        return await self.signals(chat)

    @action("period", READ)
    async def period(self, chat: Chat) -> Screen:
        s = Screen(
            f"Plot period (now: {_period_label(chat.state.period_s)}), counted back from the "
            "newest sample of the selected signals."
        )
        buttons = [Button(label, "set_period", (sec,)) for label, sec in PERIODS]
        for i in range(0, len(buttons), 3):
            s.add(*buttons[i : i + 3])
        s.add(
            Button("✏ Other (hours)", "ask", ("period_hours", "Send the period in hours, e.g. 2.5"))
        )
        s.add(Button(BACK, "signals"))
        return s

    @action("set_period", READ)
    async def set_period(self, chat: Chat, seconds: float | None) -> Screen:
        chat.state.period_s = seconds
        return await self.signals(chat)

    @prompt("period_hours", READ)
    async def period_hours(self, chat: Chat, text: str) -> Screen:
        hours = _parse_float(text, "The period")
        if hours <= 0:
            raise MenuError("The period must be more than 0 hours; send it again")
        chat.state.period_s = hours * 3600.0
        return await self.signals(chat)

    async def _plot_range(self, chat: Chat) -> tuple[float | None, float | None]:
        if chat.state.period_s is None:
            return None, None
        latest = [
            s.latest[0]
            for s in await self.client.signals()
            if s.name in chat.state.selected and s.latest is not None
        ]
        xmax = max(latest) if latest else time.time()
        return xmax - chat.state.period_s, xmax

    @action("plot", READ)
    async def plot(self, chat: Chat) -> Screen | None:
        names = list(chat.state.selected)
        if not names:
            return await self.signals(chat, notice="Select at least one signal first.")
        xmin, xmax = await self._plot_range(chat)
        series = []
        for name in names:
            try:
                w = await self.client.query(name, xmin, xmax, PLOT_POINTS)
            except ClientError:
                continue  # deleted meanwhile
            series.append(Series(name, w.unit, w.x, w.y))
        marks = []
        if chat.state.show_events:
            for e in await self.client.events_since(0):
                if (xmin is None or e.x >= xmin) and (xmax is None or e.x <= xmax):
                    marks.append(Mark(e.x, e.text, e.priority))
        n = sum(s.x.size for s in series)
        png = await asyncio.to_thread(
            render_plot, series, marks, f"{', '.join(names)} ({_period_label(chat.state.period_s)})"
        )
        await self.bot.send_photo(
            chat.id, png, f"{len(series)} signals, {n} points, {len(marks)} events"
        )
        return await self.signals(chat)

    @action("delete_signals", ADMIN)
    async def delete_signals(self, chat: Chat) -> Screen:
        if not chat.state.selected:
            return await self.signals(chat, notice="Select the signals to delete first.")
        return Screen(
            f"Delete the signals {', '.join(chat.state.selected)} with all their data? "
            "This cannot be undone."
        ).add(Button("🗑 Yes, delete", "delete_signals_yes"), Button("Cancel", "signals"))

    @action("delete_signals_yes", ADMIN)
    async def delete_signals_yes(self, chat: Chat) -> Screen:
        names = list(chat.state.selected)
        await self.client.delete_signals(names)
        chat.state.selected = []
        return await self.signals(chat, notice=f"Deleted {', '.join(names)}.")

    @action("delete_events", ADMIN)
    async def delete_events(self, chat: Chat) -> Screen:
        return Screen("Delete all events? This cannot be undone.").add(
            Button("🗑 Yes, delete", "delete_events_yes"), Button("Cancel", "signals")
        )

    @action("delete_events_yes", ADMIN)
    async def delete_events_yes(self, chat: Chat) -> Screen:
        await self.client.clear_events()
        return await self.signals(chat, notice="All events deleted.")

    # -- devices ------------------------------------------------------------------------------------
    @action("devices", WRITE)
    async def devices(self, chat: Chat, notice: str = "") -> Screen:
        devs = await self.client.devices()
        icons = {"running": "🟢", "stopped": "⚪", "error": "🔴"}
        text = f"Devices: {len(devs)}" if devs else "No devices found."
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        for d in devs:
            s.add(Button(f"{icons.get(d.state, '⚪')} {d.name}", "device", (d.name,)))
        s.add(Button(BACK, "main"))
        return s

    @action("device", WRITE)
    async def device(self, chat: Chat, name: str, notice: str = "") -> Screen:
        info = next((d for d in await self.client.devices() if d.name == name), None)
        if info is None:
            return await self.devices(chat, notice=f"There is no device {name!r} any more.")
        lines = [f"{info.name}: {info.state}" + (f" ({info.reason})" if info.reason else "")]
        if info.samplerate is not None:
            lines.append(f"Samplerate: {_fmt(info.samplerate)} Hz")
        if info.doc:
            lines.append(info.doc.strip().splitlines()[0])
        s = Screen((f"{notice}\n\n" if notice else "") + "\n".join(lines))
        if info.state == "running":
            s.add(Button("⏹ Stop", "device_stop", (name,)))
            s.add(
                Button("ƒ Functions", "functions", (name,)),
                Button("⚙ Parameters", "parameters", (name,)),
            )
            if info.samplerate is not None:
                s.add(
                    Button(
                        "⏱ Change samplerate",
                        "ask",
                        ("samplerate", f"Send the new samplerate of {name} in Hz", name),
                    )
                )
        else:
            s.add(Button("▶ Start", "device_start", (name,)))
        s.add(Button(BACK, "devices"))
        return s

    @action("device_start", WRITE)
    async def device_start(self, chat: Chat, name: str) -> Screen:
        info = await self.client.start_device(name)
        return await self.device(chat, name, notice=f"{name} is {info.state}.")

    @action("device_stop", WRITE)
    async def device_stop(self, chat: Chat, name: str) -> Screen:
        info = await self.client.stop_device(name)
        return await self.device(chat, name, notice=f"{name} is {info.state}.")

    @prompt("samplerate", WRITE)
    async def samplerate(self, chat: Chat, text: str, name: str) -> Screen:
        rate = _parse_float(text, "The samplerate")
        value = await self.client.set_parameter(name, "samplerate", rate)
        return await self.device(chat, name, notice=f"Samplerate of {name}: {_fmt(value)} Hz.")

    @action("functions", WRITE)
    async def functions(self, chat: Chat, name: str, notice: str = "") -> Screen:
        detail = await self.client.device_detail(name)
        short = set(chat.user.shortcuts[1])
        text = f"Functions of {name} (★ adds a shortcut to the main menu)"
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        for f in detail.functions:
            target = f"{name}.{f.name}"
            s.add(
                Button(f"{f.name}{f.signature}", "call", (name, f.name, f.signature)),
                Button("★" if target in short else "☆", "star", (1, target, "functions", name)),
            )
        s.add(Button(BACK, "device", (name,)))
        return s

    @action("call", WRITE)
    async def call(self, chat: Chat, device: str, fname: str, signature: str = "()") -> Screen:
        params = [p for p in signature.strip("()").split(",") if p.strip()]
        needs_args = any("=" not in p and not p.strip().startswith("*") for p in params)
        if needs_args:
            chat.state.prompt = Prompt("call_args", (device, fname))
            return Screen(
                f"Send the arguments of {device}.{fname}{signature}, separated by commas "
                "(Python literals: 1.5, 'text', [1, 2])."
            ).add(Button("Cancel", "functions", (device,)))
        return await self._call(chat, device, fname, [])

    async def _call(self, chat: Chat, device: str, fname: str, args: list[Any]) -> Screen:
        result = await self.client.call_function(device, fname, args)
        return await self.functions(
            chat, device, notice=f"{device}.{fname}() returned: {_fmt(result)}"[:1000]
        )

    @prompt("call_args", WRITE)
    async def call_args(self, chat: Chat, text: str, device: str, fname: str) -> Screen:
        try:
            args = ast.literal_eval(f"[{text}]")
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise MenuError(
                "The arguments must be Python literals separated by commas, e.g. 1, 'a'; "
                "send them again"
            ) from None
        return await self._call(chat, device, fname, list(args))

    @action("parameters", WRITE)
    async def parameters(self, chat: Chat, name: str, notice: str = "") -> Screen:
        detail = await self.client.device_detail(name)
        short = set(chat.user.shortcuts[0])
        text = f"Parameters of {name} (click to edit; ★ adds a shortcut to the main menu)"
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        for p in detail.parameters:
            target = f"{name}.{p.name}"
            label = f"{p.name} = {_fmt(p.value)}"[:60]
            edit = (
                Button(
                    label, "ask", ("param_value", f"Send the new value of {target}", name, p.name)
                )
                if p.writable
                else Button(f"{label} (read-only)", "parameters", (name,))
            )
            s.add(
                edit,
                Button("★" if target in short else "☆", "star", (0, target, "parameters", name)),
            )
        s.add(Button(BACK, "device", (name,)))
        return s

    @prompt("param_value", WRITE)
    async def param_value(self, chat: Chat, text: str, device: str, pname: str) -> Screen:
        value = await self.client.set_parameter(device, pname, _parse_value(text))
        return await self.parameters(chat, device, notice=f"{device}.{pname} = {_fmt(value)}")

    @action("star", WRITE)
    async def star(self, chat: Chat, kind: int, target: str, back: str, device: str) -> Screen:
        on = await asyncio.to_thread(self.bot.users.toggle_shortcut, chat.id, kind, target)
        refreshed = self.bot.users.get(chat.id)
        if refreshed is not None:
            chat.user = refreshed
        note = f"Shortcut {target} {'added to' if on else 'removed from'} the main menu."
        if back == "functions":
            return await self.functions(chat, device, notice=note)
        return await self.parameters(chat, device, notice=note)

    @action("shortcut_param", WRITE)
    async def shortcut_param(self, chat: Chat, target: str) -> Screen:
        device, _, pname = target.partition(".")
        detail = await self.client.device_detail(device)
        current = next((p.value for p in detail.parameters if p.name == pname), "?")
        chat.state.prompt = Prompt("shortcut_value", (device, pname))
        return Screen(f"{target} = {_fmt(current)}\nSend the new value.").add(
            Button("Cancel", "main")
        )

    @prompt("shortcut_value", WRITE)
    async def shortcut_value(self, chat: Chat, text: str, device: str, pname: str) -> Screen:
        value = await self.client.set_parameter(device, pname, _parse_value(text))
        return await self.main(chat, notice=f"{device}.{pname} = {_fmt(value)}")

    @action("shortcut_func", WRITE)
    async def shortcut_func(self, chat: Chat, target: str) -> Screen:
        device, _, fname = target.partition(".")
        result = await self.client.call_function(device, fname, [])
        return await self.main(chat, notice=f"{target}() returned: {_fmt(result)}"[:1000])

    # -- send event / measurement -----------------------------------------------------------------
    @action("send", WRITE)
    async def send(self, chat: Chat, notice: str = "") -> Screen:
        text = "Send an event, or a value you measured by hand."
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        s.add(
            *[
                Button(f"{PRIORITY_ICONS[i]} {p} event", "event_priority", (i,))
                for i, p in enumerate(PRIORITIES)
            ]
        )
        s.add(
            Button(
                "📝 Measurement",
                "ask",
                (
                    "measurement",
                    "Send the measurement as `Device.Signal value [unit]`, e.g. "
                    "`Manual.Temperature 21.5 °C`",
                ),
            )
        )
        s.add(Button(BACK, "main"))
        return s

    @action("event_priority", WRITE)
    async def event_priority(self, chat: Chat, priority: int) -> Screen:
        chat.state.prompt = Prompt("event_text", (int(priority),))
        return Screen(f"Send the text of the {PRIORITIES[int(priority)].lower()} event.").add(
            Button("Cancel", "send")
        )

    @prompt("event_text", WRITE)
    async def event_text(self, chat: Chat, text: str, priority: int) -> Screen:
        await self.client.add_event(
            text.strip(), dname="Telegram", sname=chat.user.name, priority=priority, id="telegram"
        )
        return await self.send(chat, notice="Event sent.")

    @prompt("measurement", WRITE)
    async def measurement(self, chat: Chat, text: str) -> Screen:
        parts = text.strip().split(None, 2)
        if len(parts) < 2 or "." not in parts[0]:
            raise MenuError("Send `Device.Signal value [unit]`, e.g. `Manual.Temperature 21.5 °C`")
        dname, _, sname = parts[0].partition(".")
        if not dname or not sname:
            raise MenuError("The signal name must look like Device.Signal; send it again")
        value = _parse_float(parts[1], "The value")
        unit = parts[2] if len(parts) > 2 else ""
        await self.client.send(dname, {sname: value}, {sname: unit} if unit else None)
        return await self.send(chat, notice=f"{dname}.{sname} = {_fmt(value)} {unit}".rstrip())

    # -- automation (global events and actions) ----------------------------------------------------
    @action("automation", WRITE)
    async def automation(self, chat: Chat, notice: str = "") -> Screen:
        cfg = await self._config()
        events = await self.client.global_events()
        acts = await self.client.global_actions()
        ev_on = bool(cfg.get("global.globalEventsActivated"))
        ac_on = bool(cfg.get("global.globalActionsActivated"))
        text = (
            f"Global events: {len(events)} ({'evaluated' if ev_on else 'switched off'}).\n"
            f"Global actions: {len(acts)} ({'running' if ac_on else 'switched off'})."
        )
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        s.add(
            Button(f"Global events ({len(events)})", "gitems", ("event",)),
            Button(f"Global actions ({len(acts)})", "gitems", ("action",)),
        )
        s.add(
            Button(
                f"Events: {'on' if ev_on else 'off'}",
                "gswitch",
                ("global.globalEventsActivated", not ev_on),
            ),
            Button(
                f"Actions: {'on' if ac_on else 'off'}",
                "gswitch",
                ("global.globalActionsActivated", not ac_on),
            ),
        )
        s.add(Button(BACK, "main"))
        return s

    @action("gswitch", WRITE)
    async def gswitch(self, chat: Chat, key: str, value: bool) -> Screen:
        if key not in ("global.globalEventsActivated", "global.globalActionsActivated"):
            raise MenuError("unknown switch")
        await self.client.set_config({key: bool(value)})
        return await self.automation(chat)

    async def _items(self, kind: str) -> dict[str, dict[str, Any]]:
        if kind == "event":
            return await self.client.global_events()
        return await self.client.global_actions()

    async def _set_item(self, kind: str, name: str, spec: dict[str, Any] | None) -> None:
        if kind == "event":
            await self.client.set_global_event(name, spec)
        else:
            await self.client.set_global_action(name, spec)

    @action("gitems", WRITE)
    async def gitems(self, chat: Chat, kind: str, notice: str = "") -> Screen:
        items = await self._items(kind)
        text = f"Global {kind}s: {len(items)}" if items else f"No global {kind}s yet."
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        for name, spec in sorted(items.items()):
            icon = "⚠" if spec.get("errors") else ("✅" if spec.get("active", True) else "⏸")
            s.add(Button(f"{icon} {name}", "gitem", (kind, name)))
        example = (
            "name\ncondition (e.g. Generator.Square.latest >= 2)\ntext\nid\npriority (0, 1, 2)"
            if kind == "event"
            else "name\nevent ids it listens to, separated by commas\nscript (any number of lines)"
        )
        s.add(
            Button(
                f"➕ Add {kind}",
                "ask",
                (f"add_{kind}", f"Send the new global {kind}, one field a line:\n{example}"),
            )
        )
        s.add(Button(BACK, "automation"))
        return s

    @action("gitem", WRITE)
    async def gitem(self, chat: Chat, kind: str, name: str, notice: str = "") -> Screen:
        items = await self._items(kind)
        spec = items.get(name)
        if spec is None:
            return await self.gitems(
                chat, kind, notice=f"There is no global {kind} {name!r} any more."
            )
        fields = (
            ("cond", "text", "id", "priority", "trigger", "dname", "sname")
            if kind == "event"
            else ("listenID", "script")
        )
        lines = [f"Global {kind} {name}: {'active' if spec.get('active', True) else 'inactive'}"]
        lines += [f"{f}: {spec.get(f)}" for f in fields]
        if spec.get("error"):
            lines.append(f"⚠ {spec['error']}")
        s = Screen((f"{notice}\n\n" if notice else "") + "\n".join(lines))
        s.add(Button("Disable" if spec.get("active", True) else "Enable", "gtoggle", (kind, name)))
        edits = [
            Button(f"✏ {f}", "ask", ("gfield", f"Send the new {f} of {name}", kind, name, f))
            for f in fields
        ]
        for i in range(0, len(edits), 3):
            s.add(*edits[i : i + 3])
        s.add(Button("🗑 Delete", "gdelete", (kind, name)))
        s.add(Button(BACK, "gitems", (kind,)))
        return s

    @action("gtoggle", WRITE)
    async def gtoggle(self, chat: Chat, kind: str, name: str) -> Screen:
        spec = dict((await self._items(kind)).get(name) or {})
        if not spec:
            raise MenuError(f"There is no global {kind} {name!r} any more.")
        spec["active"] = not spec.get("active", True)
        await self._set_item(kind, name, spec)
        return await self.gitem(
            chat, kind, name, notice="Enabled." if spec["active"] else "Disabled."
        )

    @prompt("gfield", WRITE)
    async def gfield(self, chat: Chat, text: str, kind: str, name: str, fname: str) -> Screen:
        spec = dict((await self._items(kind)).get(name) or {})
        if not spec:
            raise MenuError(f"There is no global {kind} {name!r} any more.")
        value: Any = text if fname == "script" else text.strip()
        if fname == "priority":
            value = int(_parse_float(text, "The priority"))
        elif fname == "listenID":
            value = [v.strip() for v in text.split(",") if v.strip()]
        spec[fname] = value
        await self._set_item(kind, name, spec)
        return await self.gitem(chat, kind, name, notice=f"{fname} changed.")

    @action("gdelete", WRITE)
    async def gdelete(self, chat: Chat, kind: str, name: str) -> Screen:
        return Screen(f"Delete the global {kind} {name}?").add(
            Button("🗑 Yes, delete", "gdelete_yes", (kind, name)),
            Button("Cancel", "gitem", (kind, name)),
        )

    @action("gdelete_yes", WRITE)
    async def gdelete_yes(self, chat: Chat, kind: str, name: str) -> Screen:
        await self._set_item(kind, name, None)
        return await self.gitems(chat, kind, notice=f"Deleted {name}.")

    @prompt("add_event", WRITE)
    async def add_event(self, chat: Chat, text: str) -> Screen:
        lines = [line.strip() for line in text.strip().splitlines()]
        if len(lines) < 2:
            raise MenuError("Send at least two lines: the name and the condition")
        spec: dict[str, Any] = {"cond": lines[1], "active": True}
        if len(lines) > 2:
            spec["text"] = lines[2]
        if len(lines) > 3:
            spec["id"] = lines[3]
        if len(lines) > 4:
            spec["priority"] = int(_parse_float(lines[4], "The priority"))
        await self.client.set_global_event(lines[0], spec)
        return await self.gitem(chat, "event", lines[0], notice="Global event added.")

    @prompt("add_action", WRITE)
    async def add_action(self, chat: Chat, text: str) -> Screen:
        lines = text.strip("\n").splitlines()
        if len(lines) < 3:
            raise MenuError("Send at least three lines: the name, the event ids and the script")
        name = lines[0].strip()
        ids = [v.strip() for v in lines[1].split(",") if v.strip()]
        spec = {"listenID": ids, "script": "\n".join(lines[2:]), "active": True}
        await self.client.set_global_action(name, spec)
        return await self.gitem(chat, "action", name, notice="Global action added.")

    # -- settings -----------------------------------------------------------------------------------
    @action("settings", READ)
    async def settings(self, chat: Chat, notice: str = "") -> Screen:
        rank = chat.user.rank
        text = "Settings"
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        s.add(Button("🔔 Event notifications", "notifications"))
        if rank >= WRITE:
            s.add(Button("⚙ General", "general"))
        if rank >= ADMIN:
            s.add(Button("🤖 Telegram bot", "telegram"), Button("💾 Backup", "backup"))
        s.add(Button(BACK, "main"))
        return s

    @action("notifications", READ)
    async def notifications(self, chat: Chat, notice: str = "") -> Screen:
        level = chat.user.eventlevel
        text = f"You get notified of: {EVENT_LEVELS.get(level, level)}."
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        for lv, label in EVENT_LEVELS.items():
            s.add(Button(("✅ " if lv == level else "") + label.capitalize(), "set_level", (lv,)))
        s.add(Button(BACK, "settings"))
        return s

    @action("set_level", READ)
    async def set_level(self, chat: Chat, level: int) -> Screen:
        chat.user = await asyncio.to_thread(self.bot.users.set_eventlevel, chat.id, int(level))
        return await self.notifications(chat, notice="Saved.")

    @action("general", WRITE)
    async def general(self, chat: Chat, notice: str = "") -> Screen:
        cfg = await self._config()
        st = await self.client.status()
        tcp_on = bool(cfg.get("tcp.active"))
        text = (
            f"Samples kept per signal (recordLength): {st.record_length:,}\n"
            f"TCP server: {'on' if tcp_on else 'off'} (applies when the logger starts)"
        )
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        s.add(
            Button(
                "📏 Change recording length",
                "ask",
                ("record_length", "Send the number of samples to keep per signal"),
            )
        )
        s.add(
            Button(
                "⏱ Change global samplerate",
                "ask",
                ("global_rate", "Send the samplerate in Hz for all running devices"),
            )
        )
        s.add(
            Button(
                f"TCP server: {'on → off' if tcp_on else 'off → on'}", "tcp_switch", (not tcp_on,)
            )
        )
        if chat.user.rank >= ADMIN and self.bot.settings.allowReboot:
            s.add(Button("🔁 Reboot host", "reboot"))
        s.add(Button(BACK, "settings"))
        return s

    @prompt("record_length", WRITE)
    async def record_length(self, chat: Chat, text: str) -> Screen:
        n = _parse_float(text, "The recording length")
        if n != int(n) or n < 1:
            raise MenuError("The recording length must be a whole number of at least 1")
        try:
            await self.client.set_config({"global.recordLength": int(n)})
        except ClientError as exc:
            raise MenuError(str(exc)) from exc
        return await self.general(chat, notice=f"Recording length set to {int(n):,}.")

    @prompt("global_rate", WRITE)
    async def global_rate(self, chat: Chat, text: str) -> Screen:
        rate = _parse_float(text, "The samplerate")
        done, failed = [], []
        for d in await self.client.devices():
            if d.state != "running" or d.samplerate is None:
                continue
            try:
                await self.client.set_parameter(d.name, "samplerate", rate)
                done.append(d.name)
            except ClientError as exc:
                failed.append(f"{d.name} ({exc})")
        note = f"Samplerate {_fmt(rate)} Hz set for: {', '.join(done) or 'no running device'}."
        if failed:
            note += f"\nFailed: {'; '.join(failed)}"
        return await self.general(chat, notice=note)

    @action("tcp_switch", WRITE)
    async def tcp_switch(self, chat: Chat, on: bool) -> Screen:
        await self.client.set_config({"tcp.active": bool(on)})
        return await self.general(
            chat, notice=f"TCP server {'on' if on else 'off'} from the next start of the logger."
        )

    @action("reboot", ADMIN)
    async def reboot(self, chat: Chat) -> Screen:
        if not self.bot.settings.allowReboot:
            raise MenuError("Rebooting from Telegram is switched off (telegram.allowReboot).")
        return Screen("Reboot the host computer now? The logger stops until it is back.").add(
            Button("🔁 Yes, reboot", "reboot_yes"), Button("Cancel", "general")
        )

    @action("reboot_yes", ADMIN)
    async def reboot_yes(self, chat: Chat) -> Screen:
        if not self.bot.settings.allowReboot:
            raise MenuError("Rebooting from Telegram is switched off (telegram.allowReboot).")
        cmd = shlex.split(self.bot.settings.rebootCommand)
        if not cmd:
            raise MenuError("telegram.rebootCommand is empty")
        log.warning("host reboot requested from Telegram by %s (%s)", chat.user.name, chat.id)
        try:
            proc = await asyncio.create_subprocess_exec(*cmd)
        except OSError as exc:
            raise MenuError(f"cannot run {cmd[0]}: {exc}") from exc
        code = await proc.wait()
        if code:
            raise MenuError(f"the reboot command exited with code {code}")
        return Screen("Rebooting.").add(Button(MAIN, "main"))

    @action("telegram", ADMIN)
    async def telegram(self, chat: Chat, notice: str = "") -> Screen:
        state = self.bot.state()
        sets = self.bot.settings
        text = (
            f"Bot @{state['username'] or '?'}: {len(state['users'])} users, "
            f"{state['messages_sent']} notifications sent, {state['lines_dropped']} dropped"
            + (", Telegram unreachable" if state["outage"] else "")
            + f".\nNew users get: {sets.default_permission}. Menu: "
            + ("inline" if sets.inlineMenu else "keyboard")
            + ("; only admins may use the bot." if sets.onlyAdmin else ".")
        )
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        for u in sorted(self.bot.users.all(), key=lambda u: (-u.rank, u.name)):
            s.add(Button(f"{u.name} ({u.permission})", "user", (u.chat_id,)))
        s.add(
            Button(
                f"Inline menu: {'on' if sets.inlineMenu else 'off'}",
                "bot_switch",
                ("telegram.inlineMenu", not sets.inlineMenu),
            ),
            Button(
                f"Only admins: {'on' if sets.onlyAdmin else 'off'}",
                "bot_switch",
                ("telegram.onlyAdmin", not sets.onlyAdmin),
            ),
        )
        s.add(Button(BACK, "settings"))
        return s

    @action("bot_switch", ADMIN)
    async def bot_switch(self, chat: Chat, key: str, value: bool) -> Screen:
        if key not in ("telegram.inlineMenu", "telegram.onlyAdmin"):
            raise MenuError("unknown switch")
        await self.client.set_config({key: bool(value)})
        return await self.telegram(chat, notice="Saved.")

    @action("user", ADMIN)
    async def user(self, chat: Chat, chat_id: int, notice: str = "") -> Screen:
        u = self.bot.users.get(chat_id)
        if u is None:
            return await self.telegram(chat, notice="That user is gone.")
        text = f"{u.name} (chat {u.chat_id}): {u.permission}, notified of {EVENT_LEVELS.get(u.eventlevel)}"
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        s.add(
            *[
                Button(("✅ " if r == u.permission else "") + r, "set_role", (chat_id, r))
                for r in ROLES
            ]
        )
        s.add(Button("🗑 Remove user", "remove_user", (chat_id,)))
        s.add(Button(BACK, "telegram"))
        return s

    @action("set_role", ADMIN)
    async def set_role(self, chat: Chat, chat_id: int, role: str) -> Screen:
        try:
            await asyncio.to_thread(self.bot.users.set_permission, chat_id, role)
        except UsersError as exc:
            raise MenuError(str(exc)) from exc
        if chat_id == chat.id and role_rank(role) < ADMIN:
            return Screen(f"You are now {role}.").add(Button(MAIN, "main"))
        return await self.user(chat, chat_id, notice=f"Permission set to {role}.")

    @action("remove_user", ADMIN)
    async def remove_user(self, chat: Chat, chat_id: int) -> Screen:
        u = self.bot.users.get(chat_id)
        if u is not None and u.permission == "admin":
            if sum(1 for x in self.bot.users.all() if x.permission == "admin") == 1:
                raise MenuError(f"{u.name} is the only admin; make another user admin first")
        await asyncio.to_thread(self.bot.users.remove, chat_id)
        self.bot.notifier.forget(chat_id)
        return await self.telegram(chat, notice="User removed.")

    @action("backup", ADMIN)
    async def backup(self, chat: Chat, notice: str = "") -> Screen:
        cfg = await self._config()
        st = await self.client.status()
        text = (
            f"Storage: {st.storage}\n"
            f"Persist recordings (backup.active): {'on' if cfg.get('backup.active') else 'off'}\n"
            f"Flush interval: {_fmt(cfg.get('backup.intervall'))} s\n"
            f"Resample before storing: "
            + (f"{_fmt(cfg.get('backup.resample'))} Hz" if cfg.get("backup.resample") else "off")
        )
        s = Screen(f"{notice}\n\n{text}" if notice else text)
        toggles = []
        for key, label in (
            ("backup.active", "Persist"),
            ("backup.clear", "Clear memory after storing"),
            ("backup.loadOnOpen", "Load on start"),
            ("backup.autoOnClose", "Flush on close"),
        ):
            on = bool(cfg.get(key))
            toggles.append(
                Button(f"{label}: {'on' if on else 'off'}", "backup_switch", (key, not on))
            )
        s.add(*toggles[:2])
        s.add(*toggles[2:])
        s.add(
            Button(
                "⏱ Flush interval", "ask", ("backup_interval", "Send the flush interval in seconds")
            )
        )
        s.add(
            Button(
                "〰 Resample database",
                "ask",
                (
                    "backup_resample",
                    "Send the samplerate in Hz signals are resampled to before storing (0: off)",
                ),
            )
        )
        s.add(Button("🗑 Delete all data", "delete_all"))
        s.add(Button(BACK, "settings"))
        return s

    @action("backup_switch", ADMIN)
    async def backup_switch(self, chat: Chat, key: str, value: bool) -> Screen:
        if key not in ("backup.active", "backup.clear", "backup.loadOnOpen", "backup.autoOnClose"):
            raise MenuError("unknown switch")
        await self.client.set_config({key: bool(value)})
        return await self.backup(chat, notice="Saved.")

    @prompt("backup_interval", ADMIN)
    async def backup_interval(self, chat: Chat, text: str) -> Screen:
        value = _parse_float(text, "The interval")
        try:
            await self.client.set_config({"backup.intervall": value})
        except ClientError as exc:
            raise MenuError(str(exc)) from exc
        return await self.backup(chat, notice="Saved.")

    @prompt("backup_resample", ADMIN)
    async def backup_resample(self, chat: Chat, text: str) -> Screen:
        value = _parse_float(text, "The samplerate")
        if value < 0:
            raise MenuError("The samplerate must be 0 (off) or more")
        try:
            await self.client.set_config({"backup.resample": value})
        except ClientError as exc:
            raise MenuError(str(exc)) from exc
        return await self.backup(chat, notice="Saved.")

    @action("delete_all", ADMIN)
    async def delete_all(self, chat: Chat) -> Screen:
        return Screen("Delete all signals and all events? This cannot be undone.").add(
            Button("🗑 Yes, delete everything", "delete_all_yes"), Button("Cancel", "backup")
        )

    @action("delete_all_yes", ADMIN)
    async def delete_all_yes(self, chat: Chat) -> Screen:
        names = [s.name for s in await self.client.signals()]
        if names:
            await self.client.delete_signals(names)
        await self.client.clear_events()
        chat.state.selected = []
        return await self.backup(chat, notice=f"Deleted {len(names)} signals and all events.")

    # -- custom actions (telegramActions.json) ------------------------------------------------------
    @action("custom", READ)
    async def custom(self, chat: Chat, name: str) -> Screen | None:
        if custom.is_admin_only(name) and chat.user.rank < ADMIN:
            raise PermissionError(name)
        source = self.bot.custom_actions().get(name)
        if source is None:
            return await self.main(chat, notice=f"The action {custom.label(name)!r} is gone.")
        result = await custom.run_action(self.client, name, source)
        if result.kind == "text":
            await self.bot.send_text(chat.id, result.value or "(empty)")
        else:
            data, filename = await asyncio.to_thread(custom.read_result_file, result.value)
            if result.kind == "picture":
                await self.bot.send_photo(chat.id, data, custom.label(name))
            else:
                await self.bot.send_document(chat.id, data, filename, custom.label(name))
        return await self.main(chat)

    # -- typed input --------------------------------------------------------------------------------
    @action("ask", READ)
    async def ask(self, chat: Chat, prompt_name: str, question: str, *args: Any) -> Screen:
        """Ask for a typed answer; the prompt's own role is checked when the answer comes."""
        chat.state.prompt = Prompt(prompt_name, tuple(args))
        return Screen(question).add(Button("Cancel", "main"))
