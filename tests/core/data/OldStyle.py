"""An RTOC 3.0 plugin file using the RTOC package import and old-style threads."""

import threading
import time

from RTOC.LoggerPlugin import LoggerPlugin


class Plugin(LoggerPlugin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDeviceName("OldStyle")
        self.counter = self.initPersistentVariable("counter", 0)
        self.run = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while self.run:
            self.counter += 1
            self.stream(sdict={"OldStyle": {"Count": [self.counter, "n"]}})
            time.sleep(0.01)

    def close(self):
        self.run = False
