"""DPS5020: RDTech DPS programmable power supplies over Modbus RTU.

- `driver.py`: the driver (registered as `DPS5020` in pyproject.toml's `rtoc.drivers` entry points);
- `emulator.py`: a protocol-faithful emulator of the device (`python -m rtoc_tui.drivers.dps5020.emulator --help`);
- `README.md`: settings, wiring and troubleshooting;
- `sample_config.json`: a config.json to start from.

Needs the `modbus` extra: pip install 'rtoc-tui[modbus]'.
"""
