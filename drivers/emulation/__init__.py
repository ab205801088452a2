"""What the built-in drivers' emulators share: a pty pair for serial devices (`pty_pair`) and
the unplug/replug lifecycle of loopback TCP servers (`loopback`).

Each driver's emulator sits beside it (`drivers/<name>/emulator.py`) and speaks its device's
real protocol byte for byte, so the driver never knows it is talking to one.
"""
