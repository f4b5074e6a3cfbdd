"""Service models: loaded from botocore once, indexed for O(1) dispatch.

A :class:`Service` wraps a botocore ``ServiceModel`` with what the gateway needs per request:
the JSON 1.1 target table or the REST-JSON route trie, each operation's error statuses and
its compiled validator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from .shapes import decoder, encoder, validator

# (member name, wire name, location, member shape)
Located = tuple[str, str, str, Shape]


def located(shape: Shape | None) -> list[Located]:
    """The members of ``shape`` bound to a location (``uri``, ``querystring``, ``header``,
    ``headers``, ``statusCode``) rather than the body, as :data:`Located` tuples."""
    if shape is None:
        return []
    return [(name, member.serialization.get("name", name), member.serialization["location"],
             member) for name, member in shape.members.items()
            if member.serialization.get("location")]


@dataclass
class Operation:
    """One modeled operation with the facts the wire layer looks up per request."""

    service: Service
    model: OperationModel

    @property
    def name(self) -> str:
        return self.model.name

    @cached_property
    def input_shape(self) -> Shape | None:
        return self.model.input_shape

    @cached_property
    def output_shape(self) -> Shape | None:
        return self.model.output_shape

    @cached_property
    def error_shapes(self) -> dict[str, Shape]:
        return {shape.name: shape for shape in self.model.error_shapes}

    @cached_property
    def validate(self):
        shape = self.input_shape
        return validator(shape) if shape is not None else None

    @cached_property
    def decode_input(self):
        """The input shape's decoder (wire JSON to handler params), or None."""
        shape = self.input_shape
        return decoder(shape) if shape is not None else None

    @cached_property
    def input_locations(self) -> list[Located]:
        """The input members carried outside the JSON body (REST: labels, query, headers)."""
        return located(self.input_shape)

    @cached_property
    def output_locations(self) -> list[Located]:
        """The output members carried outside the JSON body (REST: headers, status)."""
        return located(self.output_shape)

    @cached_property
    def encode_output(self):
        """The output shape's encoder (handler result to wire JSON), or None."""
        shape = self.output_shape
        return encoder(shape) if shape is not None else None

    def error_status(self, code: str) -> int | None:
        """The HTTP status the model gives a modeled error of this operation, if any."""
        shape = self.error_shapes.get(code) or self.service.error_shapes.get(code)
        if shape is None:
            return None
        error = shape.metadata.get("error", {})
        if "httpStatusCode" in error:
            return int(error["httpStatusCode"])
        # botocore keeps "fault" out of Shape.metadata, so read it from the raw shape model.
        return 500 if getattr(shape, "_shape_model", {}).get("fault") else 400


@dataclass
class Route:
    """A compiled REST URI template: literal segments and labels (``+`` marks greedy)."""

    operation: Operation
    segments: list[tuple[str, str]]  # ("literal", text) | ("label", name) | ("greedy", name)
    query_literals: dict[str, str]
    method: str = field(init=False)  # the operation's HTTP method, looked up once

    def __post_init__(self) -> None:
        self.method = self.operation.model.http["method"]


@dataclass
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    label: _Node | None = None
    greedy: list[Route] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)


class Service:
    """A botocore service model and its dispatch tables."""

    def __init__(self, model: ServiceModel):
        self.model = model
        self.name = model.service_name
        self.protocol = model.protocol
        self.signing_name = model.signing_name
        self.target_prefix = model.metadata.get("targetPrefix")
        self.operations = {
            name: Operation(self, model.operation_model(name)) for name in model.operation_names
        }
        self.error_shapes = {shape.name: shape for shape in model.error_shapes}
        self._root = _Node()
        if self.protocol in ("rest-json", "rest-xml"):
            for op in self.operations.values():
                self._add_route(op)

    # ----------------------------------------------------------------- REST routing

    def _add_route(self, op: Operation) -> None:
        uri = op.model.http["requestUri"]
        path, _, query = uri.partition("?")
        literals = {}
        for pair in filter(None, query.split("&")):
            key, _, value = pair.partition("=")
            literals[key] = value
        segments = []
        for part in path.strip("/").split("/") if path.strip("/") else []:
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                if name.endswith("+"):
                    segments.append(("greedy", name[:-1]))
                else:
                    segments.append(("label", name))
            else:
                segments.append(("literal", part))
        route = Route(op, segments, literals)
        node = self._root
        for kind, text in segments:
            if kind == "literal":
                node = node.literals.setdefault(text, _Node())
            elif kind == "label":
                node.label = node.label or _Node()
                node = node.label
            else:
                node.greedy.append(route)
                return
        node.routes.append(route)

    def match(self, method: str, raw_path: str, query: dict) -> tuple[Operation, dict] | None:
        """Find the operation for a REST request; labels come back percent-decoded."""
        parts = raw_path.strip("/").split("/") if raw_path.strip("/") else []
        found = self._match(self._root, parts, 0, method, query, [])
        if found is None:
            return None
        route, values = found
        labels = {}
        label_values = iter(values)
        for kind, text in route.segments:
            if kind != "literal":
                labels[text] = next(label_values)
        return route.operation, labels

    def _match(self, node: _Node, parts: list[str], i: int, method: str, query: dict,
               values: list[str]):
        if i == len(parts):
            return self._pick(node.routes, method, query, values)
        for route in node.greedy:
            if route.method == method:
                rest = unquote("/".join(parts[i:]))
                if rest and self._query_ok(route, query):
                    return route, [*values, rest]
        child = node.literals.get(unquote(parts[i]))
        if child is not None:
            found = self._match(child, parts, i + 1, method, query, values)
            if found:
                return found
        if node.label is not None and parts[i]:
            return self._match(node.label, parts, i + 1, method, query,
                               [*values, unquote(parts[i])])
        return None

    def _pick(self, routes: list[Route], method: str, query: dict, values: list[str]):
        best = None
        for route in routes:
            if route.method != method or not self._query_ok(route, query):
                continue
            if best is None or len(route.query_literals) > len(best.query_literals):
                best = route
        return (best, values) if best else None

    @staticmethod
    def _query_ok(route: Route, query: dict) -> bool:
        for key, value in route.query_literals.items():
            if key not in query or (value and value not in query[key]):
                return False
        return True


def load_service(name: str, session: botocore.session.Session | None = None) -> Service:
    """Load a botocore service model by name (e.g. ``support``, ``connectcases``)."""
    session = session or botocore.session.get_session()
    return Service(session.get_service_model(name))
