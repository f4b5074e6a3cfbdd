"""Coverage is a number, not a claim: count handlers against the installed botocore models."""

from __future__ import annotations

from pathlib import Path

import botocore
import botocore.session

from casework.app import handler_table
from casework.coverage import TABLE_END, TABLE_START, coverage, operations_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_handler_belongs_to_a_modeled_operation():
    session = botocore.session.get_session()
    for service, operation in handler_table():
        assert operation in session.get_service_model(service).operation_names


def test_every_modeled_operation_has_a_handler():
    """Fails as soon as an installed botocore models an operation Casework does not answer."""
    session = botocore.session.get_session()
    found = coverage()
    for service, (done, missing) in found.items():
        modeled = session.get_service_model(service).operation_names
        assert sorted(done + missing) == sorted(modeled)
        print(f"{service} (botocore {botocore.__version__}): {len(done)} of {len(modeled)} "
              f"operations implemented; missing: {', '.join(missing) or 'none'}")
    assert {service: missing for service, (_, missing) in found.items() if missing} == {}


def test_readme_table_is_the_generated_one():
    text = README.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    assert text[start:end] == operations_table(), (
        "README.md's operations table is stale: paste the output of `casework operations`")
