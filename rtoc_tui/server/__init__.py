"""The TCP server: RTOC's jsonsocket protocol on the logger's asyncio loop.

- `tcp`: the server and its connections (framing, encryption, back-pressure, security);
- `transport`: lean socket transports and the accept thread;
- `rtoc_keys`: answers to RTOC's request keys;
- `ops`: our own operations under the `rtoc` key (the `LoggerClient` interface over the wire).
"""
