"""The base install stays installable on a Raspberry Pi (issue 12).

- 64-bit Raspberry Pi OS (aarch64, glibc 2.36, CPython 3.11): pip's own resolver, restricted to
  that platform and to wheels only, must resolve every base dependency (pure-Python wheels
  count: they run anywhere).
- 32-bit Raspberry Pi OS (armv7l) installs from piwheels, which builds wheels from sdists: every
  package of that resolution must have an armv7l wheel, a pure-Python wheel or an sdist on PyPI.
  psycopg-binary has none of them, which is why it sits in the `postgres` extra behind a
  platform marker; the negative check below proves the rule catches such a package.

These talk to PyPI (the one network CI has): they resolve against the real index.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SIMPLE_JSON = "https://pypi.org/simple/{name}/"  # PEP 691 JSON form of the simple index
# Raspberry Pi OS 12 (bookworm) has glibc 2.36: every manylinux tag up to that one applies.
AARCH64_TAGS = ["linux_aarch64", "manylinux2014_aarch64"] + [
    f"manylinux_2_{minor}_aarch64" for minor in range(17, 37)
]


def base_dependencies() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def resolve_for_aarch64(requirements: list[str], tmp: Path) -> list[dict[str, Any]]:
    """pip's resolution of requirements for CPython 3.11 on 64-bit Raspberry Pi OS."""
    report = tmp / "report.json"
    platforms = [arg for tag in AARCH64_TAGS for arg in ("--platform", tag)]
    cmd = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
        "--disable-pip-version-check", "--no-cache-dir", "--report", str(report),
        "--only-binary=:all:", *platforms, "--python-version", "3.11", "--implementation", "cp",
        "--abi", "cp311", "--abi", "abi3", "--abi", "none", "--target", str(tmp / "target"),
        *requirements,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"no aarch64 resolution:\n{proc.stderr[-3000:]}"
    return list(json.loads(report.read_text())["install"])


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pypi_files(name: str, version: str) -> list[dict[str, Any]]:
    """The files PyPI holds for name==version, with a packagetype like the JSON API's."""
    req = urllib.request.Request(
        SIMPLE_JSON.format(name=_normalized(name)),
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        files = json.load(r)["files"]
    stem = re.sub(r"[-_.]+", "_", name).lower() + "-" + version
    out = []
    for f in files:
        fname = f["filename"]
        base = re.sub(r"[-_.]+", "_", fname.split("-", 1)[0]).lower() + "-" + fname.split("-", 2)[1]
        if base.removesuffix(".tar.gz").removesuffix(".zip") != stem:
            continue
        kind = "bdist_wheel" if fname.endswith(".whl") else "sdist"
        out.append({"filename": fname, "packagetype": kind})
    return out


def latest_version(name: str) -> str:
    req = urllib.request.Request(
        SIMPLE_JSON.format(name=_normalized(name)),
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        versions = json.load(r)["versions"]
    return str(max(versions, key=lambda v: tuple(int(x) for x in re.findall(r"\d+", v)[:3])))


def has_armv7l_path(files: list[dict[str, Any]]) -> bool:
    """An sdist (piwheels builds it), an armv7l wheel, or a pure-Python wheel."""
    for f in files:
        name = f["filename"]
        if f["packagetype"] == "sdist":
            return True
        if name.endswith(".whl") and ("armv7l" in name or name.endswith("-none-any.whl")):
            return True
    return False


@pytest.mark.timeout(900)
def test_base_install_resolves_for_64bit_raspberry_pi_and_builds_on_32bit(tmp_path: Path) -> None:
    resolved = resolve_for_aarch64(base_dependencies(), tmp_path)
    names = {item["metadata"]["name"].lower() for item in resolved}
    assert {"textual", "numpy", "plotext", "pycryptodomex", "orjson", "psutil"} <= names
    assert not any(n.startswith(("psycopg", "pymodbus", "otii")) for n in names), names
    no_armv7l = [
        f"{item['metadata']['name']}=={item['metadata']['version']}"
        for item in resolved
        if not has_armv7l_path(pypi_files(item["metadata"]["name"], item["metadata"]["version"]))
    ]
    assert not no_armv7l, f"no armv7l wheel and no sdist (32-bit Raspberry Pi OS): {no_armv7l}"


@pytest.mark.timeout(300)
def test_the_armv7l_rule_rejects_psycopg_binary() -> None:
    """psycopg-binary: wheels for x86-64 and aarch64 only, no sdist; the check must say no."""
    version = latest_version("psycopg-binary")
    assert pypi_files("psycopg-binary", version)  # the version's files were found at all
    assert not has_armv7l_path(pypi_files("psycopg-binary", version))
    assert has_armv7l_path(pypi_files("psycopg", version))  # the pure-Python fallback


@pytest.mark.timeout(900)
def test_postgres_extra_takes_the_binary_wheel_only_where_one_exists(tmp_path: Path) -> None:
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    resolved = resolve_for_aarch64(extra["postgres"], tmp_path)
    names = {item["metadata"]["name"].lower() for item in resolved}
    assert {"psycopg", "psycopg-binary"} <= names  # 64-bit Pi: the binary wheel exists
    binary = next(r for r in extra["postgres"] if r.startswith("psycopg[binary]"))
    marker = binary.partition(";")[2]
    assert "armv7l" not in marker and "aarch64" in marker and "x86_64" in marker
