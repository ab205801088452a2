"""RTOC's `jsonsocket` module under its own top-level name, for client code written for RTOC.

`import jsonsocket` (RTOC documentation, section 5.9.1) gives RTOC's Client, Server and
exceptions, implemented in rtoc_tui.core.jsonsocket on rtoc-tui's framing and encryption.
"""

from rtoc_tui.core.jsonsocket import (  # noqa: F401 - re-exported names
    BACKLOG,
    HOST_WHITELIST,
    Client,
    NoPasswordProtectionError,
    PasswordProtectedError,
    Server,
    WrongPasswordError,
    deserializeJSON,
    pad,
    readBlock,
)
