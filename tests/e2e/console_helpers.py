"""The agent console in a real browser: Debian's Chromium, headless, driven by Playwright."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"  # Debian's package; scripts/test installs it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
PASSWORD = "a long agent password 1"


def create_agent(server, *grant: str, password: str = PASSWORD) -> str:
    """A new console agent granted ``grant`` (``--accounts ...`` or ``--all``); its e-mail."""
    email = f"agent-{uuid.uuid4().hex[:10]}@example.com"
    subprocess.run(
        [sys.executable, "-m", "casework", "agents", "create", email, *grant,
         "--password-stdin", "--data-dir", str(server.data_dir),
         "--database-url", server.database_url],
        input=password + "\n", capture_output=True, text=True, env=server.env, check=True)
    return email


def sign_in(page: Page, server, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.endpoint}/console")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
