"""The service catalog: DescribeServices, DescribeSeverityLevels, DescribeCreateCaseOptions,
DescribeSupportedLanguages, and the checks CreateCase makes against it.

The catalog ships as package data (``data/catalog.json``): the service and category codes that
appear in public AWS material, the five severity levels, the case languages and the ways AWS
can be reached. Operators merge their own file over it (``--catalog PATH``):

* ``"replace": true`` at the top starts from an empty catalog instead of the packaged one;
* ``services``, ``languages``, ``severityLevels`` and ``communicationTypes`` entries replace
  the packaged entry with the same ``code`` (``type``), or are added after the others; an entry
  with ``"remove": true`` deletes it;
* ``issueTypes`` replaces the list.

Names (services, categories, severity levels) are a string (English) or an object of names
per language code; a language without a name of its own gets the English one. The packaged
entries carry English names only: no public AWS material gives the severity, category or
service names DescribeServices and DescribeSeverityLevels answer in other languages, and
Casework does not make names up. AWS product names stay in English in AWS's own localized
pages. An operator's catalog may bring names in any language. A language is looked up as
given, then by its base (``pt_BR`` -> ``pt``; ``zh-TW`` is read as ``zh_TW``), then English;
a Chinese variant never falls back to ``zh`` (Simplified Chinese is not Traditional Chinese).

Choices where AWS is silent: unknown codes in ``serviceCodeList`` are left out, not refused;
a code that is not in the catalog, or a severity the plan does not offer, is refused with an
``InvalidParameterValueException`` (400), the error the Support API already uses for bad
values; a language outside the catalog is ``unavailable`` to DescribeCreateCaseOptions.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..handlers import Context
from ..wire.errors import ServiceError
from . import registry
from .plans import plan_of

DEFAULT_LANGUAGE = "en"
# When CreateCase names no category, the service's most general one is meant.
GENERAL_CATEGORIES = ("using-aws", "general-guidance", "other")


class CatalogError(ValueError):
    """The catalog file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Catalog:
    services: dict[str, dict]  # code -> {"name": names, "categories": {code: names}}
    severity_levels: dict[str, dict]  # code -> names, in severity order
    languages: dict[str, dict]  # code -> {"language", "display", "availability"}
    issue_types: tuple[str, ...]
    communication_types: dict[str, dict]  # type -> {"supportedHours", "datesWithoutSupport"}


def localized(names: dict[str, str], language: str | None) -> str:
    """The name in ``language`` (or its base language) when there is one, else English."""
    if language:
        wanted = language.replace("-", "_")
        base = wanted.split("_")[0]
        for code in (wanted, base) if base != "zh" else (wanted,):
            if names.get(code):
                return names[code]
    return names[DEFAULT_LANGUAGE]


def _names(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str) and value:
        return {DEFAULT_LANGUAGE: value}
    if isinstance(value, dict) and isinstance(value.get(DEFAULT_LANGUAGE), str) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise CatalogError(f"{where}: a name must be a string or an object of names per language "
                       "with at least an \"en\" name")


def _merge(base: dict[str, Any], entries: Any, key: str, where: str, build) -> None:
    if entries is None:
        return
    if not isinstance(entries, list):
        raise CatalogError(f"{where}: must be a list")
    for i, entry in enumerate(entries):
        here = f"{where}[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get(key), str) or not entry[key]:
            raise CatalogError(f"{here}: must be an object with a \"{key}\"")
        if entry.get("remove"):
            base.pop(entry[key], None)
        else:
            base[entry[key]] = build(entry, here)


def _service(entry: dict, where: str) -> dict:
    categories: dict[str, dict] = {}
    _merge(categories, entry.get("categories", []), "code", f"{where}.categories",
           lambda c, w: _names(c.get("name"), w))
    return {"name": _names(entry.get("name"), where), "categories": categories}


