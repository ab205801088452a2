"""Built-in drivers, installed as `rtoc_tui.drivers` (see pyproject.toml package-dir).

One folder per driver, laid out as a third-party driver package would be: `driver.py` (the
plugin class), `emulator.py` (a protocol-faithful emulator for tests and demos), `README.md`,
`sample_config.json`. `emulation/` holds the emulators' shared transports (pty pair, loopback).
They register through the `rtoc.drivers` entry-point group exactly like third-party drivers
(pyproject.toml), so listing drivers imports none of them and starting one imports only that one.
"""
