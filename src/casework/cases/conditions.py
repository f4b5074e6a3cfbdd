"""Case rule conditions: their limits and how they evaluate against a case's values.

A rule walks its ``conditions`` in order; the first that holds supplies its ``result``, and the
rule's ``defaultValue`` applies when none holds. An ``equalTo``/``notEqualTo`` holds when the
comparison of the field's value with ``operandTwo`` does (``emptyValue`` means "has no value").
Compound conditions carry no ``result`` of their own, so they supply the result of the inner
condition that decided them: for ``andAll`` the first inner one (all held), for ``orAll`` the
first inner one that held.
"""

from __future__ import annotations

from .errors import invalid

MAX_CONDITIONS = 5
MAX_LEVELS = 2
_COMPOUND = ("andAll", "orAll")


def check_limits(conditions: list[dict]) -> None:
    """At most 5 comparisons in all, across at most 2 levels (the model's documented limit)."""
    count = 0

    def walk(items: list[dict], level: int) -> None:
        nonlocal count
        if level > MAX_LEVELS:
            raise invalid(f"A case rule can nest conditions at most {MAX_LEVELS} levels deep")
        for condition in items:
            kind, body = next(iter(condition.items()))
            if kind in _COMPOUND:
                walk(body["conditions"], level + 1)
            else:
                count += 1
    walk(conditions, 1)
    if count > MAX_CONDITIONS:
        raise invalid(f"A case rule can have at most {MAX_CONDITIONS} conditions, not {count}")


def field_ids(conditions: list[dict]) -> set[str]:
    """Every field a list of conditions reads."""
    found = set()
    for condition in conditions:
        kind, body = next(iter(condition.items()))
        if kind in _COMPOUND:
            found |= field_ids(body["conditions"])
        else:
            found.add(body["operandOne"]["fieldId"])
    return found


def _compare(operands: dict, values: dict[str, dict]) -> bool:
    stored = values.get(operands["operandOne"]["fieldId"])
    kind, expected = next(iter(operands["operandTwo"].items()))
    if kind == "emptyValue":
        return stored is None
    if stored is None:
        return False
    stored_kind, actual = next(iter(stored.items()))
    if kind == "stringValue":
        return stored_kind in ("stringValue", "userArnValue") and actual == expected
    return stored_kind == kind and actual == expected


def _decide(condition: dict, values: dict[str, dict]) -> tuple[bool, bool]:
    """(whether the condition holds, the result it supplies when it does)."""
    kind, body = next(iter(condition.items()))
    if kind in ("equalTo", "notEqualTo"):
        held = _compare(body, values)
        return (held if kind == "equalTo" else not held), body["result"]
    decided = [_decide(inner, values) for inner in body["conditions"]]
    if kind == "andAll":
        return bool(decided) and all(h for h, _ in decided), decided[0][1] if decided else False
    for held, result in decided:
        if held:
            return True, result
    return False, False


def evaluate(rule: dict, values: dict[str, dict]) -> bool:
    """The value of a required or hidden rule for a case holding ``values``."""
    for condition in rule["conditions"]:
        held, result = _decide(condition, values)
        if held:
            return result
    return rule["defaultValue"]
