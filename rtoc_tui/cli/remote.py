"""`rtoc send`, `rtoc latest`, `rtoc signals` and `rtoc fetch`: a running logger from a shell.

They speak RTOC's own TCP keys, one request per connection, exactly as RTOC's jsonsocket
client does, so they work against rtoc-tui and against RTOC 2.x/3.x servers alike.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..client.rtoc_jsonsocket import JsonSocketError, request
from .common import EXIT_FAILED, HomeOpt, configured_port, console, err_console, fail

HostOpt = Annotated[str, typer.Option("--host", "-H", help="Logger host name or address")]
PortOpt = Annotated[
    int | None,
    typer.Option(
        "--port",
        "-p",
        help="Logger TCP port (default: tcp.port of the user folder's config, or 5050)",
        show_default=False,
    ),
]
PasswordOpt = Annotated[
    str | None,
    typer.Option(
        "--password",
        envvar="RTOC_PASSWORD",
        help="Server password (or $RTOC_PASSWORD)",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds to wait for the logger")]
EncryptOpt = Annotated[
    bool | None,
    typer.Option(
        "--encrypt/--plain",
        help="Encrypt with the password even to localhost (e.g. through a port forward), or never; "
        "default: like RTOC, encrypt unless the host is 127.0.0.1 or localhost",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def ask(
    host: str,
    port: int | None,
    password: str | None,
    data: dict[str, Any],
    timeout: float,
    encrypt: bool | None = None,
) -> dict[str, Any]:
    """One request; a clear message and exit code 1 on any failure."""
    if port is None:
        port = configured_port(None)
    if encrypt and not password:
        raise fail("--encrypt needs --password (or RTOC_PASSWORD)")
    try:
        reply = request(host, port, data, password=password, timeout=timeout, encrypt=encrypt)
    except ConnectionRefusedError:
        raise fail(
            f"connection to {host}:{port} refused (is the logger running with tcp.active true?)",
            EXIT_FAILED,
        ) from None
    except TimeoutError:
        raise fail(f"no answer from {host}:{port} within {timeout:g} s", EXIT_FAILED) from None
    except (OSError, JsonSocketError, ValueError) as exc:
        raise fail(f"{host}:{port}: {exc}", EXIT_FAILED) from None
    if not isinstance(reply, dict):
        raise fail(f"{host}:{port} sent an unexpected reply: {reply!r}", EXIT_FAILED)
    if reply.get("error"):
        text = reply.get("errorText") or reply.get("password") or "the logger reported an error"
        if "password" in str(text) and not password:
            text = f"{text} (give --password or set RTOC_PASSWORD)"
        raise fail(str(text), EXIT_FAILED)
    return reply


def _when(x: float) -> str:
    if x > 1e8:  # a Unix time rather than an index or an XY plot's x
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(x)) + f".{int((x % 1) * 1000):03d}"
    return f"{x:g}"


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise fail(f"{what}: {text!r} is not a number") from None


def send_cmd(
    dname: Annotated[str, typer.Argument(help="Device name, e.g. Lab")],
    values: Annotated[
        list[str], typer.Argument(help="SIGNAL=VALUE or SIGNAL=VALUE:UNIT, e.g. T=21.5:°C")
    ],
    x: Annotated[
        float | None, typer.Option("--x", help="Timestamp or x value (default: the logger's clock)")
    ] = None,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = None,
    home: HomeOpt = None,
    password: PasswordOpt = None,
    timeout: TimeoutOpt = 5.0,
    encrypt: EncryptOpt = None,
) -> None:
    """Send one value per signal to a running logger.

    Example: rtoc send Lab T=21.5:°C RH=40:% --host pi.local --password secret
    """
    port = port if port is not None else configured_port(home)
    names, ys, units = [], [], []
    for item in values:
        name, eq, rest = item.partition("=")
        if not eq or not name:
            raise fail(f"{item!r}: expected SIGNAL=VALUE or SIGNAL=VALUE:UNIT")
        value, _, unit = rest.partition(":")
        names.append(name)
        ys.append(_number(value, name))
        units.append(unit)
    data: dict[str, Any] = {"y": ys, "sname": names, "dname": dname, "unit": units}
    if x is not None:
        data["x"] = [x] * len(ys)
    ask(host, port, password, data, timeout, encrypt)
    console.print(f"sent {len(ys)} value{'s' if len(ys) != 1 else ''} to {dname}", highlight=False)


def latest_cmd(
    names: Annotated[
        list[str] | None, typer.Argument(help="Device.Signal names (default: all)")
    ] = None,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = None,
    home: HomeOpt = None,
    password: PasswordOpt = None,
    timeout: TimeoutOpt = 5.0,
    encrypt: EncryptOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the newest sample of every signal (or of the named ones).

    Example: rtoc latest Generator.Square --json
    """
    port = port if port is not None else configured_port(home)
    latest = ask(
        host, port, password, {"getLatest": list(names) if names else True}, timeout, encrypt
    )["latest"]
    unknown = [n for n in names or [] if n not in latest]
    if unknown:
        raise fail(f"{host}:{port} has no signal {', '.join(map(repr, unknown))}", EXIT_FAILED)
    if as_json:
        typer.echo(json.dumps({n: {"x": v[0], "y": v[1], "unit": v[2]} for n, v in latest.items()}))
        return
    table = Table("signal", "value", "unit", "time")
    for name in sorted(latest):
        xv, yv, unit = latest[name][:3]
        table.add_row(name, f"{yv:.6g}", str(unit), _when(xv))
    console.print(table)


