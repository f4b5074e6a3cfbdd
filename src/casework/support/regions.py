"""Where the Trusted Advisor operations are served: the US East (N. Virginia) endpoint only.

The model's documentation of all five Trusted Advisor operations (and the AWS Support API
Reference and User Guide, "About the AWS Support API", Endpoints) says that they must be called
through the US East (N. Virginia) endpoint and that the US West (Oregon) and Europe (Ireland)
endpoints do not support them. AWS does not publish the error those endpoints answer; Casework
answers a request signed for any region other than us-east-1 the way an AWS JSON endpoint
answers an operation it does not serve, ``UnknownOperationException`` (400), before any other
check (an endpoint that does not serve an operation never gets as far as the plan check). The
case operations are global, as AWS documents: every region sees the same cases.
"""

from __future__ import annotations

from ..handlers import Context
from ..wire.errors import unknown_operation
from . import registry

ADVISOR_REGION = "us-east-1"
ADVISOR_OPERATIONS = frozenset({
    "DescribeTrustedAdvisorChecks", "DescribeTrustedAdvisorCheckResult",
    "DescribeTrustedAdvisorCheckSummaries", "RefreshTrustedAdvisorCheck",
    "DescribeTrustedAdvisorCheckRefreshStatuses",
})


@registry.guard
def advisor_in_us_east_1(ctx: Context, operation: str) -> None:
    """Refuse the Trusted Advisor operations outside us-east-1."""
    if operation in ADVISOR_OPERATIONS and ctx.region != ADVISOR_REGION:
        raise unknown_operation(
            f"{operation} is not supported in {ctx.region or 'this region'}: the Trusted Advisor "
            f"operations are served by the US East (N. Virginia) endpoint only; sign the "
            f"request for {ADVISOR_REGION}.")
