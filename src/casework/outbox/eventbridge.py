"""EventBridge: each case event sent with ``PutEvents`` to ``--eventbridge-bus`` at
``--eventbridge-endpoint``, through boto3 and the standard AWS credential chain.

The event goes to the bus in its own region, as AWS publishes it: ``us-east-1`` for AWS
Support, the domain's region for Connect Cases. ``--eventbridge-endpoint aws`` lets boto3 pick
AWS's endpoint of that region; any other value is the endpoint of every region (LocalStack,
moto). A real EventBridge refuses sources that begin with ``aws.`` (they are AWS's own), so
``--eventbridge-source-prefix casework.`` turns ``aws.support`` into ``casework.support``.
PutEvents has no member for the event's ``id`` nor its ``account``: the bus assigns them.

A failed call, throttling, or an entry refused with ``InternalFailure`` or
``ThrottlingException`` is retried; an entry refused for anything else (a malformed entry,
a source the bus does not allow) marks the event dead at once.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime

import orjson

from .core import EVENTS, Channel, Message, PermanentFailure, channel_provider

RETRIED_ENTRY_ERRORS = frozenset({"InternalFailure", "ThrottlingException"})
AWS_ENDPOINT = "aws"  # --eventbridge-endpoint value: boto3 resolves AWS's own endpoint


def source_of(source: str, prefix: str | None) -> str:
    """``source`` with its ``aws.`` replaced by ``prefix`` (a dot added when it has none)."""
    if not prefix or not source.startswith("aws."):
        return source
    return (prefix if prefix.endswith(".") else prefix + ".") + source[len("aws."):]


class EventBridgeChannel(Channel):
    name = "eventbridge"
    group = EVENTS

    def __init__(self, endpoint: str, bus: str, prefix: str | None):
        self.endpoint = None if endpoint == AWS_ENDPOINT else endpoint
        self.bus = bus
        self.prefix = prefix
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()

    def _client(self, region: str):
        """One client per region (boto3 clients are thread-safe; making one is not)."""
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                import boto3
                from botocore.config import Config

                client = self._clients[region] = boto3.session.Session().client(
                    "events", region_name=region, endpoint_url=self.endpoint,
                    config=Config(connect_timeout=5, read_timeout=self.timeout - 1,
                                  retries={"total_max_attempts": 1}))
            return client

    def entry(self, event: dict) -> dict:
        """The PutEvents entry of an event in EventBridge's envelope."""
        return {"Source": source_of(event["source"], self.prefix),
                "DetailType": event["detail-type"],
                "Detail": orjson.dumps(event["detail"]).decode(),
                "Resources": event["resources"],
                "Time": datetime.fromisoformat(event["time"].replace("Z", "+00:00")),
                "EventBusName": self.bus}

    def _put(self, event: dict) -> None:
        response = self._client(event["region"]).put_events(Entries=[self.entry(event)])
        if not response.get("FailedEntryCount"):
            return
        failed = response["Entries"][0]
        code, text = failed.get("ErrorCode", "?"), failed.get("ErrorMessage", "")
        error = f"PutEvents refused the entry: {code}: {text}"
        if code in RETRIED_ENTRY_ERRORS:
            raise RuntimeError(error)
        if code == "NotAuthorizedForSourceException" and not self.prefix:
            error += " (a real EventBridge needs --eventbridge-source-prefix, e.g. casework.)"
        raise PermanentFailure(error)

    async def deliver(self, message: Message) -> None:
        await asyncio.to_thread(self._put, message.data())


@channel_provider
def eventbridge_channels(settings) -> list[Channel]:
    if not settings.eventbridge_endpoint:
        return []
    return [EventBridgeChannel(settings.eventbridge_endpoint, settings.eventbridge_bus,
                               settings.eventbridge_source_prefix)]
