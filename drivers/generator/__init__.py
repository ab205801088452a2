"""Generator: RTOC's function generator (the demo's data source).

- `driver.py`: the driver (registered as `Generator` in pyproject.toml's `rtoc.drivers` entry points).
"""
