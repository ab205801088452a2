"""System: CPU, memory, disk, network and temperatures of this machine.

- `driver.py`: the driver (registered as `System` in pyproject.toml's `rtoc.drivers` entry points).
"""
