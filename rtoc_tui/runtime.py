"""Running a logger: build it with its services, run it headless or under the TUI, stop cleanly.

Headless mode never imports Textual: the UI is imported only inside `run_with_tui`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .config.home import Home, load_config, save_config
from .core.logger import Logger
from .scripting import attach_automation
from .server.tcp import attach_tcp
from .storage import attach_storage
from .storage.service import FINAL_FLUSH_BUDGET_S

log = logging.getLogger("rtoc")

STOP_TIMEOUT_S = 5.0  # drivers must stop within this at shutdown; the final flush has its own
STATUS_LINE_INTERVAL_S = 60.0
STATUS_FILE_INTERVAL_S = 2.0


_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class JournalFormatter(logging.Formatter):
    """`<prio>logger: message` lines, which journald turns into log levels (SyslogLevelPrefix)."""

    def format(self, record: logging.LogRecord) -> str:
        prio = _SYSLOG_PRIORITY.get(record.levelno, 6)
        text = f"<{prio}>{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info).replace("\n", f"\n<{prio}>")
        return text


def setup_logging(
    level: int = logging.INFO, journal: bool | None = None, stream: Any = None
) -> None:
    """Log to stderr; journald-style priorities when running under systemd (JOURNAL_STREAM set)."""
    if journal is None:
        journal = bool(os.environ.get("JOURNAL_STREAM"))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JournalFormatter()
        if journal
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def build_logger(
    home: Home, overrides: dict[str, Any] | None = None, *, services: bool = True, **kw: Any
) -> Logger:
    """A Logger for this home, with storage, automation and TCP attached as configured.

    Start order is the order of attachment: storage first (it restores data), then automation
    (its conditions see the restored signals), then the TCP server and the web view (clients
    come last).
    """
    logger = Logger.from_home(home, cli=overrides, **kw)
    if services:
        attach_storage(logger)
        attach_automation(logger)
        attach_tcp(logger)
        attach_web(logger)
        attach_telegram(logger)
    return logger


def attach_telegram(logger: Logger) -> Any:
    """Add the Telegram bot (if telegram.active and a token) and route plugins' messages to it."""
    cfg = logger.config.telegram
    if not cfg.active:
        return None
    if not cfg.token:
        log.error("telegram.active is set but telegram.token is empty: run 'rtoc config' to set it")
        return None
    try:
        from .telegram.bot import TelegramBot
    except ModuleNotFoundError as exc:
        log.error(
            "telegram.active is set but %s is not installed: pip install 'rtoc-tui[telegram]'",
            exc.name,
        )
        return None
    from .client.local import LocalClient

    bot = TelegramBot(LocalClient(logger), cfg, logger.home.root)
    logger.add_service(bot)
    logger.telegram_sink = bot.plugin_send
    logger.telegram = bot
    return bot


def attach_web(logger: Logger) -> None:
    """Serve the web view (rtoc_tui.web) on the logger's loop when web.active is true.

    aiohttp is imported only then, so a build without the `web` extra runs; with web.active
    and no aiohttp the logger logs what to install and keeps running.
    """
    if not logger.config.web.active:
        return

    def report(text: str) -> None:
        logger.event(text, dname="RTOC", sname="web", priority=2, id="webError")

    try:
        from .web.security import WebOptions
        from .web.service import WebServer
    except ModuleNotFoundError as exc:
        if exc.name != "aiohttp":
            raise
        from .web import MISSING_EXTRA

        log.error("web.active is set but %s", MISSING_EXTRA)
        report(f"web view not started: {MISSING_EXTRA}")
        return
    from .client.local import LocalClient

    server = WebServer(LocalClient(logger), WebOptions.from_config(logger.config), on_error=report)
    logger.add_service(server)
    logger.web = server


def status_line(logger: Logger) -> str:
    s = logger.status()
    lag = "-" if s.storage_lag_s is None else f"{s.storage_lag_s:.1f}s"
    return (
        f"status: {s.signals} signals, {s.samples_per_s:,.0f} samples/s, {s.samples_in_memory:,} in memory, "
        f"{s.devices_running} devices, {s.clients} clients, storage {s.storage} (lag {lag}), {s.events} events"
    )


