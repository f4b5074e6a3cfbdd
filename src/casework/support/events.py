"""AWS Support's ``Support Case Update`` events, for the customer's and the support side's changes.

As AWS documents the event: ``source`` ``aws.support``, ``detail-type`` ``Support Case Update``,
``resources`` empty, and a ``detail`` of ``case-id``, ``display-id``, ``communication-id``,
``event-name`` (``CreateCase``, ``AddCommunicationToCase``, ``ResolveCase``, ``ReopenCase``)
and, on ``AddCommunicationToCase`` events only, ``origin``: ``CUSTOMER`` for a communication
added through the API, ``AMAZON`` for one from the support side (``/_casework/support/``).
Events need no configuration: every change is published once a sink is configured.

Choices where AWS is silent: the events of the case operations, which are global, are
published in ``us-east-1`` (the region of AWS's examples and of the Support API's main
endpoint); ``communication-id`` is empty except on ``AddCommunicationToCase``, as in AWS's
examples, and is a UUID derived from the case and the communication, so it stays the same for
one communication; a change that changes nothing (resolving a resolved case, the support side
setting the status a case has) publishes nothing; a customer's reply to a resolved case
publishes ``AddCommunicationToCase`` and then ``ReopenCase``, and so does the support side moving
a resolved case to another status (``ReopenCase``); other status moves have no event name and
publish nothing.
"""

from __future__ import annotations

import uuid

from ..outbox.events import publish_event, wanted

SOURCE = "aws.support"
DETAIL_TYPE = "Support Case Update"
REGION = "us-east-1"
CUSTOMER, AMAZON = "CUSTOMER", "AMAZON"
_COMMUNICATIONS = uuid.UUID("6d1f6c1e-8a4e-4f43-9a55-0c2f2b7f6a10")  # namespace of the ids


def communication_id(case_id: str, communication_seq: int) -> str:
    """The stable ``communication-id`` of a case's communication."""
    return str(uuid.uuid5(_COMMUNICATIONS, f"{case_id}/{communication_seq}"))


def case_updated(ctx, case_id: str, display_id: str, event_name: str, *,
                 communication_seq: int | None = None, origin: str | None = None,
                 account_id: str | None = None) -> None:
    """Publish one ``Support Case Update`` in the transaction of ``ctx``."""
    if not wanted(ctx):
        return
    detail = {"case-id": case_id, "display-id": display_id,
              "communication-id": ("" if communication_seq is None
                                   else communication_id(case_id, communication_seq)),
              "event-name": event_name}
    if origin is not None:
        detail["origin"] = origin
    publish_event(ctx, source=SOURCE, detail_type=DETAIL_TYPE, region=REGION, resources=[],
                  detail=detail, kind=event_name, case_id=case_id, account_id=account_id)


def status_moved(ctx, case_id: str, display_id: str, old: str, new: str, *,
                 account_id: str | None = None) -> None:
    """The event of a status move, if it has one: into ``resolved``, or out of it."""
    if old == new:
        return
    if new == "resolved":
        case_updated(ctx, case_id, display_id, "ResolveCase", account_id=account_id)
    elif old == "resolved":
        case_updated(ctx, case_id, display_id, "ReopenCase", account_id=account_id)