def _language(entry: dict, where: str) -> dict:
    availability = entry.get("availability", "available")
    if availability not in ("available", "best_effort", "unavailable"):
        raise CatalogError(f"{where}: availability must be available, best_effort or "
                           "unavailable")
    return {"language": str(entry.get("language") or entry["code"].upper()),
            "display": str(entry.get("display") or entry.get("language") or entry["code"]),
            "availability": availability}


def _communication_type(entry: dict, where: str) -> dict:
    if entry["type"] not in ("web", "chat", "call"):
        raise CatalogError(f"{where}: type must be web, chat or call")
    hours = entry.get("supportedHours", [])
    dates = entry.get("datesWithoutSupport", [])
    for name, items, keys in (("supportedHours", hours, ("startTime", "endTime")),
                              ("datesWithoutSupport", dates, ("startDateTime", "endDateTime"))):
        if not isinstance(items, list) or not all(
                isinstance(item, dict) and all(isinstance(item.get(k), str) for k in keys)
                for item in items):
            raise CatalogError(f"{where}.{name}: must be a list of {{{', '.join(keys)}}}")
    return {"supportedHours": [{k: h[k] for k in ("startTime", "endTime")} for h in hours],
            "datesWithoutSupport": [{k: d[k] for k in ("startDateTime", "endDateTime")}
                                    for d in dates]}


def _apply(parts: dict, document: Any, source: str) -> None:
    if not isinstance(document, dict):
        raise CatalogError(f"{source}: the catalog must be a JSON object")
    if document.get("replace"):
        for value in parts.values():
            value.clear()
    _merge(parts["services"], document.get("services"), "code", f"{source}: services",
           _service)
    _merge(parts["severity_levels"], document.get("severityLevels"), "code",
           f"{source}: severityLevels", lambda e, w: _names(e.get("name"), w))
    _merge(parts["languages"], document.get("languages"), "code", f"{source}: languages",
           _language)
    _merge(parts["communication_types"], document.get("communicationTypes"), "type",
           f"{source}: communicationTypes", _communication_type)
    issue_types = document.get("issueTypes")
    if issue_types is not None:
        if not isinstance(issue_types, list) or not all(isinstance(t, str) for t in issue_types):
            raise CatalogError(f"{source}: issueTypes must be a list of strings")
        parts["issue_types"] = dict.fromkeys(issue_types)


@functools.cache
def load_catalog(path: Path | None) -> Catalog:
    """The packaged catalog with the operator's file (if any) merged over it; cached."""
    parts: dict[str, dict] = {"services": {}, "severity_levels": {}, "languages": {},
                              "issue_types": {}, "communication_types": {}}
    packaged = resources.files(__package__).joinpath("data", "catalog.json").read_text("utf-8")
    _apply(parts, json.loads(packaged), "packaged catalog")
    if path is not None:
        try:
            document = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as error:
            raise CatalogError(f"{path}: {error}") from None
        _apply(parts, document, str(path))
    unknown = set(parts["severity_levels"]) - {"low", "normal", "high", "urgent", "critical"}
    if unknown:
        raise CatalogError(f"severityLevels: unknown codes {sorted(unknown)}; AWS has low, "
                           "normal, high, urgent and critical")
    return Catalog(services=parts["services"], severity_levels=parts["severity_levels"],
                   languages=parts["languages"], issue_types=tuple(parts["issue_types"]),
                   communication_types=parts["communication_types"])


def catalog_of(ctx: Context) -> Catalog:
    return load_catalog(ctx.settings.catalog)


def invalid(member: str, value: str, hint: str) -> ServiceError:
    """The error for a value the catalog or plan does not allow."""
    return ServiceError("InvalidParameterValueException",
                        f"Invalid value '{value}' for {member}. {hint}", 400)


def check_issue_type(catalog: Catalog, issue_type: str) -> None:
    if issue_type not in catalog.issue_types:
        raise invalid("issueType", issue_type,
                      f"Valid values: {', '.join(catalog.issue_types)}.")


