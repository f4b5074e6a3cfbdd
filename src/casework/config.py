"""Settings: one place for every knob, filled from ``casework serve`` flags or ``CASEWORK_*``."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = Path("casework-data")
    database_url: str | None = None
    attachment_set_ttl: int = 3600  # seconds an attachment set stays usable (AWS: one hour)
    max_body_bytes: int = 32 * 1024 * 1024  # 3 attachments of 5 MB, base64, with room to spare
    threads: int = 8  # PostgreSQL: connections for requests' reads, as many for writes
    workers: int = 1  # server processes sharing the port
    log_level: str = "info"
    access_log: bool = False  # one line per request (off by default, as moto and LocalStack)
    log_format: str = "text"  # or "json": one object per line
    # Untrusted clients (wire/http.py): how long headers and a stalled body may take, how
    # long an idle connection stays open, how many connections may be open, how much memory
    # request bodies may hold together.
    header_timeout: float = 30.0
    body_timeout: float = 30.0
    keep_alive_timeout: float = 75.0  # above load balancers' idle timeouts (ALB: 60 s)
    max_connections: int = 4096
    max_body_memory: int = 256 * 1024 * 1024
    # Proxies whose X-Forwarded-Proto is believed: the scheme a client used decides
    # presigned URLs and the console's Origin check and Secure cookie.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    allow_reset: bool = False  # POST /_casework/reset wipes every table (test suites only)
    # Keys: whether the out-of-the-box test/test key exists (off for shared deployments), and
    # the master key that seals secrets (CASEWORK_MASTER_KEY; else <data dir>/master.key).
    default_key: bool = True
    faults: Path | None = None  # fault-injection rules (--faults); None: off
    master_key: str | None = field(default=None, repr=False)
    # AWS Support: catalog, plans, limits, Trusted Advisor, the support side of cases.
    catalog: Path | None = None  # operator's catalog file, merged over the packaged one
    default_plan: str = "business"  # plan of accounts without one of their own
    max_open_cases: int = 0  # open cases per account before CaseCreationLimitExceeded; 0: off
    attachment_set_limit: int = 0  # new attachment sets per account per limit_window; 0: off
    attachment_download_limit: int = 0  # DescribeAttachment calls per limit_window; 0: off
    limit_window: float = 60.0  # seconds: the "short period" of the two limits above
    throttle_rate: float = 0.0  # requests/s per account and operation (ThrottlingException); 0: off
    throttle_burst: int = 10  # token bucket size for throttle_rate
    advisor_refresh_cooldown: float = 3600.0  # seconds between refreshes of a TA check (AWS: 1 h)
    advisor_refresh_duration: float = 10.0  # seconds a TA refresh takes (enqueued, processing)
    reopen_window: float = 14 * 86400.0  # seconds a resolved case can be reopened (AWS: 14 days)
    # AWS Support large-file uploads (AWS publishes none of these numbers; see support/uploads).
    upload_ttl: int = 86400  # seconds an unattached upload lives (then UploadIdNotFound)
    upload_part_size: int = 10 * 1024 * 1024  # partSizeBytes of new uploads (model max 100 MB)
    attachment_link_ttl: int = 3600  # seconds presigned upload/download URLs stay valid
    # Amazon Connect Cases: seconds a StartMergeCases stays IN_PROGRESS before it is applied.
    merge_duration: float = 1.0
    # SearchCases: the largest index answer read whole and sorted (larger ones are walked in
    # sort order), and the number of matches totalCount counts exactly (see cases/search.py).
    search_drive_limit: int = 1000
    search_total_cap: int = 10_000
    search_walk_cases: int = 32_000
    console_session_ttl: int = 12 * 3600  # seconds an agent's console session lasts
    # Case events (outbox/): where they go and how often a delivery is tried.
    event_max_attempts: int = 10  # failed deliveries before a message is dead
    event_webhooks: tuple[str, ...] = ()  # URLs each event is POSTed to
    event_webhook_secret: str | None = field(default=None, repr=False)  # HMAC-SHA256 key
    eventbridge_endpoint: str | None = None  # PutEvents endpoint; "aws": boto3's own
    eventbridge_bus: str = "default"
    eventbridge_source_prefix: str | None = None  # replaces "aws." in sources (real buses)
    # E-mail of case communications (support/mail.py): off until smtp_host is set.
    smtp_host: str | None = None
    smtp_port: int = 0  # 0: the security mode's port (25, 587 with STARTTLS, 465 with TLS)
    smtp_starttls: bool = False  # upgrade the connection with STARTTLS (required to succeed)
    smtp_tls: bool = False  # connect with TLS from the first byte (SMTPS)
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)  # CASEWORK_SMTP_PASSWORD only
    smtp_ca_file: Path | None = None  # CA certificates to trust instead of the system's
    smtp_timeout: float = 30.0  # seconds one SMTP conversation may stall
    mail_from: str | None = None  # From: of every message; default casework@<this host>

    def to_json(self) -> str:
        """These settings as JSON (for ``serve --workers``, whose processes are spawned)."""
        return json.dumps({k: str(v) if isinstance(v, Path) else v
                           for k, v in dataclasses.asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        values = json.loads(text)
        for f in dataclasses.fields(cls):
            if f.name in values and values[f.name] is not None and "Path" in str(f.type):
                values[f.name] = Path(values[f.name])
        return cls(**values)

    @property
    def url(self) -> str:
        """The database URL: the given one, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'casework.db').resolve()}"
