"""Amazon Connect Cases in the console (filled in below)."""

from __future__ import annotations

from starlette.routing import Route

from .web import Pages


class ConnectPages:
    def __init__(self, pages: Pages):
        self.pages = pages

    def routes(self) -> list[Route]:
        return []
