"""The pytest plugin and running_server(), used as a project's own test suite would use them."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from botocore.exceptions import ClientError

from casework.testing import running_server

USER_TESTS = '''
import os

ENDPOINTS = set()


def test_first(casework):
    ENDPOINTS.add(casework.endpoint_url)
    support = casework.client("support")
    support.create_case(subject="from test one", communicationBody="x")
    assert len(support.describe_cases()["cases"]) == EXPECT_FIRST


def test_second(casework):
    ENDPOINTS.add(casework.endpoint_url)
    cases = casework.client("support").describe_cases()["cases"]
    assert len(cases) == int(os.environ["EXPECT_SECOND"])
    assert casework.client("connectcases").list_domains()["domains"] == []


def test_one_server_for_the_session():
    assert len(ENDPOINTS) == 1


def test_serve_options_apply(casework):
    support = casework.client("support")
    limited = os.environ.get("LIMITED") == "1"
    codes = []
    for _ in range(2):
        try:
            support.create_case(subject="limit", communicationBody="x")
        except support.exceptions.CaseCreationLimitExceeded:
            codes.append("limited")
    assert bool(codes) == limited
'''


def run_user_suite(tmp_path, *args: str, ini: str = "", expect_second: int,
                   limited: bool = False) -> str:
    """Run a small test suite in a project of its own that only installed casework."""
    (tmp_path / "test_user.py").write_text(USER_TESTS.replace("EXPECT_FIRST", "1"))
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env["EXPECT_SECOND"] = str(expect_second)
    env["LIMITED"] = "1" if limited else "0"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_plugin_gives_a_session_server_that_keeps_state_by_default(tmp_path):
    assert "4 passed" in run_user_suite(tmp_path, expect_second=1)


def test_the_reset_option_empties_the_server_before_each_test(tmp_path):
    assert "4 passed" in run_user_suite(tmp_path, "--casework-reset", expect_second=0)


def test_the_ini_file_turns_reset_on_and_passes_serve_options(tmp_path):
    ini = "casework_reset = true\ncasework_args = --max-open-cases 1\n"
    out = run_user_suite(tmp_path, ini=ini, expect_second=0, limited=True)
    assert "4 passed" in out


def test_running_server_is_a_context_manager_for_any_runner():
    with running_server("--max-open-cases", "1") as server:
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        support = server.client("support")
        support.create_case(subject="one", communicationBody="x")
        try:
            support.create_case(subject="two", communicationBody="x")
            raise AssertionError("the serve option did not apply")
        except ClientError as error:
            assert error.response["Error"]["Code"] == "CaseCreationLimitExceeded"
        server.reset()
        assert support.describe_cases()["cases"] == []
        data_dir = server.data_dir
        assert (data_dir / "casework.db").is_file()
    assert server.process.returncode == 0
    assert not data_dir.exists()
    try:
        httpx.get(f"{server.endpoint_url}/_casework/health", timeout=2)
        raise AssertionError("the server still answers")
    except httpx.TransportError:
        pass


def test_reset_needs_allow_reset():
    with running_server(allow_reset=False) as server:
        try:
            server.reset()
            raise AssertionError("reset was accepted")
        except RuntimeError as error:
            assert "--allow-reset" in str(error)


def test_the_plugin_is_registered_through_its_entry_point():
    from importlib.metadata import entry_points

    found = [e for e in entry_points(group="pytest11") if e.name == "casework"]
    assert [e.value for e in found] == ["casework.pytest_plugin"]
