"""The pytest plugin (``pip install 'casework[pytest]'``): the ``casework`` fixture.

``casework`` is a :class:`casework.testing.RunningServer`, started once per test session
(``--ephemeral`` on a free port) and stopped at the end::

    def test_create_case(casework):
        support = casework.client("support")
        case_id = support.create_case(subject="Hi", communicationBody="there")["caseId"]

Options: ``--casework-reset`` (or ``casework_reset = true`` in the ini file) wipes all state
before every test that uses the fixture; ``casework_args`` in the ini file adds
``casework serve`` options (e.g. ``casework_args = --attachment-set-ttl 5``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testing import RunningServer, running_server


def pytest_addoption(parser) -> None:
    group = parser.getgroup("casework", "Casework server")
    group.addoption("--casework-reset", action="store_true", default=None,
                    help="Reset the casework server's state before each test that uses it.")
    parser.addini("casework_reset", type="bool", default=False,
                  help="Reset the casework server's state before each test that uses it.")
    parser.addini("casework_args", type="args", default=[],
                  help="More `casework serve` options for the casework fixture's server.")


@pytest.fixture(scope="session")
def casework(pytestconfig) -> Iterator[RunningServer]:
    """An ephemeral Casework server for the whole session: ``endpoint_url``,
    ``client(service_name)``, ``reset()``."""
    with running_server(*pytestconfig.getini("casework_args")) as server:
        yield server


@pytest.fixture(autouse=True)
def _casework_reset(request) -> None:
    """With --casework-reset / casework_reset, each test using ``casework`` starts empty."""
    config = request.config
    wanted = config.getoption("casework_reset")
    if wanted is None:
        wanted = config.getini("casework_reset")
    if wanted and "casework" in request.fixturenames:
        request.getfixturevalue("casework").reset()
