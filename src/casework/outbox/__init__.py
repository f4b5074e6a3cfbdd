"""The durable outbox: side effects (case events, e-mail) written in the same transaction as the
change that caused them, then delivered by a background worker with retries.

How it works
------------
* A writer calls :func:`enqueue` (or, in a handler, :func:`publish`) inside its transaction:
  one ``outbox`` row per configured channel of the message's group, all with the same stable
  ``message_id``. A rolled-back change or a dry run leaves no row; a server with no channel
  configured stores nothing.
* One :class:`~casework.outbox.worker.OutboxWorker` per server process (started and stopped in
  the app's lifespan) runs a task per channel: it claims due rows under a lease (PostgreSQL
  ``FOR UPDATE SKIP LOCKED``; SQLite through the runner's single writer), so that with
  ``serve --workers N`` or several servers on one PostgreSQL each row is delivered by one of
  them; it delivers them and records the outcome. A failure is retried after 1 s, 2 s, 4 s, ...
  at most 60 s apart; after ``--event-max-attempts`` failed deliveries (default 10), or at once
  on :class:`PermanentFailure`, the row is ``dead`` (``casework events retry`` revives it).
  A process killed mid-delivery leaves its rows leased; they are due again when the lease ends
  (a minute), so a message may rarely arrive twice: receivers drop duplicates by its id.
* The worker wakes as soon as this process commits rows (:func:`notify`, which :func:`publish`
  registers in ``ctx.after_commit``) and polls every second for rows written by other
  processes and for retries.

Plugging in another channel
---------------------------
1. Subclass :class:`Channel`: set ``name`` (unique and stable across restarts: it is stored in
   each row, e.g. ``"mail"``), ``group`` (the group writers address, e.g. :data:`MAIL`),
   optionally ``timeout``; implement ``async deliver(message)`` (``message.data()`` is the
   enqueued payload; return when the receiver has it; raise :class:`PermanentFailure` when a
   retry cannot help, anything else to retry) and, if it holds connections, ``async close()``.
   Blocking clients run in ``asyncio.to_thread``.
2. Register a provider that builds it from the settings, in a module imported below::

       @channel_provider
       def mail_channels(settings) -> list[Channel]:
           return [MailChannel(settings)] if settings.smtp_host else []

3. Write messages in the transaction of the change: in a handler
   ``publish(ctx, MAIL, message_id=..., case_id=..., kind="mail", payload={...})``; elsewhere
   ``enqueue(conn, channel_names(settings, MAIL), ...)`` and :func:`notify` after the commit.

``casework events list`` and ``casework events retry`` show and revive every channel's rows.
"""

# The channels that ship with Casework register their providers on import.
from . import eventbridge, webhook
from .core import (
    EVENTS,
    MAIL,
    Channel,
    Message,
    PermanentFailure,
    channel_names,
    channel_provider,
    configured_channels,
    enqueue,
    notify,
    publish,
    retry_delay_ms,
)
from .tables import DEAD, DELIVERED, PENDING, outbox
from .worker import OutboxWorker

__all__ = ["DEAD", "DELIVERED", "EVENTS", "MAIL", "PENDING", "Channel", "Message",
           "OutboxWorker", "PermanentFailure", "channel_names", "channel_provider",
           "configured_channels", "enqueue", "eventbridge", "notify", "outbox", "publish",
           "retry_delay_ms", "webhook"]
