"""The logger core: signals, events, plugin API, devices, TCP server, storage, scripting.

Never imports Textual or plotext (checked by import-linter and tests/core/test_import_hygiene.py).
"""
