"""An RTOC user plugin as RTOC's template wrote them (test fixture): streams a counter."""

try:
    from LoggerPlugin import LoggerPlugin
except ImportError:
    from RTOC.LoggerPlugin import LoggerPlugin

from myplugin_helper import scale

DEVICENAME = "MyPlugin"
SAMPLERATE = 20


class Plugin(LoggerPlugin):
    def __init__(self, *args, **kwargs):
        super(Plugin, self).__init__(*args, **kwargs)  # noqa: UP008 (RTOC's template)
        self.setDeviceName(DEVICENAME)
        self._count = 0
        self.setPerpetualTimer(self._update, samplerate=SAMPLERATE)
        self.start()

    def _update(self):
        self._count += 1
        self.stream(scale(self._count), snames="count", unit="n")
