"""One secrets rule at any depth (issue 15, item 2): the schema's secret keys, the settings
drivers declare secret and credential-like names are masked in every reply, session, export
and log line, however deep in config.json they sit."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from rtoc_tui.client.local import LocalClient
from rtoc_tui.client.rtoc_jsonsocket import request
from rtoc_tui.config.schema import SECRET_MASK, is_secret, mask_tree, restore_secrets
from rtoc_tui.core.logger import Logger
from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting
from rtoc_tui.server.tcp import TcpServer
from rtoc_tui.transfer.session import save_session

SECRETS = {
    "octo": "octoprint-api-key-0001",
    "otii": "otii-password-0002",
    "nested": "nested-token-0003",
    "pin": "declared-pin-0004",
    "tcp": "tcp-password-0005",
}


class PinDriver(LoggerPlugin):
    """A driver whose secret has a name no word list would guess."""

    SETTINGS = {"pin_code": Setting("", "The instrument's PIN", secret=True)}


def secret_config() -> dict[str, object]:
    return {
        "tcp": {"password": SECRETS["tcp"]},
        "devices": {
            "OctoPrint": {"url": "http://printer", "api_key": SECRETS["octo"]},
            "Otii": {"username": "me", "password": SECRETS["otii"]},
            "Custom": {"auth": {"session": {"token": SECRETS["nested"]}}, "rate": 5},
            "PinDriver": {"pin_code": SECRETS["pin"]},
        },
    }


def leaks(text: str) -> list[str]:
    return [k for k, v in SECRETS.items() if v in text]


def test_the_rule_applies_at_any_depth() -> None:
    assert is_secret("devices.OctoPrint.api_key") and is_secret("devices.Otii.password")
    assert is_secret("devices.Custom.auth.session.token")
    assert is_secret("devices.PinDriver.pin_code")  # declared by the driver's Setting
    assert is_secret("tcp.knownHosts.pi:5050")  # below a schema secret
    assert not is_secret("devices.OctoPrint.url") and not is_secret("tcp.port")
    masked = mask_tree(secret_config())
    assert leaks(json.dumps(masked)) == []
    assert masked["devices"]["OctoPrint"] == {"url": "http://printer", "api_key": SECRET_MASK}
    assert masked["devices"]["Custom"]["rate"] == 5
    back = restore_secrets("devices", masked["devices"], secret_config()["devices"])
    assert back == secret_config()["devices"]  # a mask sent back keeps the stored secret


async def test_no_reply_carries_a_device_secret(make_logger: Callable[..., Logger]) -> None:
    lg = make_logger(secret_config())
    srv = TcpServer(lg, port=0)
    await srv.start()
    try:
        lg.store.append_one("D", "s", 1.0, 2.0)
        token = lg.home.auth_token()
        for req in (
            {"logger": {"info": None}},
            {"rtoc": {"op": "config"}},
            {"getSession": True},
            {"getPluginList": True},
            {"rtoc": {"op": "config", "auth": token}},
        ):
            reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, req)
            assert reply["error"] is False
            assert leaks(json.dumps(reply)) == [], req
        info = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"logger": {"info": None}})
        assert info["logger"]["info"]["config"]["devices"]["OctoPrint"]["api_key"] == SECRET_MASK
    finally:
        await srv.stop()


async def test_local_client_config_and_sessions_mask_device_secrets(
    make_logger: Callable[..., Logger], tmp_path: Path
) -> None:
    lg = make_logger(secret_config())
    values = {c.key: c.value for c in await LocalClient(lg).config()}
    assert leaks(json.dumps(values)) == []
    assert values["devices"]["Otii"]["password"] == SECRET_MASK
    path = save_session(lg, tmp_path / "s.json")
    text = path.read_text(encoding="utf-8")
    assert leaks(text) == []
    settings = json.loads(text)["settings"]
    assert settings["devices"]["OctoPrint"]["api_key"] == ""  # blanked, not a mask
    assert settings["devices"]["OctoPrint"]["url"] == "http://printer"


def test_log_lines_never_show_a_secret(
    make_logger: Callable[..., Logger], caplog: pytest.LogCaptureFixture
) -> None:
    make_logger(secret_config())
    with caplog.at_level(logging.INFO):
        logging.getLogger("rtoc.drivers.octoprint").warning(
            "GET http://printer/api?apikey=%s failed", SECRETS["octo"]
        )
        logging.getLogger("somewhere.else").error("login %s/%s", "me", SECRETS["otii"])
    assert leaks(caplog.text) == []
    assert SECRET_MASK in caplog.text and "http://printer/api?apikey=" in caplog.text
