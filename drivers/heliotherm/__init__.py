"""Heliotherm: Heliotherm heat pump over Modbus TCP.

- `driver.py`: the driver (registered as `Heliotherm` in pyproject.toml's `rtoc.drivers` entry points);
- `emulator.py`: a protocol-faithful emulator of the device (`python -m rtoc_tui.drivers.heliotherm.emulator --help`);
- `README.md`: settings, wiring and troubleshooting;
- `sample_config.json`: a config.json to start from.

Needs the `modbus` extra: pip install 'rtoc-tui[modbus]'.
"""
