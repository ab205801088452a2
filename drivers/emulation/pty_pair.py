"""A pty pair that stands in for a USB serial adapter, and a thread that serves it.

The emulator owns the master end; the driver opens the slave path as its serial port (pyserial
and minimalmodbus accept a pty like any tty). With a `link` path the port gets a stable name (a
symlink to the current /dev/pts/N), so a simulated unplug can remove it and a replug can bring it
back under the same name, as udev does for /dev/ttyUSB0.

All file descriptors are used from the serving thread only: closing an fd that another thread is
select()ing on is unsafe (the number may be reused at once), so unplug/replug/write requests from
other threads are queued to the serving thread and waited for.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import selectors
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class PtyPort:
    """One pty pair: the master fd for the emulator, the slave path for the driver."""

    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        self.link = Path(link) if link is not None else None
        self.master_fd: int | None = None
        self._slave_fd: int | None = None
        self.slave_name: str | None = None

    @property
    def is_open(self) -> bool:
        return self.master_fd is not None

    @property
    def path(self) -> str:
        """The serial port path a driver should open (the link when one was given)."""
        if self.link is not None:
            return str(self.link)
        if self.slave_name is None:
            raise RuntimeError("pty is not open")
        return self.slave_name

    def open(self) -> None:
        """Create the pty pair (raw mode, non-blocking master) and point the link at it."""
        if self.is_open:
            return
        master, slave = os.openpty()
        # raw: no echo, no CR/LF mapping, no XON/XOFF, so every byte value passes unchanged
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master_fd, self._slave_fd = master, slave
        self.slave_name = os.ttyname(slave)
        # Keeping our own slave fd open means the master never sees EIO/hang-up just because
        # the driver closed its port between reconnects.
        if self.link is not None:
            tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(self.slave_name, tmp)
            os.replace(tmp, self.link)

    def close(self) -> None:
        """Remove the link and close both ends: a driver reading the slave gets EIO."""
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for fd in (self.master_fd, self._slave_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master_fd = self._slave_fd = None

    def write(self, data: bytes) -> int:
        """Write to the line; bytes nobody reads are dropped (a UART does not block either)."""
        if self.master_fd is None or not data:
            return 0
        try:
            return os.write(self.master_fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EAGAIN):
                return 0
            raise

    def read(self, n: int = 4096) -> bytes:
        """Read what the driver sent (b'' when nothing is there)."""
        if self.master_fd is None:
            return b""
        try:
            return os.read(self.master_fd, n)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # no slave open: nothing to read
                return b""
            raise


class PtyEmulator:
    """Base class of the serial device emulators: a pty served by one background thread.

    Subclasses override `_on_data` (bytes the driver wrote) and/or `_on_tick` (called every
    `tick_s` seconds, e.g. to send the next frame of a talk-only meter).
    """

    tick_s: float = 0.05

    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        self.port = PtyPort(link)
        self.muted = False  # True: the device stays plugged in but sends nothing
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], _Result]] = queue.SimpleQueue()
        self._wake_r = self._wake_w = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_tick = 0.0

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The serial port path to give the driver."""
        return self.port.path

    @property
    def plugged(self) -> bool:
        """True while the pty exists."""
        return self.port.is_open

    def start(self) -> PtyEmulator:
        """Open the pty and start serving it; returns self."""
        if self._thread is not None:
            return self
        self.port.open()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"emu-{type(self).__name__}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the pty."""
        thread = self._thread
        if thread is not None:
            self._stop.set()
            self._wake()
            thread.join(5.0)
            self._thread = None
        self.port.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> PtyEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- simulated faults -------------------------------------------------------------------
    def unplug(self) -> None:
        """Pull the USB cable: the pty (and its link) disappear, open ports get EIO."""
        self.call(self.port.close)

    def replug(self) -> None:
        """Plug the cable back in: a new pty under the same link path."""
        self.call(self.port.open)

    def mute(self) -> None:
        """Keep the port but stop answering/sending (meter switched off, cable loose)."""
        self.muted = True

    def unmute(self) -> None:
        """Answer/send again after mute()."""
        self.muted = False

    def write_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the line now (noise, garbage)."""
        self.call(lambda: self.port.write(bytes(data)))

    # -- thread plumbing --------------------------------------------------------------------
    def call(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Run fn in the serving thread (where the fds live) and return its result."""
        if self._thread is None or threading.current_thread() is self._thread:
            return fn()
        result = _Result()
        self._calls.put((fn, result))
        self._wake()
        if not result.done.wait(timeout):
            raise TimeoutError(f"{type(self).__name__}: serving thread did not respond")
        if result.error is not None:
            raise result.error
        return result.value

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _run_calls(self) -> None:
        while True:
            try:
                fn, result = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                result.value = fn()
            except BaseException as exc:  # handed back to the caller
                result.error = exc
            result.done.set()

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        registered: int | None = None
        self._next_tick = time.monotonic()
        try:
            while not self._stop.is_set():
                fd = self.port.master_fd
                if fd != registered:  # pty was replaced by unplug/replug
                    if registered is not None:
                        with contextlib.suppress(KeyError, ValueError):
                            sel.unregister(registered)
                    if fd is not None:
                        sel.register(fd, selectors.EVENT_READ)
                    registered = fd
                timeout = max(0.0, self._next_tick - time.monotonic())
                for key, _ in sel.select(timeout):
                    if key.fd == self._wake_r:
                        with contextlib.suppress(OSError):
                            os.read(self._wake_r, 4096)
                    elif key.fd == registered:
                        data = self.port.read()
                        if data:
                            self._on_data(data)
                        else:
                            # EIO on the master (no slave open): avoid a busy loop
                            time.sleep(0.005)
                self._run_calls()
                now = time.monotonic()
                if now >= self._next_tick:
                    self._next_tick = now + self.tick_s
                    if self.port.is_open:
                        self._on_tick(now)
        except Exception:
            log.exception("%s serving thread crashed", type(self).__name__)
        finally:
            self._run_calls()
            sel.close()

    # -- for subclasses ---------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        """Bytes the driver wrote."""

    def _on_tick(self, now: float) -> None:
        """Called every tick_s seconds while plugged in."""


class _Result:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
