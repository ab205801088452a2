"""An RTOC 2.x/3.x style plugin, written the way RTOC's documentation shows (section 5.3.2).

It imports PyQt5 at module level for its optional GUI, which a terminal never builds.
"""

try:
    from LoggerPlugin import LoggerPlugin
except ImportError:
    from RTOC.LoggerPlugin import LoggerPlugin

import time

import numpy as np
from PyQt5 import QtWidgets, uic
from PyQt5.QtCore import QTimer

DEVICENAME = "Template"
AUTORUN = True
SAMPLERATE = 50


class Plugin(LoggerPlugin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDeviceName(DEVICENAME)
        self.smallGUI = True
        self._firstrun = True
        self.gain = 2.0
        self.__doc_gain__ = "Multiplies the sine"
        self.setPerpetualTimer(self._updateT, samplerate=SAMPLERATE)
        if AUTORUN:
            self.start()

    def _updateT(self):
        y1 = self.gain * np.sin(time.time())
        y2 = np.cos(time.time())
        self.stream([y1, y2], snames=["Sinus", "Cosinus"], unit=["kg", "m"])
        self.plot([-10, 0], [2, 1], sname="Plot", unit="Wow")
        if self._firstrun:
            self.event("Test event", sname="Plot", id="testID")
            self._firstrun = False

    def setGain(self, gain=1.0):
        """Set the gain."""
        self.gain = gain
        return True

    def loadGUI(self):
        self.widget = QtWidgets.QWidget()
        uic.loadUi(self.getDir(__file__) + "/template.ui", self.widget)
        self._timer = QTimer()
        return self.widget


hasGUI = True

if __name__ == "__main__":
    app = QtWidgets.QApplication([])
