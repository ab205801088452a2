"""Configuration: the typed schema of config.json (with the secrets policy) and the user folder.

The wizard, `rtoc config` and `config import-rtoc` are commands: they live in rtoc_tui.cli.
"""
