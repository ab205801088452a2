"""OctoPrint: 3D-printer state from OctoPrint's REST API.

- `driver.py`: the driver (registered as `OctoPrint` in pyproject.toml's `rtoc.drivers` entry points);
- `emulator.py`: a protocol-faithful emulator of the device (`python -m rtoc_tui.drivers.octoprint.emulator --help`);
- `README.md`: settings, wiring and troubleshooting;
- `sample_config.json`: a config.json to start from.
"""
