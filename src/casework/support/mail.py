"""E-mail to the people on an AWS Support case.

Every communication on a case, the customer's (CreateCase, AddCommunicationToCase) and the
agent's (the support-side API and the console), is mailed over SMTP to the case's CC
addresses and to the CC line of the communication itself; an agent's reply also goes to the
account's e-mail, as AWS Support writes to the account when it answers. Mail is off until
``--smtp-host`` is set, and then costs nothing for a case nobody is copied on.

A message is composed in the transaction that adds the communication (``compose``), as a
small JSON-able dict, and written to the durable outbox in that same transaction; the outbox
worker later hands it to :func:`send`, which speaks SMTP with the standard library in a
thread. A rolled-back write or a dry run therefore mails nothing, and a message waiting when
the server dies is sent after it restarts. Composing at write time fixes what the message
says (subject, recipients, sender) when the communication is added: a retry sends the very
same message, with the same ``Message-ID``.

Threading: the first communication of case ``case-…`` is ``<case-…@DOMAIN>``, every later
one ``<case-….SEQ@DOMAIN>`` (SEQ: the communication's number in the store), with
``In-Reply-To`` naming the communication before it and ``References`` the first and the one
before, so mail clients show the case as one thread. DOMAIN is the domain of ``--mail-from``.
"""

from __future__ import annotations

import asyncio
import binascii
import functools
import logging
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime, formataddr, getaddresses

import orjson
from sqlalchemy import Connection, bindparam, func, select

from ..clock import iso_ms
from ..config import Settings
from ..outbox import (
    DELIVERED,
    MAIL,
    PENDING,
    Channel,
    Message,
    PermanentFailure,
    channel_names,
    channel_provider,
    outbox,
    publish,
)
from ..store.prepared import Prepared
from .queries.cases import attachments_of
from .tables import communications

log = logging.getLogger("casework.mail")

PORTS = {"plain": 25, "starttls": 587, "tls": 465}
PASSWORD_ENV = "CASEWORK_SMTP_PASSWORD"
AGENT = "Amazon Web Services"
FALLBACK_DOMAIN = "casework.invalid"

# The case's first communication and the one before ``seq``: the thread's root and parent.
_THREAD = Prepared(select(
    select(func.min(communications.c.seq))
    .where(communications.c.case_seq == bindparam("case_seq")).scalar_subquery().label("first"),
    select(func.max(communications.c.seq))
    .where(communications.c.case_seq == bindparam("case_seq"),
           communications.c.seq < bindparam("seq")).scalar_subquery().label("previous")))