def signals_cmd(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = None,
    home: HomeOpt = None,
    password: PasswordOpt = None,
    timeout: TimeoutOpt = 5.0,
    encrypt: EncryptOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the logger's signals with unit, newest value and time span.

    Example: rtoc signals --host pi.local
    """
    port = port if port is not None else configured_port(home)
    reply = ask(host, port, password, {"getSignalList": True, "getLatest": True}, timeout, encrypt)
    latest = reply.get("latest", {})
    rows = []
    for dname, sname in reply.get("signalList", []):
        name = f"{dname}.{sname}"
        info = latest.get(name)
        rows.append(
            {
                "name": name,
                "unit": info[2] if info else "",
                "latest": info[1] if info else None,
                "first_x": info[4] if info and len(info) > 4 else None,
                "last_x": info[0] if info else None,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("signal", "unit", "latest", "from", "to")
    for r in rows:
        table.add_row(
            r["name"],
            r["unit"],
            "" if r["latest"] is None else f"{r['latest']:.6g}",
            "" if r["first_x"] is None else _when(r["first_x"]),
            "" if r["last_x"] is None else _when(r["last_x"]),
        )
    console.print(table)


def fetch_cmd(
    signal: Annotated[str, typer.Argument(help="Device.Signal")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (.csv or .json); default stdout as CSV"),
    ] = None,
    xmin: Annotated[
        float | None, typer.Option("--xmin", help="Earliest x (Unix time for streamed data)")
    ] = None,
    xmax: Annotated[float | None, typer.Option("--xmax", help="Latest x")] = None,
    last: Annotated[
        float | None, typer.Option("--last", help="Only the last SECONDS (sets --xmin)")
    ] = None,
    max_n: Annotated[
        int | None, typer.Option("--max-n", help="At most about N points (min/max decimated)")
    ] = None,
    memory: Annotated[
        bool, typer.Option("--memory", help="Only what is in memory, not the database")
    ] = False,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = None,
    home: HomeOpt = None,
    password: PasswordOpt = None,
    timeout: TimeoutOpt = 30.0,
    encrypt: EncryptOpt = None,
) -> None:
    """Download one signal's samples as CSV (x,y) or JSON.

    Example: rtoc fetch Generator.Square --last 3600 -o square.csv
    """
    dname, dot, sname = signal.partition(".")
    if not dot or not dname or not sname:
        raise fail(f"{signal!r}: expected Device.Signal")
    if last is not None:
        xmin = time.time() - last
    req: dict[str, Any] = {"dname": dname, "sname": sname, "database": not memory}
    for key, value in (("xmin", xmin), ("xmax", xmax), ("maxN", max_n)):
        if value is not None:
            req[key] = value
    port = port if port is not None else configured_port(home)
    signals = ask(host, port, password, {"getSignal": req}, timeout, encrypt).get("signals") or {}
    if signal not in signals:
        raise fail(f"{host}:{port} has no signal {signal!r}", EXIT_FAILED)
    xs, ys, unit = signals[signal]
    if output is not None and output.suffix.lower() == ".json":
        output.write_text(
            json.dumps({"name": signal, "unit": unit, "x": xs, "y": ys}), encoding="utf-8"
        )
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["x", f"{signal} [{unit}]" if unit else signal])
        writer.writerows(
            (repr(float(a)), repr(float(b)) if not math.isnan(b) else "nan")
            for a, b in zip(xs, ys, strict=True)
        )
        if output is None or str(output) == "-":
            sys.stdout.write(buf.getvalue())
            return
        output.write_text(buf.getvalue(), encoding="utf-8")
    err_console.print(f"wrote {len(xs)} samples of {signal} to {output}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `send`, `latest`, `signals` and `fetch` to the rtoc command."""
    app.command("send")(send_cmd)
    app.command("latest")(latest_cmd)
    app.command("signals")(signals_cmd)
    app.command("fetch")(fetch_cmd)
