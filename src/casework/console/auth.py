"""Who is signed in: sessions, sign-in with lockout, CSRF tokens and the Origin check.

* A session is a random 256-bit cookie value (``HttpOnly``, ``SameSite=Lax``, ``Secure`` when
  the console is served over https, scoped to ``/console``); the database keeps only its
  SHA-256, with the agent and an expiry (``--console-session-ttl`` after sign-in, default
  12 hours: a working day).
* Every form carries the session's CSRF token (the sign-in form, before any session, a token
  bound to a cookie of its own: double submit); a POST without the right token, or from a
  foreign ``Origin`` (or ``Sec-Fetch-Site: cross-site``), gets 403 and changes nothing.
* LOCKOUT_FAILURES wrong passwords in a row lock the agent for LOCKOUT_SECONDS; a right
  password while locked is refused too. Each attempt is counted before its password is
  checked, so that attempts sent at once get no more checked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..store.engine import now_ms
from . import queries
from .passwords import DUMMY_HASH, verify_password

COOKIE = "casework_console"
SIGN_IN_COOKIE = "casework_console_signin"
LOCKOUT_FAILURES = 10
LOCKOUT_SECONDS = 15 * 60


@dataclass(frozen=True)
class Agent:
    """The signed-in agent, as a request sees it."""

    agent_id: int
    email: str
    accounts: list[str] | None  # granted account ids; None: every account
    csrf: str

    def may_see(self, account_id: str) -> bool:
        return self.accounts is None or account_id in self.accounts


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_options(request: Request) -> dict:
    return {"httponly": True, "samesite": "lax", "secure": secure(request), "path": "/console"}


async def current_agent(request: Request, runner) -> Agent | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        return None
    now = now_ms()
    found = await runner.read(lambda conn: queries.find_session(conn, _digest(token), now))
    if found is None:
        return None
    return Agent(found.agent_id, found.email, queries.granted_accounts(found), found.csrf_token)


def foreign_origin(request: Request) -> bool:
    """A request sent by a page of another site (the browser says so in its headers)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host", "")
    return origin != f"{request.url.scheme}://{host}"


def token_matches(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(),
                                                                  expected.encode())


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: a new session's cookie value, or why not."""

    token: str | None = None
    locked_until: int | None = None


async def sign_in(runner, email: str, password: str, session_seconds: int,
                  bucket_key: bytes) -> SignIn:
    """Check an e-mail and password; ``bucket_key`` keys the buckets of e-mails no agent has
    (queries.unknown_attempts)."""
    email = email.strip().lower()
    now = now_ms()
    agent = await runner.read(lambda conn: queries.find_agent_by_email(conn, email))
    # An e-mail no agent has is counted and locked the same way, in a bucket of its own
    # (queries.unknown_attempts): the answers tell nobody which agents exist.
    attempts = (queries.unknown_attempts(email, bucket_key) if agent is None
                else queries.agent_attempts(agent.agent_id))
    # The attempt is counted before the password is checked, so that a burst of attempts
    # sent at once counts as many as it holds: at most LOCKOUT_FAILURES get checked.
    if not await runner.write(lambda conn: queries.claim_attempt(
            conn, attempts, LOCKOUT_FAILURES, now)):
        return await _locked(runner, attempts, now)
    # Checked off the event loop: scrypt takes a tenth of a second on purpose. An unknown
    # e-mail costs the same check, so timing tells nobody which agents exist either.
    right = await run_in_threadpool(verify_password, password[:1024],
                                    DUMMY_HASH if agent is None else agent.password_hash)
    if agent is None or not right:
        until = now_ms() + LOCKOUT_SECONDS * 1000
        locked = await runner.write(lambda conn: queries.record_failure(
            conn, attempts, LOCKOUT_FAILURES, until))
        return SignIn(locked_until=until if locked else None)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)

    def start(conn) -> bool:
        if not queries.record_success(conn, agent.agent_id, now_ms()):
            return False  # locked by attempts that failed meanwhile
        queries.insert_session(conn, _digest(token), agent.agent_id, csrf, now,
                               now + session_seconds * 1000)
        return True

    if not await runner.write(start):
        return await _locked(runner, attempts, now_ms())
    return SignIn(token=token)


async def _locked(runner, attempts: queries.Attempts, now: int) -> SignIn:
    """The refusal of an attempt on a locked e-mail (or one with LOCKOUT_FAILURES attempts
    still being checked, which lock it if they fail)."""
    until = await runner.read(lambda conn: queries.locked_until(conn, attempts))
    return SignIn(locked_until=until if until is not None and until > now
                  else now + LOCKOUT_SECONDS * 1000)


async def sign_out(request: Request, runner) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        await runner.write(lambda conn: queries.delete_session(conn, _digest(token)))
