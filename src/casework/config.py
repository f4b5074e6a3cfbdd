"""Settings: one place for every knob, filled from ``casework serve`` flags or ``CASEWORK_*``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = Path("casework-data")
    database_url: str | None = None
    attachment_set_ttl: int = 3600  # seconds an attachment set stays usable (AWS: one hour)
    max_body_bytes: int = 32 * 1024 * 1024  # 3 attachments of 5 MB, base64, with room to spare
    threads: int = 32  # worker threads, and database connections
    log_level: str = "info"

    @property
    def url(self) -> str:
        """The database URL: the given one, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'casework.db').resolve()}"
