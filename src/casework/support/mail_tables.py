"""What e-mail adds to the outbox's table: a case's messages are found by the case."""

from sqlalchemy import Index

from ..outbox.tables import outbox

# The support-side case view lists each communication's mail and its delivery state.
ix_outbox_case = Index("ix_outbox_case", outbox.c.case_id, outbox.c.seq)
