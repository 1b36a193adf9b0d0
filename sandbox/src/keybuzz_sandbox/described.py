"""Reading a marketplace's OpenAPI description the way the doubles and their tests check
against it: object schemas closed (descriptions allow any extra field, so a renamed
optional field would pass), operations found by id, and references to a schema inside an
operation for a validator over the description's registry (``Described``)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from functools import cache
from importlib.resources import files
from typing import Any, TypeVar

import httpx
from jsonschema import ValidationError
from referencing import Registry, Resource, Specification

COMPOSITIONS = ("allOf", "anyOf", "oneOf", "$ref")


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


def published(package: str, document: str) -> dict[str, Any]:
    """A double's description as its marketplace published it (``openapi/<document>`` in
    the double's ``package``)."""
    path = files(package) / "openapi" / document
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return spec


def strict_copy(
    raw: dict[str, Any], correct: Callable[[dict[str, Any]], None], *, paths: bool = False
) -> dict[str, Any]:
    """A copy of ``raw`` with its schemas corrected (``correct``, given them) and closed;
    ``paths``: the operations' inline schemas closed too."""
    spec = copy.deepcopy(raw)
    correct(spec["components"]["schemas"])
    close_objects(spec["components"]["schemas"])
    if paths:
        close_objects(spec["paths"])
    return spec


def find_operation(spec: dict[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """(path, method, operation object) of the operation with ``operation_id``."""
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return path, method, op
    raise KeyError(operation_id)


def reference(uri: str, path: str, method: str, *where: str) -> dict[str, Any]:
    """A schema pointing at ``where`` inside the operation at ``path``/``method`` of the
    description registered as ``uri``."""
    parts = ("paths", path, method, *where)
    pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    return {"$ref": f"{uri}#/{pointer}"}


V = TypeVar("V")


class Described:
    """One marketplace's description as its double and its tests read it: ``strict`` gives
    it closed and corrected, registered as ``uri`` under its JSON Schema ``specification``
    (draft 4 for OpenAPI 3.0, 2020-12 for 3.1)."""

    def __init__(
        self,
        uri: str,
        strict: Callable[[], dict[str, Any]],
        specification: Specification[Any],
    ) -> None:
        self.uri = uri
        self._strict = strict
        self._specification = specification
        self.registry = cache(self._registry)

    def _registry(self) -> Registry[Any]:
        resource = Resource.from_contents(self._strict(), default_specification=self._specification)
        return Registry().with_resource(self.uri, resource)

    def operation(self, operation_id: str) -> tuple[str, str, dict[str, Any]]:
        """(path, method, operation object) of the operation with ``operation_id``."""
        return find_operation(self._strict(), operation_id)

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
        """A ``kind`` validator (a jsonschema validator class) of the schema at ``where``
        inside the operation's object."""
        return kind(self.schema_at(operation_id, *where), registry=self.registry(), **options)


def problems(errors: Iterable[ValidationError], whole: str) -> list[str]:
    """Each error as "<where>: <message>" (``whole`` when it is the value itself), sorted."""
    return [
        f"{'.'.join(map(str, e.absolute_path)) or whole}: {e.message}"
        for e in sorted(errors, key=str)
    ]
