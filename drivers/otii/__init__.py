"""Otii: Qoitech Otii Arc/Ace power analyser through the Otii TCP server.

- `driver.py`: the driver (registered as `Otii` in pyproject.toml's `rtoc.drivers` entry points);
- `emulator.py`: a protocol-faithful emulator of the device (`python -m rtoc_tui.drivers.otii.emulator --help`);
- `README.md`: settings, wiring and troubleshooting;
- `sample_config.json`: a config.json to start from.

Needs the `otii` extra: pip install 'rtoc-tui[otii]'.
"""
