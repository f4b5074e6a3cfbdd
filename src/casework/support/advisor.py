"""Trusted Advisor: the five operations, the check catalog and operator-loaded results.

Casework cannot look inside real AWS accounts, so results come from operators
(``casework advisor load FILE``); a check without a loaded result reports ``not_available``.
A refresh is a real state machine over the clock: ``enqueued`` for the first half of
``advisor_refresh_duration``, ``processing`` for the second half, then ``success``, which moves
the result's timestamp to the moment the refresh finished. ``millisUntilNextRefreshable`` counts
down from ``advisor_refresh_cooldown`` (AWS: one hour); a refresh asked for during the cool-down
changes nothing and reports the current state (third-party write-ups describe AWS so).

Errors follow the forms seen from AWS: ``Unknown ID: <id>`` and
``[UNREFRESHABLE_CHECK_ID_ERROR] Check <id> is not refreshable.``, both
``InvalidParameterValueException`` (400). A language AWS does not list is refused the same way
(AWS is silent on it).

Check names come in the languages AWS publishes them in: ``data/advisor_checks.json`` names its
sources (AWS's localized Trusted Advisor check reference). A listed language without a
published name for a check answers with the English name; no translation is made up here. The
check ``category`` is a code, the same in every language.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson

from ..handlers import Context
from ..wire.errors import ServiceError
from . import registry
from .queries import advisor as advisor_queries
from .queries import cases as case_queries
from .times import parse_time

# The languages the model lists for DescribeTrustedAdvisorChecks.
LANGUAGES = ("zh", "zh_TW", "en", "fr", "de", "id", "it", "ja", "ko", "pt_BR", "es")
CATEGORIES = ("cost_optimizing", "security", "fault_tolerance", "performance", "service_limits")
CHECK_STATUSES = ("ok", "warning", "error", "not_available")
RESOURCE_STATUSES = ("ok", "warning", "error")


@dataclass(frozen=True)
class Check:
    id: str
    names: dict[str, str]
    descriptions: dict[str, str]
    category: str
    metadata: tuple[str, ...]
    refreshable: bool


def _per_language(value: Any) -> dict[str, str]:
    return {"en": value} if isinstance(value, str) else dict(value)


@functools.cache
def checks() -> dict[str, Check]:
    """The packaged check catalog by id (ids, names, categories and columns are AWS's)."""
    text = resources.files(__package__).joinpath("data", "advisor_checks.json").read_text("utf-8")
    return {
        entry["id"]: Check(
            id=entry["id"], names=_per_language(entry["name"]),
            descriptions=_per_language(entry["description"]), category=entry["category"],
            metadata=tuple(entry["metadata"]), refreshable=entry.get("refreshable", True))
        for entry in json.loads(text)["checks"]
    }


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message, 400)


def _check(check_id: str) -> Check:
    found = checks().get(check_id)
    if found is None:
        raise _invalid(f"Unknown ID: {check_id}")
    return found


def _refreshable(check_id: str) -> Check:
    check = _check(check_id)
    if not check.refreshable:
        raise _invalid(f"[UNREFRESHABLE_CHECK_ID_ERROR] Check {check_id} is not refreshable.")
    return check


def _language(language: str | None) -> str:
    if language is not None and language not in LANGUAGES:
        raise _invalid(f"Unsupported language: {language}. Supported languages: "
                       f"{', '.join(LANGUAGES)}.")
    return language or "en"