def check_service(catalog: Catalog, service_code: str, category_code: str | None) -> str:
    """Check a service and category pair; returns the category (a default when omitted)."""
    service = catalog.services.get(service_code)
    if service is None:
        raise invalid("serviceCode", service_code,
                      "Call DescribeServices for the valid service codes.")
    categories = service["categories"]
    if category_code is None:
        for general in GENERAL_CATEGORIES:
            if general in categories:
                return general
        if not categories:
            raise invalid("serviceCode", service_code, "The service has no categories.")
        return next(iter(categories))
    if category_code not in categories:
        raise invalid("categoryCode", category_code,
                      f"Call DescribeServices for the categories of {service_code}.")
    return category_code


def check_case_options(ctx: Context, params: dict) -> dict:
    """CreateCase's codes, checked against the catalog and the plan, defaults filled in."""
    catalog = catalog_of(ctx)
    issue_type = params.get("issueType") or "technical"
    check_issue_type(catalog, issue_type)
    service_code = params.get("serviceCode") or "general-info"
    category_code = check_service(catalog, service_code, params.get("categoryCode"))
    severity = params.get("severityCode") or "low"
    offered = [code for code in plan_of(ctx).severities if code in catalog.severity_levels]
    if severity not in offered:
        raise invalid("severityCode", severity,
                      f"Severity levels available to this account: {', '.join(offered)}.")
    language = params.get("language") or DEFAULT_LANGUAGE
    found = catalog.languages.get(language)
    if found is None or found["availability"] == "unavailable":
        usable = [code for code, lang in catalog.languages.items()
                  if lang["availability"] != "unavailable"]
        raise invalid("language", language, f"Supported languages: {', '.join(usable)}.")
    return {"issue_type": issue_type, "service_code": service_code,
            "category_code": category_code, "severity_code": severity, "language": language}


@registry.operation("DescribeServices", writes=False)
def describe_services(ctx: Context, params: dict) -> dict:
    catalog = catalog_of(ctx)
    language = params.get("language")
    wanted = params.get("serviceCodeList")
    codes = [c for c in dict.fromkeys(wanted) if c in catalog.services] if wanted \
        else list(catalog.services)
    return {"services": [
        {
            "code": code,
            "name": localized(catalog.services[code]["name"], language),
            "categories": [{"code": cat, "name": localized(names, language)}
                           for cat, names in catalog.services[code]["categories"].items()],
        }
        for code in codes
    ]}


@registry.operation("DescribeSeverityLevels", writes=False)
def describe_severity_levels(ctx: Context, params: dict) -> dict:
    catalog = catalog_of(ctx)
    language = params.get("language")
    return {"severityLevels": [
        {"code": code, "name": localized(catalog.severity_levels[code], language)}
        for code in plan_of(ctx).severities if code in catalog.severity_levels
    ]}


@registry.operation("DescribeCreateCaseOptions", writes=False)
def describe_create_case_options(ctx: Context, params: dict) -> dict:
    catalog = catalog_of(ctx)
    check_issue_type(catalog, params["issueType"])
    check_service(catalog, params["serviceCode"], params["categoryCode"])
    language = catalog.languages.get(params["language"])
    types = [kind for kind in plan_of(ctx).communication_types
             if kind in catalog.communication_types]
    return {
        "languageAvailability": language["availability"] if language else "unavailable",
        "communicationTypes": [{"type": kind, **catalog.communication_types[kind]}
                               for kind in types],
    }


@registry.operation("DescribeSupportedLanguages", writes=False)
def describe_supported_languages(ctx: Context, params: dict) -> dict:
    catalog = catalog_of(ctx)
    check_issue_type(catalog, params["issueType"])
    check_service(catalog, params["serviceCode"], params["categoryCode"])
    return {"supportedLanguages": [
        {"code": code, "language": lang["language"], "display": lang["display"]}
        for code, lang in catalog.languages.items() if lang["availability"] != "unavailable"
    ]}
