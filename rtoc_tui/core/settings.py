"""Declared driver settings (port, baud, address, samplerate ...) and their validation.

A driver lists its settings in a `SETTINGS` class attribute; the values come from the
`devices.<DriverName>` section of config.json and are validated once, before the driver starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class SettingsError(ValueError):
    """A device setting is unknown or has the wrong type or value."""


@dataclass(frozen=True)
class Setting:
    """One driver setting with its default, a docs string and optional limits."""

    default: Any
    doc: str
    type: type | None = None  # inferred from the default when None
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False  # a credential: asked without echo; masked in every reply, session and log

    @property
    def value_type(self) -> type:
        return self.type or type(self.default)

    def coerce(self, value: Any, path: str) -> Any:
        """Return value converted to this setting's type, or raise SettingsError naming path."""
        if value is None and self.default is None:
            return None
        want = self.value_type
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if want is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if (
            want is bool
            and isinstance(value, str)
            and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off")
        ):
            value = value.lower() in ("true", "1", "yes", "on")
        elif isinstance(value, str) and want in (int, float):
            try:
                value = want(value, 0) if want is int else want(value)
            except ValueError:
                raise SettingsError(f"{path}: expected {want.__name__}, got {value!r}") from None
        if want is not type(None) and not (
            isinstance(value, want) and not (want is int and isinstance(value, bool))
        ):
            raise SettingsError(
                f"{path}: expected {want.__name__}, got {type(value).__name__} {value!r}"
            )
        if self.choices is not None and value not in self.choices:
            raise SettingsError(
                f"{path}: must be one of {', '.join(map(repr, self.choices))}, got {value!r}"
            )
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(f"{path}: must be >= {self.minimum}, got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise SettingsError(f"{path}: must be <= {self.maximum}, got {value!r}")
        return value


def validate_settings(
    driver: str,
    declared: Mapping[str, Setting],
    given: Mapping[str, Any] | None,
    where: str = "config.json",
) -> dict[str, Any]:
    """Defaults overlaid with the given values, each validated; unknown keys are errors."""
    given = dict(given or {})
    out = {k: s.default for k, s in declared.items()}
    for key, value in given.items():
        path = f"{where}: devices.{driver}.{key}"
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise SettingsError(f"{path}: unknown setting (known: {known})")
        out[key] = declared[key].coerce(value, path)
    return out
