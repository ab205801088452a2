"""Protocol-faithful emulators of the supported instruments (for tests and demos).

Each speaks its device's real protocol byte for byte over a pty, a loopback socket or a fake
I2C bus, so the drivers never know they are talking to one.
"""
