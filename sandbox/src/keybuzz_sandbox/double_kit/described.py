"""A marketplace's published OpenAPI description, as its double checks what shops send and
its tests check what the double answers (docs/SANDBOX.md, the double kit); loaded strict:
descriptions allow any extra field, so a renamed optional field would pass."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib.resources import files
from typing import Any, TypeVar

import httpx
from jsonschema import Draft4Validator, ValidationError
from jsonschema.protocols import Validator
from litestar import Request
from referencing import Registry, Resource
from referencing.jsonschema import specification_with

from keybuzz_sandbox.double_kit.routes import operation_route

COMPOSITIONS = ("allOf", "anyOf", "oneOf", "$ref")
INTEGER = re.compile(r"-?[0-9]+")
# A query as a double reads it: a parameter's value, or its values when given repeated.
Query = Mapping[str, str] | Mapping[str, Sequence[str]]


def close_objects(schema: Any) -> None:
    """Every object schema below ``schema`` that lists its properties allows no other."""
    if isinstance(schema, dict):
        if "properties" in schema and not any(k in schema for k in COMPOSITIONS):
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            close_objects(value)
    elif isinstance(schema, list):
        for value in schema:
            close_objects(value)


def nullable(schema: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema says it (no draft knows the word): a
    typed schema's type or null, another one (a reference, a composition) or null."""
    if isinstance(schema, list):
        return [nullable(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    found = {k: nullable(v) for k, v in schema.items()}
    if not isinstance(found.get("nullable"), bool) or not found.pop("nullable"):
        return found  # a property named "nullable" is a property, not the keyword
    if isinstance(found.get("type"), str):
        return found | {"type": [found["type"], "null"]}
    return {"anyOf": [found, {"type": "null"}]}


def reference(uri: str, path: str, method: str, *where: str) -> dict[str, Any]:
    """A schema pointing at ``where`` inside the operation at ``path``/``method`` of the
    description registered as ``uri``."""
    parts = ("paths", path, method, *where)
    pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    return {"$ref": f"{uri}#/{pointer}"}


def _matches(template: str, path: str) -> bool:
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(got) and all(
        w == g or (w.startswith("{") and w.endswith("}") and g)
        for w, g in zip(want, got, strict=True)
    )


V = TypeVar("V")


class Described:
    """One published description (``openapi/<document>`` in the double's ``package``),
    registered as ``uri``, checked with ``kind`` (draft 4 for OpenAPI 3.0, 2020-12 for
    3.1). ``correct``: the description as the double reads it, given a copy of it (fixed
    where it contradicts its own words, ``nullable`` for a draft 4 reader); ``undocumented``:
    query parameters the marketplace's guide documents outside the description, by
    operation id (``"*"``: every operation)."""

    def __init__(
        self,
        uri: str,
        package: str,
        document: str,
        kind: type[Validator] = Draft4Validator,
        *,
        correct: Callable[[dict[str, Any]], dict[str, Any]] = lambda spec: spec,
        undocumented: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.uri, self.package, self.document, self.kind = uri, package, document, kind
        self._correct, self.undocumented = correct, undocumented or {}
        self.spec = cache(self._strict)
        self.registry = cache(self._registry)
        self._operations = cache(self._index)
        self._compiled = cache(self._compile)
        self._parameters = cache(self._query_parameters)

    def published(self) -> dict[str, Any]:
        """The description as the marketplace published it."""
        text = (files(self.package) / "openapi" / self.document).read_text(encoding="utf-8")
        spec: dict[str, Any] = json.loads(text)
        return spec

    def _strict(self) -> dict[str, Any]:
        strict = self._correct(copy.deepcopy(self.published()))
        close_objects(strict["components"]["schemas"])
        close_objects(strict["paths"])
        return strict

    def _registry(self) -> Registry[Any]:
        specification = specification_with(str(self.kind.META_SCHEMA["$schema"]))
        resource = Resource.from_contents(self.spec(), default_specification=specification)
        registry: Registry[Any] = Registry().with_resource(self.uri, resource)
        return registry

    def _index(self) -> dict[str, tuple[str, str, dict[str, Any]]]:
        return {
            op["operationId"]: (path, method, op)
            for path, item in self.spec()["paths"].items()
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        }

    def _compile(self, ref: str) -> Validator:
        """The schema at ``ref``, resolved once: a validator of ``{"$ref": ref}`` would look
        it up in the description at every check (5x slower on a query parameter)."""
        resolved = self.registry().resolver().lookup(ref)
        checker = self.kind.FORMAT_CHECKER
        return self.kind(resolved.contents, format_checker=checker, _resolver=resolved.resolver)

    def _resolved(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.registry().resolver(base_uri=self.uri).lookup(schema["$ref"]).contents
        return schema

    # --- operations ------------------------------------------------------------------------

    def operation(self, operation_id: str) -> tuple[str, str, dict[str, Any]]:
        """(path, method, operation object) of the operation with ``operation_id``."""
        return self._operations()[operation_id]

    def operation_at(self, method: str, path: str) -> str | None:
        """The id of the operation at ``method path`` (relative to the description's
        server), or None when it has none. A literal segment is preferred to a template
        (``/api/orders`` is that path's whatever ``/api/{resource}`` matches)."""
        found = [
            (path_template.count("{"), op_id)
            for op_id, (path_template, verb, _) in self._operations().items()
            if verb == method.lower() and _matches(path_template, path)
        ]
        return min(found)[1] if found else None

    def routes(
        self,
        base: str,
        name: str,
        operations: Mapping[str, V],
        handle: Callable[[Request[Any, Any, Any], str, V], Awaitable[Any]],
        **options: Any,
    ) -> list[Any]:
        """Each of ``operations`` (its id → what runs it) served at its method and path in
        the description under ``base``, named ``<name>.<id>``, answered by ``handle``
        (the request, the id, what runs it); ``options``: Litestar's own."""

        def route(operation_id: str, run: V) -> Any:
            async def handler(request: Request[Any, Any, Any]) -> Any:
                return await handle(request, operation_id, run)

            path, method, _ = self.operation(operation_id)
            route_name = f"{name}.{operation_id}"
            return operation_route(f"{base}{path}", method, route_name, handler, **options)

        return [route(operation_id, run) for operation_id, run in operations.items()]

    def schema_at(self, operation_id: str, *where: str) -> dict[str, Any]:
        """A schema pointing at ``where`` inside the operation's object."""
        path, method, _ = self.operation(operation_id)
        return reference(self.uri, path, method, *where)

    def documented(self, operation_id: str, response: httpx.Response) -> tuple[str, str]:
        """The status and media type of an answer to the operation, as its description
        keys them; AssertionError when it documents either not."""
        _, _, op = self.operation(operation_id)
        status = str(response.status_code)
        if status not in op["responses"]:
            raise AssertionError(f"{operation_id}: {status} not documented: {response.text}")
        media = response.headers["content-type"].split(";")[0]
        if media not in op["responses"][status]["content"]:
            raise AssertionError(f"{operation_id}: {media}")
        return status, media

    def validator(
        self, kind: Callable[..., V], operation_id: str, *where: str, **options: Any
    ) -> V:
        """A ``kind`` validator (a jsonschema validator class, e.g. a test's OpenAPI
        dialect) of the schema at ``where`` inside the operation's object."""
        return kind(self.schema_at(operation_id, *where), registry=self.registry(), **options)

    def filled(self, schema: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """An answer's object of the description's ``schema``: ``given`` (what the double
        has to say), with each property the schema requires and ``given`` lacks at its
        empty value (null where it may be, a listed value's first, an empty list, an object
        filled alike): the fields nobody here reads, in the shape the marketplace's answers
        have, read from the description, not written out."""
        schemas = self.spec()["components"]["schemas"]
        whole = dict(given)
        for name in schemas[schema].get("required", ()):
            field = schemas[schema]["properties"][name]
            target = field.get("$ref", "").rsplit("/", 1)[-1]
            if "properties" in schemas.get(target, {}) and isinstance(whole.get(name, {}), dict):
                whole[name] = self.filled(target, whole.get(name, {}))
            elif name not in whole:
                whole[name] = _empty(schemas.get(target, field))
        return whole

    # --- what a request and an answer carry -----------------------------------------------

    def problems_at(self, operation_id: str, value: Any, whole: str, *where: str) -> list[str]:
        """What is wrong with ``value`` by the schema at ``where`` in the operation."""
        validator = self._compiled(self.schema_at(operation_id, *where)["$ref"])
        return problems(validator.iter_errors(value), whole)

    def body_problems(
        self, operation_id: str, body: Any, media: str = "application/json", part: str = ""
    ) -> list[str]:
        """What is wrong with a request's body (a multipart body's fields, files as their
        names; or its ``part`` alone), by the description."""
        where = ("requestBody", "content", media, "schema", *(("properties", part) if part else ()))
        return self.problems_at(operation_id, body, part or "body", *where)

    def answer_problems(
        self, operation_id: str, status: str, body: Any, media: str = "application/json"
    ) -> list[str]:
        """What is wrong with an answer's body, by the description."""
        where = ("responses", status, "content", media, "schema")
        return self.problems_at(operation_id, body, "answer", *where)

    def _query_parameters(self, operation_id: str) -> dict[str, tuple[dict[str, Any], str]]:
        """name → (the query parameter, its schema's reference), with its guide's."""
        path, method, op = self.operation(operation_id)
        named: dict[str, tuple[dict[str, Any], str]] = {}
        for index, parameter in enumerate(op.get("parameters", ())):
            where = reference(self.uri, path, method, "parameters", str(index))["$ref"]
            if "$ref" in parameter:
                where = f"{self.uri}{parameter['$ref']}"
                parameter = self._resolved(parameter)
            if parameter.get("in") == "query":
                named[parameter["name"]] = (parameter, f"{where}/schema")
        guide = (*self.undocumented.get("*", ()), *self.undocumented.get(operation_id, ()))
        return {name: ({"name": name}, "") for name in guide} | named

    def refused_query(self, operation_id: str, query: Query) -> str:
        """Why the double refuses ``query`` (its ``query_problems`` joined), "" when it does
        not: a marketplace may ignore unknown parameters, its double says so, so that a
        misspelt filter shows."""
        return "; ".join(self.query_problems(operation_id, query))

    def query_problems(self, operation_id: str, query: Query) -> list[str]:
        """Parameters the operation does not name, required ones missing, values off their
        schema (an array's items comma-separated or its parameter repeated)."""
        known = self._parameters(operation_id)
        found = [f"unknown query parameter {name}" for name in sorted(query) if name not in known]
        found += [
            f"{name} is required"
            for name, (parameter, _) in known.items()
            if parameter.get("required") and name not in query
        ]
        for name, (parameter, where) in known.items():
            given = query.get(name)
            if given is not None and where:
                found += self._value_problems(name, parameter.get("schema", {}), where, given)
        return found

    def _value_problems(
        self, name: str, schema: dict[str, Any], where: str, given: str | Sequence[str]
    ) -> list[str]:
        values = [given] if isinstance(given, str) else list(given)
        schema = self._resolved(schema)
        many = schema.get("type") == "array"
        if many:
            item = self._resolved(schema.get("items", {}))
            value: Any = [self._typed(v, item) for raw in values for v in raw.split(",")]
        else:
            value = self._typed(values[-1], schema)
        found = [f"{name}: given {len(values)} times"] if len(values) > 1 and not many else []
        errors = self._compiled(where).iter_errors(value)
        return found + [f"{name}: {e.message}" for e in errors]

    @staticmethod
    def _typed(raw: str, schema: dict[str, Any]) -> Any:
        """A query value as the JSON value its schema's type describes."""
        kind = schema.get("type")
        if kind == "integer" and INTEGER.fullmatch(raw):
            return int(raw)
        if kind == "boolean" and raw in ("true", "false"):
            return raw == "true"
        return raw


# A type's value where the double has none of its own to give.
EMPTY: dict[str, Any] = {"string": "", "number": 0.0, "integer": 0, "boolean": False, "array": []}


def _empty(schema: dict[str, Any]) -> Any:
    """A schema's empty value: its first listed value, its least, null where it allows
    null (or names no type), else its type's."""
    if "enum" in schema or "minimum" in schema:
        return schema["enum"][0] if "enum" in schema else schema["minimum"]
    kind = schema.get("type", "null")
    kinds = kind if isinstance(kind, list) else [kind]
    return None if "null" in kinds else copy.copy(EMPTY[kinds[0]])


def problems(errors: Iterable[ValidationError], whole: str) -> list[str]:
    """Each error as "<where>: <message>" (``whole`` when it is the value itself), sorted."""
    return [
        f"{'.'.join(map(str, e.absolute_path)) or whole}: {e.message}"
        for e in sorted(errors, key=str)
    ]
