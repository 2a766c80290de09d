"""Who may reach a served dashboard, and which stores it may read.

``dse serve`` listens on 127.0.0.1 unless told otherwise. Listening on any
other address exposes the dashboard to the network, so it needs an
authentication option (Panel's basic auth or OAuth) or an explicit
``--insecure``; :func:`serve_security` decides and builds the keyword
arguments of ``panel.serve``. Websocket connections are accepted only from
the served ``host:port`` (:func:`websocket_origins`).

A dashboard reads only the store (or catalog) it was started with, or stores
under the ``--root`` folders it was given; :func:`check_allowed` is the one
check of that rule (the catalog uses it for entries that point elsewhere).

>>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
(True, True, False)
>>> websocket_origins("127.0.0.1", 5006)
['127.0.0.1:5006', 'localhost:5006']
>>> import os, tempfile
>>> root = tempfile.mkdtemp()
>>> check_allowed(os.path.join(root, "runs", "a.zarr"), [root]) == os.path.join(os.path.realpath(root), "runs", "a.zarr")
True
>>> check_allowed(os.path.join(root, "..", "etc"), [root])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
dse.errors.DseError: ...: is outside the allowed roots (...)
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dse.errors import DseError

__all__ = ["is_loopback", "websocket_origins", "check_allowed", "serve_security", "ServeSecurity"]

WILDCARDS = ("", "0.0.0.0", "::", "*")


def is_loopback(address: str) -> bool:
    """True when every address ``address`` names is a loopback address.

    >>> is_loopback("::1"), is_loopback("127.0.0.2"), is_loopback("")
    (True, True, False)
    """
    if address in WILDCARDS:
        return False
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(address, None)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def _host(address: str) -> str:
    try:
        return f"[{address.strip('[]')}]" if ipaddress.ip_address(address.strip("[]")).version == 6 else address
    except ValueError:
        return address


def websocket_origins(address: str, port: int, extra: Iterable[str] = ()) -> list[str]:
    """Origins (``host:port``) allowed to open the dashboard's websocket.

    The served address itself; ``localhost`` too when bound to loopback; for a
    wildcard address (0.0.0.0, ::) this machine's host names, since clients
    cannot use the wildcard. ``extra`` adds names a reverse proxy or DNS
    alias serves under (``--origin``).

    >>> websocket_origins("10.1.2.3", 8000, ["dse.lab.example:443"])
    ['10.1.2.3:8000', 'dse.lab.example:443']
    """
    if address in WILDCARDS:
        names = dict.fromkeys([socket.getfqdn(), socket.gethostname()])
        origins = [f"{n}:{port}" for n in names if n]
    else:
        origins = [f"{_host(address)}:{port}"]
        if is_loopback(address) and address != "localhost":
            origins.append(f"localhost:{port}")
    for o in extra:
        o = o.strip().lower()
        if o.startswith(("http://", "https://")):
            o = urllib.parse.urlsplit(o).netloc
        if o and o not in origins:
            origins.append(o)
    return origins


def _url_parts(url: str) -> tuple[str, str, list[str]]:
    parts = urllib.parse.urlsplit(url)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise DseError("a store URL may not carry a query, fragment or credentials", where=url)
    segments = [urllib.parse.unquote(s) for s in parts.path.split("/") if s]
    if any(s in (".", "..") or "/" in s or "\\" in s for s in segments):
        raise DseError("a store URL may not contain '.' or '..' segments", where=url)
    return parts.scheme.lower(), parts.netloc.lower(), segments


def check_allowed(path: str, roots: Iterable[str]) -> str:
    """The canonical form of ``path`` if it lies under one of ``roots``, else an error.

    Local paths are resolved (``..`` and symbolic links followed) before the
    comparison, so neither ``root/../etc`` nor a symlink inside a root that
    points elsewhere passes. URLs (``s3://bucket/prefix``) must share scheme
    and bucket with a root, extend its path by whole segments, and hold no
    ``..`` segment, query or credentials.

    Parameters
    ----------
    path : str
        Store or catalog path or URL, as given (a URL parameter, a catalog
        entry, a command-line argument).
    roots : iterable of str
        Allowed folders or URL prefixes.

    Returns
    -------
    str
        The resolved path (or the normalised URL) to open.

    Raises
    ------
    DseError
        "is outside the allowed roots (...)".

    Examples
    --------
    >>> check_allowed("s3://lab/runs/2026/a.zarr", ["s3://lab/runs"])
    's3://lab/runs/2026/a.zarr'
    >>> check_allowed("s3://lab/runs/../private/a.zarr", ["s3://lab/runs"])
    Traceback (most recent call last):
    ...
    dse.errors.DseError: s3://lab/runs/../private/a.zarr: a store URL may not contain '.' or '..' segments
    """
    roots = list(roots)
    text = str(path)
    if not text or "\x00" in text:
        raise DseError("is not a valid path", where=repr(text))
    if "://" in text:
        scheme, netloc, segments = _url_parts(text)
        for root in roots:
            if "://" not in str(root):
                continue
            r_scheme, r_netloc, r_segments = _url_parts(str(root))
            if (scheme, netloc) == (r_scheme, r_netloc) and segments[: len(r_segments)] == r_segments:
                return f"{scheme}://{netloc}/" + "/".join(segments)
    else:
        resolved = Path(text).expanduser().resolve()
        for root in roots:
            if "://" in str(root):
                continue
            r = Path(root).expanduser().resolve()
            if resolved == r or r in resolved.parents:
                return str(resolved)
    shown = ", ".join(str(r) for r in roots) or "none configured"
    raise DseError(f"is outside the allowed roots ({shown})", where=text)


@dataclass
class ServeSecurity:
    """How a dashboard is exposed: the ``panel.serve`` keyword arguments and a summary.

    Attributes
    ----------
    kwargs : dict
        ``address``, ``websocket_origin`` and the authentication options.
    auth : str
        "none", "basic" or "oauth:<provider>".
    warnings : list of str
        To print before serving (``--insecure``).
    """

    kwargs: dict = field(default_factory=dict)
    auth: str = "none"
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the server log: the authentication and the allowed websocket origins."""
        origins = ", ".join(self.kwargs.get("websocket_origin", []))
        return f"authentication: {self.auth}; websocket origins: {origins}"


def serve_security(
    address: str,
    port: int,
    *,
    basic_auth: str | None = None,
    cookie_secret: str | None = None,
    oauth: Mapping[str, str | None] | None = None,
    insecure: bool = False,
    origins: Iterable[str] = (),
) -> ServeSecurity:
    """Decide how ``dse serve`` may listen on ``address``.

    Parameters
    ----------
    address : str
        Interface to listen on (127.0.0.1 by default).
    port : int
    basic_auth : str, optional
        A password (any user name), or a JSON file ``{"user": "password"}``.
    cookie_secret : str, optional
        Signs the login cookie; a random one per process when not given
        (logins then end when the server restarts).
    oauth : mapping, optional
        ``provider``, ``key``, ``secret``, ``redirect_uri``,
        ``encryption_key`` of Panel's OAuth (any None value is left out).
    insecure : bool
        Serve a non-loopback address without authentication (with a warning).
    origins : iterable of str
        Extra websocket origins (reverse proxy or DNS names).

    Raises
    ------
    DseError
        A non-loopback address without authentication or ``--insecure``;
        both basic auth and OAuth; a missing basic-auth file.

    Examples
    --------
    >>> serve_security("0.0.0.0", 5006)
    Traceback (most recent call last):
    ...
    dse.errors.DseError: --address 0.0.0.0: serving beyond this machine needs --basic-auth or --oauth-provider (or --insecure to serve without authentication)
    >>> s = serve_security("127.0.0.1", 5006)
    >>> s.auth, s.kwargs["websocket_origin"]
    ('none', ['127.0.0.1:5006', 'localhost:5006'])
    """
    oauth = {k: v for k, v in (oauth or {}).items() if v}
    provider = oauth.get("provider")
    if basic_auth and provider:
        raise DseError("choose --basic-auth or --oauth-provider, not both")
    if oauth and not provider:
        raise DseError("OAuth options need --oauth-provider", where="--oauth-key/--oauth-secret")
    kwargs: dict = {"address": address, "websocket_origin": websocket_origins(address, port, origins)}
    result = ServeSecurity(kwargs)
    wild = [o for o in origins if "*" in o]
    if wild and not insecure:
        raise DseError(
            "a wildcard origin lets any web page drive the dashboard through its visitors' browsers; "
            "name the host:port of the proxy (or add --insecure)",
            where=f"--origin {wild[0]}",
        )
    if wild:
        result.warnings.append(f"--insecure: websocket origin {wild[0]!r} accepts pages of other sites")
    if basic_auth:
        if basic_auth.endswith(".json"):
            p = Path(basic_auth)
            if not p.is_file():
                raise DseError("credentials file not found", where=f"--basic-auth {basic_auth}")
        kwargs["basic_auth"] = basic_auth
        result.auth = "basic"
    elif provider:
        kwargs["oauth_provider"] = provider
        for key in ("key", "secret", "redirect_uri", "encryption_key"):
            if oauth.get(key):
                kwargs[f"oauth_{key}"] = oauth[key]
        result.auth = f"oauth:{provider}"
    if result.auth != "none":
        kwargs["cookie_secret"] = cookie_secret or secrets.token_urlsafe(32)
    elif not is_loopback(address):
        if not insecure:
            raise DseError(
                "serving beyond this machine needs --basic-auth or --oauth-provider "
                "(or --insecure to serve without authentication)",
                where=f"--address {address}",
            )
        result.warnings.append(
            f"--insecure: the dashboard on {address}:{port} has no authentication; anyone who "
            "can reach this port can read the store it serves"
        )
    return result
