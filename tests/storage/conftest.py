"""Storage test fixtures: a real PostgreSQL server (started here unless .ci/run already did) and helpers.

RTOC_TEST_PG_DSN is read at import time because the root conftest removes RTOC_* variables
from the environment of every test.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger
from rtoc_tui.storage import StorageService, attach_storage

REPO = Path(__file__).resolve().parents[2]
PG_SCRIPT = REPO / ".ci" / "postgres.sh"
_ENV_DSN = os.environ.get("RTOC_TEST_PG_DSN")


@dataclass(frozen=True)
class PgServer:
    """A running test cluster and how to reach and control it."""

    dsn: str
    env_file: Path | None  # set when this cluster was started by us (pause/resume/stop possible)

    @property
    def config(self) -> dict[str, Any]:
        """The postgresql section of config.json for this server."""
        c = conninfo_to_dict(self.dsn)
        return {
            "active": True,
            "user": c["user"],
            "password": c.get("password", ""),
            "host": c["host"],
            "port": int(c["port"]),
            "database": c["dbname"],
        }

    def script(self, cmd: str) -> None:
        assert self.env_file is not None
        subprocess.run(
            ["bash", str(PG_SCRIPT), cmd, str(self.env_file)],
            check=True,
            capture_output=True,
            timeout=120,
        )


def start_cluster(env_file: Path) -> PgServer:
    """Start a throwaway cluster with .ci/postgres.sh."""
    out = subprocess.run(
        ["bash", str(PG_SCRIPT), "start", str(env_file)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    for line in out.stdout.splitlines():
        if line.startswith("export RTOC_TEST_PG_DSN="):
            return PgServer(line.split("=", 1)[1].strip("'"), env_file)
    raise RuntimeError(f"postgres.sh printed no DSN:\n{out.stdout}\n{out.stderr}")


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """The session's PostgreSQL server: the one .ci/run started, else one started (and stopped) here."""
    if _ENV_DSN:
        yield PgServer(_ENV_DSN, None)
        return
    server = start_cluster(tmp_path_factory.mktemp("pg") / "pg.env")
    try:
        yield server
    finally:
        server.script("stop")


@pytest.fixture
def private_pg(tmp_path: Path) -> Iterator[PgServer]:
    """A cluster of this test's own, so it can be stopped and restarted."""
    server = start_cluster(tmp_path / "private-pg.env")
    try:
        yield server
    finally:
        server.script("stop")


async def flush(svc: StorageService) -> bool:
    """flush_now without blocking the event loop."""
    return await asyncio.to_thread(svc.flush_now)


StartFn = Callable[..., Awaitable[tuple[Logger, StorageService]]]
_STOPPED: set[int] = set()


def write_cfg(h: Home, config: dict[str, Any] | None) -> None:
    """config.json for a storage test: fast flushes, plus the given sections."""
    h.ensure()
    h.write_autorun([])
    cfg: dict[str, Any] = {"backup": {"intervall": 0.1}}
    for section, values in (config or {}).items():
        cfg.setdefault(section, {}).update(values)
    h.config_file.write_text(json.dumps(cfg), encoding="utf-8")


@pytest.fixture
async def start_logger(home: Home) -> AsyncIterator[StartFn]:
    """start_logger(config=None, home_=None) -> (started logger, its storage); stopped at teardown."""
    started: list[Logger] = []

    async def _start(
        config: dict[str, Any] | None = None, home_: Home | None = None
    ) -> tuple[Logger, StorageService]:
        h = home_ or home
        write_cfg(h, config)
        lg = Logger.from_home(h)
        svc = attach_storage(lg)
        assert svc is not None
        await lg.start(autorun=False)
        started.append(lg)
        return lg, svc

    yield _start
    for lg in started:
        if id(lg) not in _STOPPED:
            await lg.stop()


async def stop(lg: Logger) -> None:
    """Stop a logger started by start_logger (teardown then skips it)."""
    await lg.stop()
    _STOPPED.add(id(lg))
