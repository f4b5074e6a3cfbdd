"""Amazon Connect Cases in the console: domains, a domain's cases, a case's page.

Every read and change runs the Connect Cases operation handlers themselves (SearchCases,
GetCase, UpdateCase, CreateRelatedItem, ...), their input checked against the model as the
wire layer checks it, inside a runner transaction: the console enforces exactly the rules the
API enforces, and its changes are recorded in the audit history as the API's are, performed
by the signed-in agent (``performedBy.customEntity`` = the agent's e-mail).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..cases.layouts import NOT_CONFIGURABLE
from ..cases.values import MEMBER, SERVICE_MAINTAINED
from ..handlers import Context
from ..store.engine import now_ms
from ..wire.errors import ServiceError, validate
from ..wire.model import load_service
from . import queries
from .web import Pages

PAGE = 25
LIST_COLUMNS = ("title", "status", "created_datetime", "last_updated_datetime")
CONSOLE_KEY = "casework-console"  # the access key id changes are attributed to (root user)
RELATED_SHOWN = 100
AUDIT_SHOWN = 100


def shown(value: dict | None) -> str:
    """A field value (a FieldValueUnion) as text."""
    if not value:
        return ""
    for member in ("stringValue", "doubleValue", "booleanValue", "userArnValue"):
        if member in value:
            found = value[member]
            if member == "doubleValue" and float(found).is_integer():
                return str(int(found))
            return str(found).lower() if member == "booleanValue" else str(found)
    return ""


class ConnectPages:
    def __init__(self, pages: Pages):
        self.pages = pages
        self.runner = pages.runner
        self.casework = pages.casework
        self.service = load_service("connectcases")
        pages.env.filters["value"] = shown

    def routes(self) -> list[Route]:
        page = self.pages.page
        case = "/console/connect/{domain_id}/cases/{case_id}"
        return [
            Route("/console/connect", page(self.domains), methods=["GET"]),
            Route("/console/connect/{domain_id}", page(self.cases), methods=["GET"]),
            Route(case, page(self.case), methods=["GET"]),
            Route(case + "/fields", page(self.edit_fields), methods=["POST"]),
            Route(case + "/comments", page(self.add_comment), methods=["POST"]),
        ]

    # ------------------------------------------------------------------ running operations

    def _call(self, conn, domain, name: str, params: dict, now: int) -> dict:
        """Run the Connect Cases operation ``name`` as the domain's account would."""
        op = self.service.operations[name]
        if op.validate is not None:
            validate(op.validate, params)
        ctx = Context(conn=conn, account_id=domain.account_id, access_key_id=CONSOLE_KEY,
                      region=domain.region, settings=self.pages.settings,
                      tokens=self.casework.tokens, now=now)
        result = self.casework.handlers[("connectcases", name)].run(ctx, params)
        if "console.after_commit" in conn.info:  # a write (see _write)
            conn.info["console.after_commit"].extend(ctx.after_commit)
        return result

    def _pages(self, conn, domain, name: str, params: dict, member: str, most: int,
               now: int) -> list:
        """Up to ``most`` items of a listing operation, page after page (25 a page)."""
        found: list = []
        token = None
        while len(found) < most:
            page = self._call(conn, domain, name, {**params, "maxResults": 25,
                                                   **({"nextToken": token} if token else {})},
                              now)
            found.extend(page[member])
            token = page.get("nextToken")
            if not token:
                break
        return found[:most]

    async def _write(self, fn):
        """Run ``fn(conn)`` as a write, then what the handlers asked to run after commit."""
        callbacks: list = []

        def job(conn):
            conn.info["console.after_commit"] = []
            result = fn(conn)
            callbacks.extend(conn.info.pop("console.after_commit"))
            return result

        result = await self.runner.write(job)
        for callback in callbacks:
            callback()
        return result

    async def _domain(self, request: Request, agent):
        domain_id = request.path_params["domain_id"][:500]
        found = await self.runner.read(lambda conn: queries.find_connect_domain(conn, domain_id))
        return found if found is not None and agent.may_see(found.account_id) else None

    def _missing(self, request: Request, what: str = "domain") -> Response:
        return self.pages.error(request, 404, f"No such {what} in the accounts you can see.")

    # ------------------------------------------------------------------ pages

    async def domains(self, request: Request, agent) -> Response:
        rows = await self.runner.read(lambda conn: queries.connect_domains(conn, agent.accounts))
        return self.pages.render(request, "connect_domains.html", domains=rows)

    async def cases(self, request: Request, agent) -> Response:
        domain = await self._domain(request, agent)
        if domain is None:
            return self._missing(request)
        query = request.query_params
        text = (query.get("q") or "").strip()[:255]
        status = query.get("status") or ""
        sort = "Asc" if query.get("sort") == "oldest" else "Desc"
        params: dict = {"domainId": domain.domain_id, "maxResults": PAGE,
                        "fields": [{"id": f} for f in LIST_COLUMNS],
                        "sorts": [{"fieldId": "created_datetime", "sortOrder": sort}]}
        if text:
            params["searchTerm"] = text
        if status:
            params["filter"] = {"field": {"equalTo": {"id": "status",
                                                      "value": {"stringValue": status[:100]}}}}
        if query.get("token"):
            params["nextToken"] = query["token"][:9000]
        now = now_ms()
        try:
            found = await self.runner.read(
                lambda conn: self._call(conn, domain, "SearchCases", params, now), aside=True)
        except ServiceError as error:
            return self.pages.error(request, 400, error.message)
        rows = [{"caseId": c["caseId"], **{f["id"]: f["value"] for f in c.get("fields", [])}}
                for c in found.get("cases", [])]
        base = [(k, v) for k, v in query.multi_items() if k != "token"]
        return self.pages.render(
            request, "connect_cases.html", domain=domain, rows=rows,
            total=found.get("totalCount"), chosen={"q": text, "status": status,
                                                   "sort": "oldest" if sort == "Asc" else ""},
            next_params=[*base, ("token", found["nextToken"])] if found.get("nextToken")
            else None, base_params=base, first_page="token" in query)

    def _case_view(self, conn, domain, case_id: str, now: int) -> dict:
        fields = []
        token = None
        while True:  # every field of the domain: names, types, options
            page = self._call(conn, domain, "ListFields", {
                "domainId": domain.domain_id, "maxResults": 100,
                **({"nextToken": token} if token else {})}, now)
            fields.extend(page["fields"])
            token = page.get("nextToken")
            if not token:
                break
        by_id = {f["fieldId"]: f for f in fields}
        ids = [f["fieldId"] for f in fields][:220]
        case = self._call(conn, domain, "GetCase", {
            "domainId": domain.domain_id, "caseId": case_id,
            "fields": [{"id": i} for i in ids]}, now)
        values = {f["id"]: f["value"] for f in case.get("fields", [])}
        template = self._call(conn, domain, "GetTemplate", {
            "domainId": domain.domain_id, "templateId": case["templateId"]}, now)
        # Title and status are on every case, above the layout (no layout may hold them).
        groups = [{"name": "Case", "fields": [f for f in NOT_CONFIGURABLE if f in by_id]}]
        layout_id = (template.get("layoutConfiguration") or {}).get("defaultLayout")
        if layout_id:
            layout = self._call(conn, domain, "GetLayout", {
                "domainId": domain.domain_id, "layoutId": layout_id}, now)
            basic = layout.get("content", {}).get("basic", {})
            for panel in ("topPanel", "moreInfo"):
                for section in (basic.get(panel) or {}).get("sections", []):
                    group = section.get("fieldGroup") or {}
                    groups.append({"name": group.get("name") or panel, "fields": [
                        f["id"] for f in group.get("fields", []) if f["id"] in by_id]})
        laid_out = {f for g in groups for f in g["fields"]}
        rest = [i for i in ids if i not in laid_out and (i in values or not layout_id)]
        if rest:
            groups.append({"name": "Other fields" if layout_id else "Fields", "fields": rest})
        options = {}
        for field_id in {f for g in groups for f in g["fields"]}:
            if by_id[field_id]["type"] == "SingleSelect":
                listed = self._call(conn, domain, "ListFieldOptions", {
                    "domainId": domain.domain_id, "fieldId": field_id, "maxResults": 100}, now)
                options[field_id] = [o for o in listed["options"] if o.get("active", True)]
        about = {"domainId": domain.domain_id, "caseId": case_id}
        related = self._pages(conn, domain, "SearchRelatedItems", about, "relatedItems",
                              RELATED_SHOWN, now)
        events = self._pages(conn, domain, "GetCaseAuditEvents", about, "auditEvents",
                             AUDIT_SHOWN, now)
        return {"case_id": case_id, "template": template, "groups": groups, "fields": by_id,
                "values": values, "options": options, "required": {
                    r["fieldId"] for r in template.get("requiredFields", [])},
                "related": related, "events": events, "locked": SERVICE_MAINTAINED}

    async def case(self, request: Request, agent, error: str | None = None,
                   status: int = 200) -> Response:
        domain = await self._domain(request, agent)
        if domain is None:
            return self._missing(request)
        case_id = request.path_params["case_id"][:500]
        now = now_ms()
        try:
            view = await self.runner.read(lambda conn: self._case_view(conn, domain, case_id,
                                                                       now))
        except ServiceError as problem:
            return self.pages.error(request, 404 if problem.code.endswith("NotFoundException")
                                    else 400, problem.message)
        return self.pages.render(request, "connect_case.html", status=status, domain=domain,
                                 error=error, now=now, **view)

    # ------------------------------------------------------------------ changes

    async def edit_fields(self, request: Request, agent) -> Response:
        domain = await self._domain(request, agent)
        if domain is None:
            return self._missing(request)
        case_id = request.path_params["case_id"][:500]
        form = request.scope["console.form"]
        given = {key[6:]: str(value) for key, value in form.multi_items()
                 if key.startswith("field:") and isinstance(value, str)}
        now = now_ms()

        def write(conn):
            listed = {f["fieldId"]: f for f in self._call(conn, domain, "BatchGetField", {
                "domainId": domain.domain_id,
                "fields": [{"id": i} for i in list(given)[:50]]}, now)["fields"]}
            current = {f["id"]: f["value"] for f in self._call(conn, domain, "GetCase", {
                "domainId": domain.domain_id, "caseId": case_id,
                "fields": [{"id": i} for i in given]}, now).get("fields", [])}
            changes = []
            for field_id, text in given.items():
                field = listed.get(field_id)
                if field is None or field_id in SERVICE_MAINTAINED:
                    continue
                text = text.strip()
                if text == shown(current.get(field_id)):
                    continue
                changes.append({"id": field_id, "value": _typed(field, text)})
            if changes:
                self._call(conn, domain, "UpdateCase", {
                    "domainId": domain.domain_id, "caseId": case_id, "fields": changes,
                    "performedBy": {"customEntity": agent.email}}, now)
            return len(changes)

        try:
            await self._write(write)
        except (ServiceError, ValueError) as error:
            message = error.message if isinstance(error, ServiceError) else str(error)
            return await self.case(request, agent, error=message, status=400)
        return RedirectResponse(
            f"/console/connect/{quote(domain.domain_id)}/cases/{quote(case_id)}",
            status_code=303)

    async def add_comment(self, request: Request, agent) -> Response:
        domain = await self._domain(request, agent)
        if domain is None:
            return self._missing(request)
        case_id = request.path_params["case_id"][:500]
        body = str(request.scope["console.form"].get("body", "")).replace("\r\n", "\n").strip()
        now = now_ms()
        try:
            await self._write(lambda conn: self._call(conn, domain, "CreateRelatedItem", {
                "domainId": domain.domain_id, "caseId": case_id, "type": "Comment",
                "content": {"comment": {"body": body, "contentType": "Text/Plain"}},
                "performedBy": {"customEntity": agent.email}}, now))
        except ServiceError as error:
            return await self.case(request, agent, error=error.message, status=400)
        return RedirectResponse(
            f"/console/connect/{quote(domain.domain_id)}/cases/{quote(case_id)}#comments",
            status_code=303)


def _typed(field: dict, text: str) -> dict:
    """The FieldValueUnion a form's text means for the field's type ('' clears the value)."""
    if text == "":
        return {"emptyValue": {}}
    member = MEMBER.get(field["type"], "stringValue")
    if member == "doubleValue":
        try:
            return {"doubleValue": float(text)}
        except ValueError:
            raise ValueError(f"{field['name']} must be a number.") from None
    if member == "booleanValue":
        if text not in ("true", "false"):
            raise ValueError(f"{field['name']} must be true or false.")
        return {"booleanValue": text == "true"}
    return {member: text}
