"""Field filters (``equalTo``, ``contains``, ``greaterThan``, ...; ``not``/``andAll``/``orAll``)
evaluated against a set of field values.

``contains`` is a case-insensitive substring match on string values (AWS search is
keyword-based and case-insensitive); comparisons need the stored value and the operand to be
of the same member kind, and compare numbers numerically and strings (DateTime values are
normalized ISO strings) lexicographically; a field without a value satisfies no positive
filter.
"""

from __future__ import annotations

import operator

from .errors import invalid

# The model bounds each andAll and orAll to 10 members but not how deep they nest: ten wide
# and four deep is 11,111 nodes, which took a server seconds to compile. AWS documents no
# bound; this one admits a full tree ten wide and two deep (111 nodes).
MAX_NODES = 200

_ORDER = {"greaterThan": operator.gt, "greaterThanOrEqualTo": operator.ge,
          "lessThan": operator.lt, "lessThanOrEqualTo": operator.le}


def _field(test: str, operand: dict, values: dict[str, dict]) -> bool:
    stored = values.get(operand["id"])
    kind, expected = next(iter(operand["value"].items()))
    if kind == "emptyValue":
        return stored is None if test == "equalTo" else False
    if stored is None or kind not in stored:
        return False
    actual = stored[kind]
    if test == "equalTo":
        return actual == expected
    if test == "contains":
        return isinstance(actual, str) and expected.lower() in actual.lower()
    if actual is None or isinstance(actual, bool):  # None: a NaN an older release kept as null
        return False
    return _ORDER[test](actual, expected)


def matches(filter_: dict, values: dict[str, dict]) -> bool:
    """Whether ``values`` (``{field id: union}``) satisfy a field filter tree."""
    kind, body = next(iter(filter_.items()))
    if kind == "field":
        test, operand = next(iter(body.items()))
        return _field(test, operand, values)
    if kind == "not":
        return not matches(body, values)
    if kind == "andAll":
        return all(matches(inner, values) for inner in body)
    if kind == "orAll":
        return any(matches(inner, values) for inner in body)
    raise ValueError(f"unknown filter member {kind}")


def check_size(trees: list[dict]) -> None:
    """Refuse a request whose filter trees hold more than ``MAX_NODES`` nodes together."""
    waiting, nodes = list(trees), 0
    while waiting:
        nodes += 1
        if nodes > MAX_NODES:
            raise invalid(f"A search's filters may hold at most {MAX_NODES} nodes in all "
                          "(each field, tag, not, andAll and orAll counts one)")
        kind, body = next(iter(waiting.pop().items()))
        if kind == "not":
            waiting.append(body)
        elif kind in ("andAll", "orAll"):
            waiting.extend(body)


def custom_trees(wanted: list[dict]) -> list[dict]:
    """The field filter trees of related-item type filters (their ``custom.fields``)."""
    return [spec["custom"]["fields"] for spec in wanted
            if "custom" in spec and spec["custom"].get("fields") is not None]
