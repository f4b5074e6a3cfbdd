"""ARNs of Connect Cases resources, as the Service Authorization Reference lists them."""

from __future__ import annotations

import re

# A domain lives in the region it was created through, and every ARN inside it names that
# region.
PARTITION = "aws"

# ARNs of other services that cases hold, in the shapes AWS documents: a customer_id value is a
# Customer Profiles profile (the model's CreateCase documentation:
# arn:aws:profile:<region>:<account>:domains/<profiles domain name>/profiles/<profile id>);
# File and Contact related items name Amazon Connect resources (the Service Authorization
# Reference: .../instance/<instance id>/file/<file id> and .../contact/<contact id>).
PROFILE_ARN = (r"arn:aws[a-z-]*:profile:[a-z0-9-]+:[0-9]{12}:domains/[a-zA-Z0-9_-]+"
               r"/profiles/[a-zA-Z0-9_-]+")
FILE_ARN = (r"arn:aws[a-z-]*:connect:[a-z0-9-]+:[0-9]{12}:instance/[a-zA-Z0-9_-]+"
            r"/file/[a-zA-Z0-9_-]+")
CONTACT_ARN = (r"arn:aws[a-z-]*:connect:[a-z0-9-]+:[0-9]{12}:instance/[a-zA-Z0-9_-]+"
               r"/contact/[a-zA-Z0-9_-]+")

_ARN = re.compile(
    r"arn:(?P<partition>[^:]+):cases:(?P<region>[^:]*):(?P<account>\d{12}):domain/(?P<domain>[^/]+)"
    r"(?:/(?P<kind>field|layout|template|case-rule|case)/(?P<item>[^/]+)"
    r"(?:/related-item/(?P<related>[^/]+))?)?"
)


def domain_arn(region: str, account_id: str, domain_id: str) -> str:
    """``arn:aws:cases:<region>:<account>:domain/<domain id>``."""
    return f"arn:{PARTITION}:cases:{region}:{account_id}:domain/{domain_id}"


def item_arn(region: str, account_id: str, domain_id: str, kind: str, item_id: str) -> str:
    """The ARN of a field, layout, template, case-rule or case inside a domain."""
    return f"{domain_arn(region, account_id, domain_id)}/{kind}/{item_id}"


def related_item_arn(region: str, account_id: str, domain_id: str, case_id: str,
                     related_item_id: str) -> str:
    """``.../domain/<d>/case/<c>/related-item/<r>``."""
    case = item_arn(region, account_id, domain_id, "case", case_id)
    return f"{case}/related-item/{related_item_id}"


def parse(arn: str) -> dict | None:
    """The parts of a Connect Cases resource ARN, or None if it is not one."""
    match = _ARN.fullmatch(arn)
    if match is None or match["partition"] != PARTITION:
        return None
    if match["related"] is not None and match["kind"] != "case":
        return None
    return match.groupdict()