class MailSettingsError(ValueError):
    """A mail setting that cannot work: ``option`` names it, the message says why."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option


def enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def security(settings: Settings) -> str:
    """``plain``, ``starttls`` or ``tls``."""
    return "tls" if settings.smtp_tls else "starttls" if settings.smtp_starttls else "plain"


def port(settings: Settings) -> int:
    return settings.smtp_port or PORTS[security(settings)]


def sender(settings: Settings) -> str:
    """The From: of every message: ``--mail-from``, or ``Casework <casework@HOST>``."""
    return settings.mail_from or _default_sender()


@functools.lru_cache(maxsize=1)
def _default_sender() -> str:
    return formataddr(("Casework", f"casework@{socket.gethostname()}"))


def check_settings(settings: Settings) -> None:
    """Refuse mail settings that could never send, before the server starts."""
    if settings.smtp_host is None:
        given = [option for option, value in (
            ("--smtp-port", settings.smtp_port), ("--smtp-starttls", settings.smtp_starttls),
            ("--smtp-tls", settings.smtp_tls), ("--smtp-user", settings.smtp_user),
            ("--smtp-ca-file", settings.smtp_ca_file), ("--mail-from", settings.mail_from))
            if value]
        if given:
            raise MailSettingsError(given[0], "has no effect without --smtp-host (mail is off "
                                    "until --smtp-host names an SMTP server)")
        return
    if not settings.smtp_host.strip() or any(c.isspace() for c in settings.smtp_host):
        raise MailSettingsError("--smtp-host", "must be a host name or address")
    if settings.smtp_starttls and settings.smtp_tls:
        raise MailSettingsError("--smtp-tls", "choose one of --smtp-starttls (upgrade a plain "
                                "connection, usually port 587) and --smtp-tls (TLS from the "
                                "start, usually port 465)")
    if not 0 <= settings.smtp_port <= 65535:
        raise MailSettingsError("--smtp-port", "must be a port number (1-65535)")
    if settings.smtp_user and not settings.smtp_password:
        raise MailSettingsError("--smtp-user", f"needs the password in {PASSWORD_ENV}")
    if settings.smtp_password and not settings.smtp_user:
        raise MailSettingsError(PASSWORD_ENV, "is set but --smtp-user is not")
    if settings.smtp_ca_file is not None:
        if not (settings.smtp_tls or settings.smtp_starttls):
            raise MailSettingsError("--smtp-ca-file", "needs --smtp-starttls or --smtp-tls")
        try:
            ssl.create_default_context(cafile=str(settings.smtp_ca_file))
        except (OSError, ssl.SSLError) as error:
            raise MailSettingsError("--smtp-ca-file", f"cannot load {settings.smtp_ca_file}: "
                                    f"{error}") from None
    if settings.mail_from is not None and _mailbox(settings.mail_from) is None:
        raise MailSettingsError("--mail-from", f"{settings.mail_from!r} is not an e-mail "
                                "address (e.g. support@example.com or "
                                "'Support <support@example.com>')")


@functools.lru_cache(maxsize=4096)  # a case's CC line comes back with each communication
def _mailbox(text: str) -> str | None:
    """The address in ``text`` (``a@b`` or ``Name <a@b>``) if it is one mail can go to."""
    if not isinstance(text, str) or any(ord(c) < 32 or ord(c) == 127 for c in text):
        return None
    found = getaddresses([text])
    if len(found) != 1:  # one entry, one address
        return None
    address = found[0][1]
    # ASCII only: an internationalized address needs SMTPUTF8 all the way, which few relays
    # offer; such an entry is left out (and logged) rather than failing the whole message.
    if not address or not address.isascii() or "@" not in address \
            or any(c.isspace() for c in address):
        return None
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError):
        return None
    if not parsed.username or not parsed.domain:
        return None
    return parsed.addr_spec


def _recipients(addresses) -> list[str]:
    """The deliverable addresses, each once (case-insensitively), in the order given."""
    found: dict[str, str] = {}
    for text in addresses:
        address = _mailbox(text)
        if address is None:
            log.warning("not mailing %r: not an e-mail address", str(text)[:100])
        else:
            found.setdefault(address.lower(), address)
    return list(found.values())


def _domain(settings: Settings) -> str:
    return _domain_of(sender(settings))


@functools.lru_cache(maxsize=16)
def _domain_of(mail_from: str) -> str:
    address = _mailbox(mail_from)
    return address.rsplit("@", 1)[1] if address else FALLBACK_DOMAIN


def message_id(settings: Settings, case_id: str, seq: int | None) -> str:
    """The ``Message-ID`` of a case's communication; ``seq`` None: the case's first one."""
    local = case_id if seq is None else f"{case_id}.{seq}"
    return f"<{local}@{_domain(settings)}>"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class CaseThread:
    """What a message needs to know of its case (from a ``support_cases`` row, or from what
    CreateCase is writing)."""

    seq: int
    case_id: str
    display_id: str
    subject: str
    account_id: str
    cc: tuple[str, ...]

    @classmethod
    def of(cls, row) -> CaseThread:
        return cls(row.seq, row.case_id, row.display_id, row.subject, row.account_id,
                   tuple(orjson.loads(row.cc_email_addresses)))


def compose(ctx, case: CaseThread, *, seq: int, body: str, written_by: str, cc: list[str],
            first: bool, agent: bool, attachments: list[str]) -> dict | None:
    """The message for communication ``seq`` of ``case``, written now, as a JSON-able dict
    for the outbox, or None when nobody is to receive it.

    ``cc`` is the communication's own CC line, ``attachments`` its file names; ``first``
    says whether it opened the case, ``agent`` whether AWS (the support side) wrote it, in
    which case the account's e-mail (``ctx`` is the case account's context) receives it too.
    """
    conn, settings, created_at = ctx.conn, ctx.settings, ctx.now
    copied = _recipients([*case.cc, *cc])
    to: list[str] = []
    if agent:
        account = ctx.account_email
        to = _recipients([account] if account else [])
    addressed = {address.lower() for address in to}
    copied = [address for address in copied if address.lower() not in addressed]
    if not to and not copied:
        return None
    if not to:  # a customer's communication goes to the people copied on the case
        to, copied = copied, []
    subject = f"[Case {case.display_id}] {_one_line(case.subject)}"
    headers = {"Message-ID": message_id(settings, case.case_id, None if first else seq)}
    if not first:
        subject = "Re: " + subject
        root = message_id(settings, case.case_id, None)
        thread = _THREAD.first(conn, {"case_seq": case.seq, "seq": seq})
        # The case's first communication is the thread's root, whatever its number.
        parent = root if thread.previous is None or thread.previous == thread.first else \
            message_id(settings, case.case_id, thread.previous)
        headers["In-Reply-To"] = parent
        headers["References"] = root if parent == root else f"{root} {parent}"
    when = datetime.fromtimestamp(created_at / 1000, UTC)
    lines = [f"{written_by} wrote on {when:%Y-%m-%d %H:%M} UTC:", "", body.rstrip(), ""]
    if attachments:
        lines += [f"Attachments ({len(attachments)}):",
                  *(f"  - {_one_line(name)}" for name in attachments), ""]
    lines += ["-- ", f"Case {case.display_id}: {_one_line(case.subject)}",
              f"Case ID: {case.case_id}",
              "Reply through the AWS Support API (AddCommunicationToCase), not by e-mail."]
    return {
        "from": sender(settings),
        "to": to,
        "cc": copied,
        "subject": subject,
        "date": created_at,
        "headers": headers,
        "text": "\n".join(lines) + "\n",
    }


def outbox_id(case_id: str, seq: int) -> str:
    """The outbox's ``message_id`` of communication ``seq``'s mail (unique in the store)."""
    return f"{case_id}.{seq}"


def wanted(ctx) -> bool:
    """Whether mail is configured: without it, nothing is written for a communication."""
    return bool(channel_names(ctx.settings, MAIL))


def publish_communication(ctx, case: CaseThread, *, seq: int, body: str, written_by: str,
                          cc: list[str], first: bool = False, agent: bool = False) -> None:
    """Write the mail of communication ``seq`` to the outbox in the request's transaction,
    after the communication and its attachments (nothing when mail is off or nobody is to
    receive it); the outbox is woken once the transaction commits."""
    if not wanted(ctx):
        return
    names = [details["fileName"]
             for details, _ in attachments_of(ctx.conn, [seq]).get(seq, [])]
    message = compose(ctx, case, seq=seq, body=body, written_by=written_by, cc=cc,
                      first=first, agent=agent, attachments=names)
    if message is not None:
        publish(ctx, MAIL, message_id=outbox_id(case.case_id, seq), case_id=case.case_id,
                kind="mail", payload=message, account_id=case.account_id)


def publish_agent_reply(ctx, case, seq: int, body: str) -> None:
    """Mail communication ``seq``, an answer from "Amazon Web Services" on ``case`` (a
    ``support_cases`` row), to the account and the CC line: for every support-side reply (the
    support API, the console), called after its attachments are stored."""
    publish_communication(ctx, CaseThread.of(case), seq=seq, body=body, written_by=AGENT,
                          cc=[], agent=True)


_CASE_MAIL = Prepared(
    select(outbox.c.message_id, outbox.c.status, outbox.c.attempts, outbox.c.next_attempt_at,
           outbox.c.last_error, outbox.c.delivered_at, outbox.c.payload)
    .where(outbox.c.case_id == bindparam("case_id"), outbox.c.kind == "mail")
    .order_by(outbox.c.seq))


def delivery_states(conn: Connection, case_id: str) -> dict[int, dict]:
    """``{communication seq: its mail's delivery}`` for the case's mailed communications:
    ``status`` (``pending``, ``delivered`` or ``dead``: given up), ``attempts``, the
    recipients, and ``lastError``/``nextAttemptAt``/``deliveredAt`` where they apply."""
    found: dict[int, dict] = {}
    prefix = case_id + "."
    for row in _CASE_MAIL.all(conn, {"case_id": case_id}):
        if not row.message_id.startswith(prefix) or not row.message_id[len(prefix):].isdigit():
            continue
        message = orjson.loads(row.payload)
        state = {"status": row.status, "attempts": row.attempts,
                 "messageId": message["headers"]["Message-ID"],
                 "to": message["to"], "cc": message["cc"]}
        if row.status != DELIVERED and row.last_error:
            state["lastError"] = row.last_error
        if row.status == PENDING:
            state["nextAttemptAt"] = iso_ms(row.next_attempt_at)
        if row.delivered_at is not None:
            state["deliveredAt"] = iso_ms(row.delivered_at)
        found[int(row.message_id[len(prefix):])] = state
    return found


class MailChannel(Channel):
    """The outbox channel that sends case mail over SMTP."""

    name = "mail"
    group = MAIL

    def __init__(self, settings: Settings):
        self.settings = settings
        self.sender = Sender(settings)
        # smtplib's timeout bounds each network step; a delivery may open a connection
        # (TLS, login) and send, several steps.
        self.timeout = max(10.0, settings.smtp_timeout * 6)

    async def deliver(self, message: Message) -> None:
        try:
            await asyncio.to_thread(self.sender.send, message.data())
        except SendError as error:
            if error.permanent:
                raise PermanentFailure(str(error)) from None
            raise

    async def close(self) -> None:
        await asyncio.to_thread(self.sender.close)


@channel_provider
def _mail_channels(settings: Settings) -> list[Channel]:
    return [MailChannel(settings)] if enabled(settings) else []


MAX_LINE = 998  # RFC 5322: characters in a line, without its CRLF


def render(message: dict) -> bytes:
    """The RFC 5322 bytes of a composed ``message``: plain text, UTF-8.

    Written out directly rather than through ``email.message.EmailMessage``, whose header
    parsing cost over a millisecond a message; every value here was checked when the message
    was composed (addresses are plain ASCII mailboxes, the subject is one line).
    """
    name, address = getaddresses([message["from"]])[0]
    subject = message["subject"]
    wide = not subject.isascii() or max(map(len, subject.split(" "))) > MAX_LINE - 100
    headers = [
        ("From", formataddr((name, address), charset="utf-8")),
        ("To", ",\r\n ".join(message["to"])),
        *([("Cc", ",\r\n ".join(message["cc"]))] if message["cc"] else []),
        ("Subject", Header(subject, "utf-8" if wide else "us-ascii",
                           header_name="Subject").encode(linesep="\r\n")),
        ("Date", format_datetime(datetime.fromtimestamp(message["date"] / 1000, UTC))),
        *message["headers"].items(),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation replies to a robot
        ("MIME-Version", "1.0"),
    ]
    text = message["text"]
    if text.isascii() and all(len(line) <= MAX_LINE for line in text.split("\n")):
        headers += [("Content-Type", 'text/plain; charset="us-ascii"'),
                    ("Content-Transfer-Encoding", "7bit")]
        body = text
    else:
        # Quoted-printable: relays without 8BITMIME carry it intact, and lines stay short.
        headers += [("Content-Type", 'text/plain; charset="utf-8"'),
                    ("Content-Transfer-Encoding", "quoted-printable")]
        body = binascii.b2a_qp(text.encode()).decode("ascii")
    head = "".join(f"{key}: {value}\r\n" for key, value in headers)
    # Every part is ASCII by now: encoded words, quoted-printable or 7-bit text.
    return (head + "\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")).encode("ascii")


class SendError(Exception):
    """Sending failed; ``permanent`` when the server refused the message for good (5xx)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Sender:
    """Sends messages over one SMTP connection, kept open between them (blocking: call
    :meth:`send` in a thread). A connection idle for ``IDLE`` seconds, or one the server has
    closed, is replaced by a new one without counting as a failed attempt."""

    IDLE = 30.0

    def __init__(self, settings: Settings):
        self.settings = settings
        self.where = f"{settings.smtp_host}:{port(settings)}"
        self._smtp: smtplib.SMTP | None = None
        self._used = 0.0
        self._lock = threading.Lock()

    def _open(self) -> smtplib.SMTP:
        settings, mode = self.settings, security(self.settings)
        context = None
        if mode != "plain":
            context = ssl.create_default_context(
                cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None)
        if mode == "tls":
            smtp = smtplib.SMTP_SSL(settings.smtp_host, port(settings),
                                    timeout=settings.smtp_timeout, context=context)
        else:
            smtp = smtplib.SMTP(settings.smtp_host, port(settings),
                                timeout=settings.smtp_timeout)
        try:
            if mode == "starttls":
                smtp.starttls(context=context)
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def send(self, message: dict) -> None:
        """Deliver ``message``; raises :class:`SendError` with a one-line reason. A message
        that reached at least one of its recipients counts as sent (refusals are logged)."""
        data = render(message)
        envelope_from = _mailbox(message["from"]) or ""
        recipients = [*message["to"], *message["cc"]]
        with self._lock:
            try:
                refused = self._send(envelope_from, recipients, data)
            except smtplib.SMTPRecipientsRefused as error:
                raise SendError(f"every recipient was refused: {_refusals(error.recipients)}",
                                permanent=_all_permanent(error.recipients)) from None
            except smtplib.SMTPResponseException as error:
                if error.smtp_code == 421 or isinstance(error, smtplib.SMTPConnectError):
                    self._drop()  # the server is closing this connection
                text = error.smtp_error.decode(errors="replace") if isinstance(
                    error.smtp_error, bytes) else str(error.smtp_error)
                raise SendError(
                    f"{self.where} answered {error.smtp_code} {_one_line(text)}",
                    permanent=500 <= error.smtp_code < 600
                    and not isinstance(error, smtplib.SMTPAuthenticationError)) from None
            except (OSError, smtplib.SMTPException) as error:
                self._drop()
                reason = _one_line(str(error)) or type(error).__name__
                raise SendError(f"{self.where}: {reason}") from None
        if refused:
            log.warning("%s: refused %s", message["headers"]["Message-ID"], _refusals(refused))

    def _send(self, envelope_from: str, recipients: list[str], data: bytes) -> dict:
        now = time.monotonic()
        if self._smtp is not None and now - self._used > self.IDLE:
            self._drop()
        kept = self._smtp is not None
        if self._smtp is None:
            self._smtp = self._open()
        try:
            refused = self._smtp.sendmail(envelope_from, recipients, data)
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            if not kept:
                raise
            # The kept connection had gone stale (the server's idle timeout): a new one.
            self._drop()
            self._smtp = self._open()
            refused = self._smtp.sendmail(envelope_from, recipients, data)
        self._used = time.monotonic()
        return refused


def send(settings: Settings, message: dict) -> None:
    """Deliver ``message`` over a connection of its own (see :class:`Sender`)."""
    sender = Sender(settings)
    try:
        sender.send(message)
    finally:
        sender.close()


def _refusals(refused: dict) -> str:
    return "; ".join(f"{address} ({code} {_one_line(text.decode(errors='replace'))})"
                     for address, (code, text) in refused.items())


def _all_permanent(refused: dict) -> bool:
    return all(500 <= code < 600 for code, _ in refused.values())

