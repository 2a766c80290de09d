"""How ``dse serve`` hardens Panel's server: component route, session lifetime and count.

* Panel's ``/components/<module>/<class>/<attr>/<file>`` route imports the
  module named in the URL (``importlib.import_module``) before it checks
  anything, and it is not behind the login. :class:`ComponentHandler`
  replaces it: the module must belong to Panel or Bokeh *and* be imported
  already (so a request can never import, or run the import side effects
  of, anything), and the route asks for the same login as the app.
* Sessions that no browser connects to (a plain ``GET /`` builds one) are
  dropped after :data:`UNUSED_SESSION_SECONDS` (``DSE_UNUSED_SESSION_SECONDS``;
  the server looks every :data:`CHECK_UNUSED_SECONDS`,
  ``DSE_CHECK_UNUSED_SECONDS``); at most
  :attr:`dse.limits.Limits.max_sessions` dashboards are alive at once, and a
  page load beyond that gets a small "busy" page instead of a dashboard.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from panel.io.resources import COMPONENT_PATH
from panel.io.server import AuthenticatedStaticFileHandler, ComponentResourceHandler
from tornado.web import HTTPError

__all__ = [
    "ComponentHandler",
    "component_routes",
    "limit_sessions",
    "session_options",
    "ALLOWED_COMPONENT_PACKAGES",
    "UNUSED_SESSION_SECONDS",
]

#: top-level packages whose components' resources may be served
ALLOWED_COMPONENT_PACKAGES = ("panel", "bokeh")


def _seconds(variable: str, default: float) -> float:
    """A positive number of seconds from the environment (``default`` when unset or not one)."""
    try:
        value = float(os.environ.get(variable, default))
    except ValueError:
        return default
    return value if 0.1 <= value <= 86_400 else default


#: a session no browser has connected to is dropped after this long [s]
UNUSED_SESSION_SECONDS = _seconds("DSE_UNUSED_SESSION_SECONDS", 15)
#: and the server looks for such sessions this often [s]
CHECK_UNUSED_SECONDS = _seconds("DSE_CHECK_UNUSED_SECONDS", 5)


def component_allowed(module: str) -> bool:
    """True when ``module`` may be named in a ``/components`` URL.

    >>> component_allowed("panel.models.reactive_html")
    True
    >>> component_allowed("antigravity"), component_allowed("panel.not_a_module_yet_imported")
    (False, False)
    """
    top = module.split(".", 1)[0]
    return top in ALLOWED_COMPONENT_PACKAGES and module in sys.modules


class ComponentHandler(AuthenticatedStaticFileHandler, ComponentResourceHandler):
    """Panel's component resource handler, behind the login and for imported Panel/Bokeh modules only."""

    def parse_url_path(self, path: str) -> str:
        """Serve a static component only when the dashboard allows its module; any other is a 404."""
        module = path.split("/", 1)[0]
        if not component_allowed(module):
            raise HTTPError(404, "Module not found")
        return super().parse_url_path(path)


def component_routes() -> list[tuple]:
    """Tornado routes to pass as ``extra_patterns``: they come before Panel's own ``/components`` route."""
    return [(f"/{COMPONENT_PATH}(.*)", ComponentHandler, {})]


def session_options() -> dict:
    """Keyword arguments of ``panel.serve`` that expire sessions no browser uses."""
    return {
        "unused_session_lifetime_milliseconds": int(UNUSED_SESSION_SECONDS * 1000),
        "check_unused_sessions_milliseconds": int(CHECK_UNUSED_SECONDS * 1000),
    }


def _session_gone(live: set[int], key: int) -> None:
    """Forget a destroyed session and collect its objects now.

    A dashboard is a web of reference cycles (Bokeh models, Panel panes,
    HoloViews streams); an idle server allocates too little for Python's
    cyclic collector to run on its own, so without this the memory of closed
    sessions would stay until the next busy moment.
    """
    import gc

    live.discard(key)
    gc.collect()


def limit_sessions(factory: Callable[[], object], max_sessions: int) -> Callable[[], object]:
    """Wrap a session factory so that at most ``max_sessions`` dashboards are alive at once.

    A session is counted from its creation until Bokeh destroys it (its
    browser tab closed, or it expired unused); beyond the limit the factory
    is not called and a one-paragraph "busy" page is served instead.
    """
    import panel as pn

    live: set[int] = set()

    def session():
        doc = pn.state.curdoc
        if len(live) >= max_sessions:
            return pn.pane.Markdown(
                f"**The dashboard is busy**: {len(live)} sessions are open (the limit is "
                f"{max_sessions}, DSE_MAX_SESSIONS). Close another tab, or try again "
                f"in {UNUSED_SESSION_SECONDS:g} s."
            )
        key = id(doc)
        live.add(key)
        if doc is not None:
            doc.on_session_destroyed(lambda _context, key=key: _session_gone(live, key))
        try:
            return factory()
        except BaseException:
            live.discard(key)
            raise

    session.live = live  # type: ignore[attr-defined] - for tests and figures
    return session
