"""Support plans per account: who may call the API at all, and which severities they get.

AWS gates the whole Support API on the plan: Basic and Developer accounts get
``SubscriptionRequiredException`` from every operation, Trusted Advisor ones included.
Business offers severities up to ``urgent``; Enterprise On-Ramp and Enterprise add ``critical``
(AWS's plan pages give On-Ramp a 30-minute business-critical response target).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..handlers import Context
from ..wire.errors import ServiceError
from . import registry
from .queries import cases as case_queries


@dataclass(frozen=True)
class Plan:
    name: str
    api_access: bool
    severities: tuple[str, ...]
    communication_types: tuple[str, ...]  # how AWS offers to be reached: web, chat, call


_ALL = ("low", "normal", "high", "urgent", "critical")
PLANS = {
    plan.name: plan
    for plan in (
        Plan("basic", False, (), ()),
        Plan("developer", False, _ALL[:2], ("web",)),
        Plan("business", True, _ALL[:4], ("web", "chat", "call")),
        Plan("enterprise-on-ramp", True, _ALL, ("web", "chat", "call")),
        Plan("enterprise", True, _ALL, ("web", "chat", "call")),
    )
}
PLAN_NAMES = tuple(PLANS)
API_PLANS = [plan.name for plan in PLANS.values() if plan.api_access]

# The newer of the two messages seen from the real service (fact sheet 4.3).
SUBSCRIPTION_REQUIRED = ("Amazon Web Services Premium Support Subscription is required to use "
                         "this service.")


def plan_of(ctx: Context) -> Plan:
    """The caller's plan, its own or the configured default, as ``require_subscription`` read
    it (every Support operation passes there first)."""
    return ctx.memo["plan"].get()


@registry.guard
def require_subscription(ctx: Context, operation: str) -> None:
    """Every Support operation passes here first: no qualifying plan, no API.

    On PostgreSQL the plan travels with the handler's first statement and is checked when it
    returns; the handler's answer or error counts only once the check has passed
    (``Registered.run``), and a write it began is rolled back."""

    def arrived(found) -> Plan:
        name = found.plan if found is not None else None
        plan = PLANS[name or ctx.settings.default_plan]
        if not plan.api_access:
            raise ServiceError("SubscriptionRequiredException", SUBSCRIPTION_REQUIRED, 400)
        return plan

    ctx.memo["plan"] = case_queries.caller_later(ctx.conn, ctx.account_id, arrived)
