"""A user's copy of RTOC's Generator plugin, which needs RTOC's Qt GUI files."""

from LoggerPlugin import LoggerPlugin
from PyQt5 import uic  # noqa: F401 - RTOC's copy loads its .ui file in loadGUI


class Plugin(LoggerPlugin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDeviceName("Generator")
        raise RuntimeError("this copy is broken")
