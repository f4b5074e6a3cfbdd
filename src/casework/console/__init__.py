"""The agent console at ``/console``: people answering AWS Support and Connect Cases cases.

One module per concern: ``tables`` and ``queries`` (its SQL), ``passwords`` (scrypt),
``agents`` (the ``casework agents`` commands' work), ``auth`` (sessions, CSRF, lockout),
``web`` (the app, templates and guards), ``support_pages``, ``connect_pages`` and
``overview`` (the pages), ``templates/`` and ``static/`` (shipped in the package).
"""
