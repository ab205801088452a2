"""INA219: TI INA219 current/power monitor over I2C on a Raspberry Pi.

- `driver.py`: the driver (registered as `INA219` in pyproject.toml's `rtoc.drivers` entry points);
- `emulator.py`: a protocol-faithful emulator of the device (`python -m rtoc_tui.drivers.ina219.emulator --help`);
- `README.md`: settings, wiring and troubleshooting;
- `sample_config.json`: a config.json to start from.

Needs the `pi` extra: pip install 'rtoc-tui[pi]'.
"""
