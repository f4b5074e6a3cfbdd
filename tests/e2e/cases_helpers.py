"""Helpers shared by the Connect Cases end-to-end tests."""

from __future__ import annotations

import uuid

from conftest import error_of


def code_of(call, **params) -> tuple[str, int]:
    """(error code, HTTP status) of a call that must fail."""
    response = error_of(call, **params)
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def new_domain(client, name: str | None = None) -> str:
    """A fresh domain's id."""
    return client.create_domain(name=name or f"d-{uuid.uuid4().hex[:12]}")["domainId"]


def new_template(client, domain_id: str, **extra) -> str:
    return client.create_template(domainId=domain_id, name=f"t-{uuid.uuid4().hex[:8]}",
                                  **extra)["templateId"]


def text(value: str) -> dict:
    return {"stringValue": value}


def new_case(client, domain_id: str, template_id: str, title: str = "Refund", **extra) -> str:
    fields = [{"id": "title", "value": text(title)}, *extra.pop("fields", [])]
    return client.create_case(domainId=domain_id, templateId=template_id, fields=fields,
                              **extra)["caseId"]


def account_client(server, account_id: str):
    """A connectcases client of a fresh account: domain quotas (5) are per account, so each
    test module works in an account of its own."""
    key, secret = server.new_account(account_id)
    return server.client("connectcases", key=key, secret=secret)
