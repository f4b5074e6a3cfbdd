"""The README's examples run as written: its shell blocks, in order, against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import start_server

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^ *```(\w+)\n(.*?)^ *```", re.MULTILINE | re.DOTALL)
# Blocks that start servers or install things (the test provides the server and the venv),
# and the million-case seed (tests/e2e/test_seed.py seeds a small store).
NOT_HERE = ("casework serve", "scripts/test", "bench/", "casework seed")


def blocks(language: str) -> list[str]:
    found = []
    for kind, body in BLOCK.findall(README.read_text()):
        if kind == language and not any(marker in body for marker in NOT_HERE):
            lines = [line[2:] if line.startswith("  ") else line for line in body.splitlines()]
            found.append("\n".join(line for line in lines
                                   if not line.startswith(".venv/bin/pip ")))
    return found


def test_the_readme_shell_examples_run_as_pasted(tmp_path):
    running = start_server(tmp_path)
    try:
        work = tmp_path / "checkout"
        work.mkdir()
        (work / ".venv").symlink_to(sys.prefix)  # the README calls .venv/bin/...
        script = "set -euo pipefail\n" + "\n".join(blocks("sh"))
        script = script.replace("http://127.0.0.1:4566", running.endpoint)
        assert "aws connectcases list-cases-for-contact" in script  # the walkthrough is there
        assert "add-attachments-to-set" in script
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CASEWORK_", "AWS_"))}
        env.update(CASEWORK_DATA_DIR=str(running.data_dir),
                   CASEWORK_DATABASE_URL=running.database_url,
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert '"body": "Logs attached"' in out  # describe-communications
        assert "AKIAEXAMPLECI0000001\t111122223333" in out  # keys list
        assert "deleted AKIAEXAMPLECI0000001" in out
        assert '{"cases":[{"caseId":"case-000000000000-muen-' in out  # the agent's case list
        assert '"body":"Logs attached"' in out  # the agent reads the thread
        assert '"status":"pending-customer-action"' in out  # the agent's reply
        # list-cases-for-contact, last, finds the case the walkthrough related to the contact
        after = out.rsplit('"relatedItemId"', 1)[1]
        assert re.search(r'"cases": \[\s*\{\s*"caseId": "[^"]+"', after)

        python = [block for block in blocks("python") if "boto3.client(" in block]
        assert python
        code = python[0].replace("http://127.0.0.1:4566", running.endpoint)
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        subjects = [c["subject"] for c in running.client("support").describe_cases()["cases"]]
        assert subjects.count("Instance unreachable") == 2  # the CLI's case and boto3's
    finally:
        running.stop()
