"""The logger kernel: signal store and ring buffers, events, the plugin API, devices.

Services around it (storage, scripting, the TCP server) live in their own packages above it and
are set into the Logger's typed slots by rtoc_tui.runtime. Never imports Textual or plotext
(import-linter contracts in pyproject.toml; tests/core/test_headless.py checks it at run time).
"""