def _timestamp(ms: int) -> str:
    """``2020-05-13T21:38:05Z``: Trusted Advisor's form, seconds without fractions."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _refresh_state(ctx: Context, check_id: str, requested_at: int | None) -> dict:
    if requested_at is None:
        return {"checkId": check_id, "status": "none", "millisUntilNextRefreshable": 0}
    duration = int(ctx.settings.advisor_refresh_duration * 1000)
    # A refresh cannot be asked for again before the running one has finished.
    cooldown = max(int(ctx.settings.advisor_refresh_cooldown * 1000), duration)
    elapsed = ctx.now - requested_at
    if elapsed < duration / 2:
        status = "enqueued"
    elif elapsed < duration:
        status = "processing"
    else:
        status = "success"
    return {"checkId": check_id, "status": status,
            "millisUntilNextRefreshable": max(0, cooldown - elapsed)}


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _summaries(ctx: Context, check_ids: list[str]) -> list[dict]:
    """Result summaries (with ``flaggedResources`` kept aside) for known check ids."""
    results = advisor_queries.results_of(ctx.conn, ctx.account_id, check_ids)
    refreshes = advisor_queries.refreshes_of(ctx.conn, ctx.account_id, check_ids)
    duration = int(ctx.settings.advisor_refresh_duration * 1000)
    created = None
    out = []
    for check_id in check_ids:
        row = results.get(check_id)
        if row is None:
            if created is None:
                created = case_queries.account_created_at(ctx.conn, ctx.account_id)
            checked_at, flagged = created, []
        else:
            checked_at, flagged = row.checked_at, orjson.loads(row.flagged_resources)
        requested_at = refreshes.get(check_id)
        if requested_at is not None and ctx.now >= requested_at + duration:
            checked_at = max(checked_at, requested_at + duration)
        out.append({
            "checkId": check_id,
            "timestamp": _timestamp(checked_at),
            "status": row.status if row else "not_available",
            "hasFlaggedResources": bool(flagged),
            "resourcesSummary": {
                "resourcesProcessed": row.resources_processed if row else 0,
                "resourcesFlagged": row.resources_flagged if row else 0,
                "resourcesIgnored": row.resources_ignored if row else 0,
                "resourcesSuppressed": row.resources_suppressed if row else 0,
            },
            # AWS reports the cost summary for every check, zeros for non-cost ones.
            "categorySpecificSummary": {"costOptimizing": {
                "estimatedMonthlySavings": row.estimated_monthly_savings if row else 0.0,
                "estimatedPercentMonthlySavings":
                    row.estimated_percent_monthly_savings if row else 0.0,
            }},
            "flaggedResources": flagged,
        })
    return out


@registry.operation("DescribeTrustedAdvisorChecks", writes=False)
def describe_trusted_advisor_checks(ctx: Context, params: dict) -> dict:
    language = _language(params["language"])
    return {"checks": [
        {
            "id": check.id,
            "name": check.names.get(language) or check.names["en"],
            "description": check.descriptions.get(language) or check.descriptions["en"],
            "category": check.category,
            "metadata": list(check.metadata),
        }
        for check in checks().values()
    ]}


@registry.operation("DescribeTrustedAdvisorCheckResult", writes=False)
def describe_trusted_advisor_check_result(ctx: Context, params: dict) -> dict:
    _language(params.get("language"))
    check_id = _check(params["checkId"]).id
    summary = _summaries(ctx, [check_id])[0]
    summary.pop("hasFlaggedResources")
    return {"result": summary}


@registry.operation("DescribeTrustedAdvisorCheckSummaries", writes=False)
def describe_trusted_advisor_check_summaries(ctx: Context, params: dict) -> dict:
    check_ids = [_check(check_id).id for check_id in _unique(params["checkIds"])]
    summaries = _summaries(ctx, check_ids)
    for summary in summaries:
        summary.pop("flaggedResources")
    return {"summaries": summaries}


@registry.operation("RefreshTrustedAdvisorCheck", writes=True)
def refresh_trusted_advisor_check(ctx: Context, params: dict) -> dict:
    check_id = _refreshable(params["checkId"]).id
    requested_at = advisor_queries.refreshes_of(ctx.conn, ctx.account_id, [check_id]).get(check_id)
    state = _refresh_state(ctx, check_id, requested_at)
    if state["millisUntilNextRefreshable"] == 0:
        advisor_queries.request_refresh(ctx.conn, ctx.account_id, check_id, ctx.now)
        state = _refresh_state(ctx, check_id, ctx.now)
    return {"status": state}


@registry.operation("DescribeTrustedAdvisorCheckRefreshStatuses", writes=False)
def describe_trusted_advisor_check_refresh_statuses(ctx: Context, params: dict) -> dict:
    check_ids = [_refreshable(check_id).id for check_id in _unique(params["checkIds"])]
    refreshes = advisor_queries.refreshes_of(ctx.conn, ctx.account_id, check_ids)
    return {"statuses": [_refresh_state(ctx, check_id, refreshes.get(check_id))
                         for check_id in check_ids]}


# --- loading results (``casework advisor load``) ----------------------------------------------

class ResultsError(ValueError):
    """A results file that cannot be loaded; the message says where and why."""


def _count(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ResultsError(f"{where}: must be a whole number, 0 or more")
    return value


def _number(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ResultsError(f"{where}: must be a number")
    return float(value)


def _flagged(item: Any, check: Check, where: str) -> dict:
    if not isinstance(item, dict):
        raise ResultsError(f"{where}: must be an object")
    if item.get("status") not in RESOURCE_STATUSES:
        raise ResultsError(f"{where}.status: must be one of {', '.join(RESOURCE_STATUSES)}")
    if not isinstance(item.get("resourceId"), str) or not item["resourceId"]:
        raise ResultsError(f"{where}.resourceId: must be a non-empty string")
    metadata = item.get("metadata", [])
    if not isinstance(metadata, list) or not all(isinstance(v, str) for v in metadata):
        raise ResultsError(f"{where}.metadata: must be a list of strings")
    if check.metadata and len(metadata) != len(check.metadata):
        raise ResultsError(f"{where}.metadata: check {check.id} has {len(check.metadata)} "
                           f"columns ({', '.join(check.metadata)}), this has {len(metadata)}")
    out: dict = {"status": item["status"]}
    if item.get("region") is not None:
        if not isinstance(item["region"], str):
            raise ResultsError(f"{where}.region: must be a string")
        out["region"] = item["region"]
    out["resourceId"] = item["resourceId"]
    out["isSuppressed"] = bool(item.get("isSuppressed", False))
    out["metadata"] = metadata
    return out


def _result(entry: Any, where: str, now: int) -> dict:
    if not isinstance(entry, dict):
        raise ResultsError(f"{where}: must be an object")
    check = checks().get(entry.get("checkId"))
    if check is None:
        raise ResultsError(f"{where}.checkId: unknown check {entry.get('checkId')!r} "
                           "(`casework advisor checks` lists them)")
    if entry.get("status") not in CHECK_STATUSES:
        raise ResultsError(f"{where}.status: must be one of {', '.join(CHECK_STATUSES)}")
    flagged_in = entry.get("flaggedResources", [])
    if not isinstance(flagged_in, list):
        raise ResultsError(f"{where}.flaggedResources: must be a list")
    flagged = [_flagged(item, check, f"{where}.flaggedResources[{i}]")
               for i, item in enumerate(flagged_in)]
    summary = entry.get("resourcesSummary") or {}
    suppressed = sum(1 for item in flagged if item["isSuppressed"])
    # Counts left out are derived from the flagged resources.
    defaults = {"resourcesProcessed": len(flagged), "resourcesFlagged": len(flagged) - suppressed,
                "resourcesIgnored": 0, "resourcesSuppressed": suppressed}
    counts = {key: _count(summary.get(key, default), f"{where}.resourcesSummary.{key}")
              for key, default in defaults.items()}
    cost = (entry.get("categorySpecificSummary") or {}).get("costOptimizing") or {}
    timestamp = entry.get("timestamp")
    try:
        checked_at = parse_time(timestamp.replace("Z", "+00:00"), "timestamp") \
            if isinstance(timestamp, str) else now
    except ServiceError:
        raise ResultsError(f"{where}.timestamp: must be an ISO 8601 date-time") from None
    return {
        "check_id": check.id,
        "status": entry["status"],
        "checked_at": checked_at,
        "resources_processed": counts["resourcesProcessed"],
        "resources_flagged": counts["resourcesFlagged"],
        "resources_ignored": counts["resourcesIgnored"],
        "resources_suppressed": counts["resourcesSuppressed"],
        "estimated_monthly_savings": _number(cost.get("estimatedMonthlySavings", 0.0),
                                             f"{where}.estimatedMonthlySavings"),
        "estimated_percent_monthly_savings": _number(
            cost.get("estimatedPercentMonthlySavings", 0.0),
            f"{where}.estimatedPercentMonthlySavings"),
        "flagged_resources": flagged,
    }


def parse_results(document: Any, now: int) -> list[dict]:
    """Rows from a results document: a list of results shaped like
    DescribeTrustedAdvisorCheckResult's ``result``, ``{"results": [...]}``, or a saved
    ``{"result": {...}}`` response as the AWS CLI prints it."""
    if isinstance(document, dict) and "result" in document:
        entries = [document["result"]]
    elif isinstance(document, dict) and "results" in document:
        entries = document["results"]
    else:
        entries = document
    if not isinstance(entries, list):
        raise ResultsError("expected a list of results, {\"results\": [...]} or "
                           "{\"result\": {...}}")
    return [_result(entry, f"results[{i}]", now) for i, entry in enumerate(entries)]


def load_results(conn, account_id: str, rows: list[dict], replace: bool) -> None:
    """Store parsed results for the account (``replace``: drop its other results first)."""
    if replace:
        advisor_queries.delete_results(conn, account_id)
    for row in rows:
        advisor_queries.store_result(conn, account_id, row)
