"""A threaded socketserver on 127.0.0.1 that tests can unplug and replug (the TCP emulators' base)."""

from __future__ import annotations

import socket
import threading
from typing import Any


class LoopbackServer:
    """Start/stop/unplug/replug of `server_class((host, port), self)` in a thread of its own.

    Subclasses set `server_class` (a socketserver class whose constructor takes the address and
    this emulator) and `thread_name`; their request handlers call `_track` so that `stop()` can
    cut open connections the way a pulled cable does.
    """

    server_class: Any
    thread_name = "emulator"

    def __init__(self, port: int = 0) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Any:
        """Listen (again) on 127.0.0.1:port; port 0 picks a free one the first time."""
        if self._server is not None:
            return self
        self._server = self.server_class((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port and every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer
        server.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def unplug(self) -> None:
        """Like pulling the cable: stop answering and drop every connection."""
        self.stop()

    def replug(self) -> None:
        """Come back on the same port."""
        self.start()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self.lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
