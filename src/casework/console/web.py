"""The console's ASGI app: templates, the guards every page passes, sign-in and sign-out.

Mounted by ``casework.app`` for every path under ``/console``. Pages are rendered on the
server (Jinja2); ``static/console.js`` only refreshes a case's thread and confirms actions.
Every database read or write goes through the request runner (``runner.read``/``write``).
"""

from __future__ import annotations

import functools
import secrets
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import auth

HERE = Path(__file__).parent
MAX_FORM_BYTES = 16 * 1024 * 1024  # a reply with three 5 MB attachments fits
SECURITY_HEADERS = {
    # Nothing but the console's own files: no inline script, no third-party origin.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso_time(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _bytes(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


class Pages:
    """What every page module shares: the runner, the templates and the guards."""

    def __init__(self, casework):
        self.casework = casework
        self.runner = casework.runner
        self.settings = casework.settings
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(default=True),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(time=_time, isotime=_iso_time, size=_bytes,
                                q=lambda text: quote(str(text), safe=""))
        self.env.globals["urlencode"] = urlencode

    def render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        context.setdefault("agent", request.scope.get("console.agent"))
        context.setdefault("path", request.url.path)
        html = self.env.get_template(name).render(request=request, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def error(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status=status, message=message)

    def page(self, endpoint):
        """A page for signed-in agents: others are sent to the sign-in page. POSTs pass the
        Origin check and carry the session's CSRF token (form field ``csrf_token`` or header
        ``X-CSRF-Token``), or get 403."""

        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            query = request.query_params.multi_items()
            if _unstorable(request.scope["path"]) or any(
                    _unstorable(k) or _unstorable(v) for k, v in query):
                return self.error(request, 400, "The address holds characters no page uses.")
            if request.method == "POST" and auth.foreign_origin(request):
                return self.error(request, 403, "This request came from another site.")
            agent = await auth.current_agent(request, self.runner)
            if agent is None:
                if request.method != "GET":
                    return self.error(request, 403, "Your session has ended; sign in again.")
                target = "/console/sign-in"
                if request.url.path != "/console":
                    target += "?" + urlencode({"next": request.url.path + (
                        "?" + request.url.query if request.url.query else "")})
                return RedirectResponse(target, status_code=303)
            request.scope["console.agent"] = agent
            if request.method == "POST":
                # A browser sends a form with its length; a body sent in chunks would be read
                # whole, its files spooled to disk, before any limit could be checked.
                length = request.headers.get("content-length")
                if length is None:
                    return self.error(request, 411, "A form must be sent with its length.")
                if int(length) > MAX_FORM_BYTES:
                    return self.error(request, 413, "The form is larger than 16 MB.")
                form = await request.form(max_files=3, max_fields=300)
                request.scope["console.form"] = form
                if any(_unstorable(k) or _unstorable(v if isinstance(v, str) else
                                                     v.filename or "")
                       for k, v in form.multi_items()):
                    return self.error(request, 400, "The form holds characters no text may "
                                      "hold (NUL or unpaired surrogates).")
                given = form.get("csrf_token") or request.headers.get("x-csrf-token")
                if not auth.token_matches(given if isinstance(given, str) else None,
                                          agent.csrf):
                    return self.error(request, 403, "The form's security token is missing or "
                                      "stale; reload the page and try again.")
            return await endpoint(request, agent)

        return guarded


class SignPages:
    def __init__(self, pages: Pages):
        self.pages = pages
        self.bucket_key = pages.casework.store.secret("console-unknown-signins").encode()

    def routes(self) -> list[Route]:
        return [Route("/console", self.pages.page(self.home), methods=["GET"]),
                Route("/console/", self.pages.page(self.home), methods=["GET"]),
                Route("/console/sign-in", self.sign_in_form, methods=["GET"]),
                Route("/console/sign-in", self.sign_in, methods=["POST"]),
                Route("/console/sign-out", self.pages.page(self.sign_out), methods=["POST"])]

    async def home(self, request: Request, agent) -> Response:
        return RedirectResponse("/console/overview", status_code=303)

    def _form(self, request: Request, status: int = 200, message: str | None = None,
              email: str = "") -> Response:
        token = request.cookies.get(auth.SIGN_IN_COOKIE)
        if not token or len(token) > 100:
            token = secrets.token_urlsafe(32)
        next_path = request.query_params.get("next", "")
        response = self.pages.render(request, "sign_in.html", status=status, message=message,
                                     email=email, csrf_token=token, next=_local(next_path))
        response.set_cookie(auth.SIGN_IN_COOKIE, token, max_age=3600,
                            **auth.cookie_options(request))
        return response

    async def sign_in_form(self, request: Request) -> Response:
        if await auth.current_agent(request, self.pages.runner) is not None:
            return RedirectResponse("/console/overview", status_code=303)
        return self._form(request)

    async def sign_in(self, request: Request) -> Response:
        if auth.foreign_origin(request):
            return self.pages.error(request, 403, "This request came from another site.")
        form = await request.form(max_files=0, max_fields=10)
        if not auth.token_matches(form.get("csrf_token"),
                                  request.cookies.get(auth.SIGN_IN_COOKIE)):
            return self.pages.error(request, 403, "The form's security token is missing or "
                                    "stale; reload the page and try again.")
        email, password = str(form.get("email", "")), str(form.get("password", ""))
        if _unstorable(email) or _unstorable(password):
            return self._form(request, 401, "The e-mail or the password is wrong.")
        ttl = self.pages.settings.console_session_ttl
        outcome = await auth.sign_in(self.pages.runner, email, password, ttl, self.bucket_key)
        if outcome.token is None:
            if outcome.locked_until is not None:
                message = (f"Too many failed sign-ins in a row: this agent is locked until "
                           f"{_time(outcome.locked_until)}.")
                return self._form(request, 429, message, email)
            return self._form(request, 401, "The e-mail or the password is wrong.", email)
        response = RedirectResponse(_local(str(form.get("next", ""))) or "/console/overview",
                                    status_code=303)
        response.set_cookie(auth.COOKIE, outcome.token, max_age=ttl,
                            **auth.cookie_options(request))
        response.delete_cookie(auth.SIGN_IN_COOKIE, path="/console")
        return response

    async def sign_out(self, request: Request, agent) -> Response:
        await auth.sign_out(request, self.pages.runner)
        response = RedirectResponse("/console/sign-in", status_code=303)
        response.delete_cookie(auth.COOKIE, path="/console")
        return response


def _unstorable(text: str) -> bool:
    """Text no database column can hold (PostgreSQL refuses NUL; UTF-8 refuses lone
    surrogates): refused up front rather than failing deep inside a write."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _local(path: str) -> str:
    """``path`` if it is a console page (never another site: no open redirect), else ''."""
    return path if path.startswith("/console/") and not path.startswith("//") \
        and "\\" not in path else ""


def build(casework) -> Starlette:
    """The console app of a running Casework."""
    from .connect_pages import ConnectPages
    from .overview import OverviewPages
    from .support_pages import SupportPages

    pages = Pages(casework)
    routes = [*SignPages(pages).routes(), *OverviewPages(pages).routes(),
              *SupportPages(pages).routes(), *ConnectPages(pages).routes(),
              Mount("/console/static", app=StaticFiles(directory=HERE / "static"),
                    name="static")]

    async def unrouted(request: Request, error) -> Response:
        """No page at this address (404) or none for this method (405): a console page like
        every other answer. A trailing slash is dropped by a redirect to a path alone:
        Starlette's own redirect would name the host the Host header gave."""
        path = request.url.path
        if error.status_code == 404 and path.endswith("/") and path != "/console/":
            query = request.url.query
            return RedirectResponse(path.rstrip("/") + (f"?{query}" if query else ""),
                                    status_code=307)
        message = ("There is no page at this address." if error.status_code == 404
                   else f"This page does not take {request.method} requests.")
        answer = pages.error(request, error.status_code, message)
        answer.headers.update(error.headers or {})  # a 405's Allow
        return answer

    app = Starlette(routes=routes, exception_handlers={404: unrouted, 405: unrouted})
    app.router.redirect_slashes = False
    return app
