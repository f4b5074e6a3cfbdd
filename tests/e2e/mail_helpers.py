"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives."""

from __future__ import annotations

import datetime
import email
import ipaddress
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import free_port

DEADLINE = 120.0  # seconds a test waits for mail (retries back off 1 s, 2 s, 4 s, ...)


@dataclass
class Received:
    """One message as the SMTP server got it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    user: str | None  # who authenticated, if anyone
    peer: tuple  # the client's address and port: one per SMTP connection

    @property
    def body(self) -> str:
        return self.message.get_content().replace("\r\n", "\n")


class Inbox:
    """An SMTP server on 127.0.0.1:``port`` (a free one by default), started by ``start``.

    ``tls``: a server context for TLS from the first byte; ``starttls``: one offered through
    STARTTLS (and then required); ``users``: ``{name: password}`` that must authenticate.
    ``refuse``: recipients refused with 550 (for good).
    """

    def __init__(self, port: int | None = None, *, tls: ssl.SSLContext | None = None,
                 starttls: ssl.SSLContext | None = None, users: dict | None = None,
                 refuse: set[str] | None = None):
        self.port = port or free_port()
        self.received: list[Received] = []
        self.refuse = refuse or set()
        self._changed = threading.Condition()
        options: dict = {}
        if tls is not None:
            options["ssl_context"] = tls
        if starttls is not None:
            options.update(tls_context=starttls, require_starttls=True)
        if users is not None:
            options.update(authenticator=self._authenticator(users), auth_required=True)
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.running = False

    def _authenticator(self, users: dict):
        def check(server, session, envelope, mechanism, auth_data):
            login = getattr(auth_data, "login", b"").decode()
            password = getattr(auth_data, "password", b"").decode()
            return AuthResult(success=users.get(login) == password, auth_data=login)
        return check

    def start(self) -> Inbox:
        self.controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.controller.stop()
            self.running = False

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=default)
        user = session.auth_data if session.authenticated else None
        with self._changed:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          message, user, tuple(session.peer)))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = DEADLINE) -> list[Received]:
        """The first ``count`` messages, once they have arrived."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} messages arrived "
                                         f"in {timeout:g} s: {self.summary()}")
                self._changed.wait(left)
            return list(self.received[:count])

    def of_case(self, display_id: str, count: int, timeout: float = DEADLINE) -> list[Received]:
        """The ``count`` messages about case ``display_id``, in arrival order, once they are
        all here (and no more than that)."""
        tag = f"[Case {display_id}]"
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self.received if tag in r.message["Subject"]]
                if len(found) >= count:
                    assert len(found) == count, [r.message["Subject"] for r in found]
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} of {count} messages about {tag} "
                                         f"arrived in {timeout:g} s: {self.summary()}")
                self._changed.wait(left)

    def summary(self) -> list[str]:
        return [f"{r.message['Subject']} -> {r.rcpt_tos}" for r in self.received]

    def by_id(self) -> dict[str, Received]:
        with self._changed:
            return {r.message["Message-ID"]: r for r in self.received}


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a new self-signed certificate for 127.0.0.1 and localhost, and
    the certificate's PEM file (the CA a client must trust)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
