"""Who may see the web view: the bind-address rule, password checks and response headers.

The view is read-only, but plots and events of a lab are still nobody else's business:
- it binds 127.0.0.1 unless configured otherwise, and any other address needs web.password;
- on loopback it answers only requests whose Host header is a loopback name, so a web page
  on the internet cannot read it through DNS rebinding;
- with a password, a browser authenticates with HTTP basic auth or with a token link (the
  token is derived from the password, so the password itself never appears in a URL);
- without TLS every password and reply crosses the network in plain text, and it says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..config.schema import Config
from ..wire import is_loopback

log = logging.getLogger("rtoc.web")

TOKEN_COOKIE = "rtoc_web"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebConfigError(ValueError):
    """The web settings are unsafe or incomplete; the message says what to change."""


@dataclass(frozen=True)
class WebOptions:
    """Where and how the web view listens (from config.json's web section and CLI flags)."""

    host: str = "127.0.0.1"
    port: int = 8050
    password: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    @classmethod
    def from_config(cls, config: Config) -> WebOptions:
        w = config.web
        return cls(w.host, config.global_.webserver_port, w.password, w.tls_cert, w.tls_key)

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    @property
    def public(self) -> bool:
        return not is_loopback(self.host)

    def check(self) -> None:
        """Refuse settings that would expose the view by accident."""
        if self.public and not self.password:
            raise WebConfigError(
                f"the web view would listen on {self.host}, reachable from the network, without a "
                "password: set web.password (rtoc config set web.password ...), or bind "
                "web.host 127.0.0.1 and use 'ssh -L 8050:127.0.0.1:8050'"
            )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise WebConfigError(
                "web.tls_cert and web.tls_key must be set together (a PEM certificate and its key)"
            )
        for key, path in (("web.tls_cert", self.tls_cert), ("web.tls_key", self.tls_key)):
            if path and not Path(path).expanduser().is_file():
                raise WebConfigError(f"{key}: no such file {path!r}")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ctx.load_cert_chain(
                str(Path(self.tls_cert).expanduser()), str(Path(self.tls_key).expanduser())
            )
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(f"cannot load web.tls_cert/web.tls_key: {exc}") from exc
        return ctx

    def url(self, port: int | None = None) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{port or self.port}/"

    def token(self) -> str:
        """The token of the token link: derived from the password, never the password itself."""
        return hmac.new(self.password.encode(), b"rtoc-web-token", hashlib.sha256).hexdigest()[:32]

    def warnings(self) -> list[str]:
        """What the operator must know about this set-up (logged loudly at start)."""
        out = []
        if self.public and not self.tls:
            out.append(
                f"!!! The web view on {self.host}:{self.port} is PLAIN HTTP: its password and every "
                "reply cross the network unencrypted. Set web.tls_cert and web.tls_key for HTTPS, "
                "or bind 127.0.0.1 and use an SSH tunnel. !!!"
            )
        return out


def _host_is_loopback(host_header: str) -> bool:
    host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    if host_header.startswith("[") and "]" in host_header:
        host = host_header[1 : host_header.index("]")]
    return host.lower() in LOOPBACK_NAMES or is_loopback(host)


def make_guard(options: WebOptions) -> Middleware:
    """Middleware: Host check on loopback, then the password (basic auth, cookie or token link)."""
    token = options.token() if options.password else ""
    password = options.password.encode()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"], text="read-only view")
        if not options.public and not _host_is_loopback(request.host):
            # A loopback view answers loopback names only (DNS rebinding protection).
            raise web.HTTPMisdirectedRequest(text="this web view answers 127.0.0.1/localhost only")
        if not password:
            return await handler(request)
        given = request.query.get("token", "")
        if given and hmac.compare_digest(given.encode(), token.encode()):
            # The token link sets a cookie and drops the token from the address bar.
            query = {k: v for k, v in request.query.items() if k != "token"}
            resp = web.HTTPFound(request.rel_url.with_query(query))
            resp.set_cookie(
                TOKEN_COOKIE,
                token,
                httponly=True,
                samesite="Strict",
                secure=options.tls,
                max_age=30 * 86400,
            )
            raise resp
        cookie = request.cookies.get(TOKEN_COOKIE, "")
        if cookie and hmac.compare_digest(cookie.encode(), token.encode()):
            return await handler(request)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                _user, _, pw = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                pw = ""
            if hmac.compare_digest(pw.encode(), password):
                return await handler(request)
        raise web.HTTPUnauthorized(
            headers={"WWW-Authenticate": 'Basic realm="rtoc web view", charset="UTF-8"'},
            text="password required (any user name, the password is web.password)",
        )

    return guard


# script-src 'self': no inline script, nothing from elsewhere. uPlot sets element styles from
# script (allowed under style-src 'self' through the CSSOM), and the page loads no fonts.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers that keep the page from being framed, sniffed or leaking its address."""
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        resp = exc
        _set_headers(resp, request)
        raise
    _set_headers(resp, request)
    return resp


def _set_headers(resp: web.StreamResponse, request: web.Request) -> None:
    if resp.prepared:
        return
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "no-referrer"
    if request.path.startswith("/api/"):
        resp.headers["Cache-Control"] = "no-store"