def write_status_file(logger: Logger) -> None:
    """home/status.json, read by `rtoc status` on the same machine."""
    s = logger.status()
    data = {
        "pid": os.getpid(),
        "written_at": time.time(),
        "name": s.name,
        "uptime_s": s.uptime_s,
        "signals": s.signals,
        "samples_per_s": s.samples_per_s,
        "samples_in_memory": s.samples_in_memory,
        "samples_total": s.samples_total,
        "events": s.events,
        "devices": [
            {"name": d.name, "state": d.state, "reason": d.reason}
            for d in logger.devices.status()
            if d.state != "stopped"
        ],
        "clients": s.clients,
        "storage": s.storage,
        "storage_lag_s": s.storage_lag_s,
        "retention": None if logger.storage is None else logger.storage.retention.describe(),
        "tcp": {
            "active": logger.config.tcp.active,
            "host": logger.config.tcp.host,
            "port": logger.config.tcp.port,
        },
    }
    bot = getattr(logger, "telegram", None)
    if bot is not None:  # `rtoc config telegram` shows it
        state = bot.state()
        state.pop("users", None)  # they are in telegram_clients.json
        data["telegram"] = state
    try:
        atomic_write_text(logger.home.status_file, json.dumps(data, indent=1))
    except OSError as exc:
        log.warning("cannot write %s: %s", logger.home.status_file, exc)


async def _status_loop(logger: Logger, line_interval_s: float) -> None:
    next_line = time.monotonic() + line_interval_s
    while True:
        # an fsync on a Pi's SD card can take tens of ms: keep it off the loop the server runs on
        await asyncio.to_thread(write_status_file, logger)
        if time.monotonic() >= next_line:
            log.info("%s", status_line(logger))
            next_line += line_interval_s
        await asyncio.sleep(STATUS_FILE_INTERVAL_S)


async def stop_logger(logger: Logger, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop taking data, stop drivers (hung ones are abandoned after timeout_s) and run the
    final flush with its own budget (abandoned drivers are logged and raised as events, their
    data up to the stop is stored). False only if the whole stop overran its guard (drivers'
    budget + the final flush's + a margin)."""
    guard = timeout_s + FINAL_FLUSH_BUDGET_S + 10.0
    try:
        await asyncio.wait_for(logger.stop(drivers_budget_s=timeout_s), guard)
        return True
    except TimeoutError:
        log.error("shutdown took longer than %.0f s; exiting anyway", timeout_s)
        return False
    finally:
        try:
            logger.home.status_file.unlink(missing_ok=True)
        except OSError:
            pass


async def run_headless(
    logger: Logger,
    *,
    line_interval_s: float = STATUS_LINE_INTERVAL_S,
    ready: Callable[[Logger], None] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT; stop drivers and flush within 5 s; return the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await logger.start()
    except Exception as exc:
        log.error("logger failed to start: %s", exc)
        await stop_logger(logger)
        return 1
    log.info(
        "logger %r running headless, user folder %s", logger.config.global_.name, logger.home.root
    )
    if ready is not None:
        ready(logger)
    status_task = asyncio.create_task(_status_loop(logger, line_interval_s))
    try:
        await stop.wait()
    finally:
        status_task.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("stopping: drivers first, then flushing storage")
    ok = await stop_logger(logger)
    log.info("stopped")
    return 0 if ok else 1


async def run_with_tui(logger: Logger) -> int:
    """Start the logger and run the TUI on the same loop; stop the logger when the UI quits."""
    from .client.local import LocalClient
    from .ui.app import run_tui  # imported here so headless never loads Textual

    try:
        await logger.start()
    except Exception as exc:
        await stop_logger(logger)
        print(f"rtoc: logger failed to start: {exc}", file=sys.stderr)
        return 1
    try:
        await run_tui(LocalClient(logger), logger.config)
    finally:
        await stop_logger(logger)
    return 0


def demo_home(path: Path | None) -> Home:
    """The demo's own user folder with the Generator (seeded) and System drivers."""
    home = Home(path or (Path.home() / ".rtoc-demo"))
    first = home.ensure()
    if first:
        home.write_autorun(["Generator", "System"])
        cfg = load_config(home.config_file, env={}).config
        cfg.tcp.active = True
        cfg.devices["Generator"] = {"seed": 1, "gen_freq": 0.2}
        save_config(home.config_file, cfg)
    return home
