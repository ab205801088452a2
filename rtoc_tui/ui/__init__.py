"""The Textual terminal UI; it reaches the logger only through rtoc_tui.api."""
