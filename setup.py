"""Package list for setuptools: rtoc_tui plus the top-level drivers/ folder as rtoc_tui.drivers.

pyproject.toml maps the folder (package-dir); this file only finds the subpackages on both
sides, so a new driver package needs no edit here.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["rtoc_tui", "rtoc_tui.*"])
packages += ["rtoc_tui.drivers"] + [f"rtoc_tui.drivers.{p}" for p in find_packages("drivers")]

setup(packages=packages)
