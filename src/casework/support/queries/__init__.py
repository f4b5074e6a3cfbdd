"""AWS Support's SQL, one module per area: cases (with communications, attachments and plans),
Trusted Advisor, and large-file uploads. Handlers call these functions; they hold no SQL."""
