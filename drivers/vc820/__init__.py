"""VC820: HoldPeak / Voltcraft VC820 multimeter over RS-232/USB.

- `driver.py`: the driver (registered as `VC820` in pyproject.toml's `rtoc.drivers` entry points);
- `emulator.py`: a protocol-faithful emulator of the device (`python -m rtoc_tui.drivers.vc820.emulator --help`);
- `README.md`: settings, wiring and troubleshooting;
- `sample_config.json`: a config.json to start from.
"""
