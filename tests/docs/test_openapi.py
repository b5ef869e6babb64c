"""docs/openapi.json describes the order API as the views answer: the same paths and methods, every documented
answer produced by the real views and valid under its schema, every example valid, the choices the models'."""

import contextlib
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.db.models import Field
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from psycopg_pool import PoolTimeout
from pytest_django import Settings

from orders import services, views
from orders.models import Flavour, Order, Size, Step
from tests.docs import markdown, schema

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

DOCUMENT: dict[str, Any] = json.loads(markdown.read("docs/openapi.json"))
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
ORDER = DOCUMENT["paths"]["/api/orders"]["post"]["requestBody"]["content"]["application/json"]["examples"]["order"]


def api_routes(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[str]:
    """Every route of the URLconf under api/, written as OpenAPI writes paths (/api/orders/{number})."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from api_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/"):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", "1", path)


def operations() -> set[tuple[str, str]]:
    return {(path, method) for path, item in DOCUMENT["paths"].items() for method in item if method in METHODS}


@pytest.fixture
def api(settings: Settings, db: None) -> Client:
    """The test client, with a cache of the test's own so the rate-limit counters start at zero."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "docs"}}
    cache.clear()
    return Client()


@pytest.mark.services
def test_the_document_has_every_path_and_method_of_the_api_and_no_other(api: Client) -> None:
    served = set()
    for path in set(api_routes()):
        for method in METHODS:
            if getattr(api, method)(concrete(path)).status_code != 405:
                served.add((path, method))
    assert operations() == served


def media_schema(path: str, method: str, status: int) -> dict[str, Any] | None:
    response = DOCUMENT["paths"][path][method]["responses"][str(status)]
    content = response.get("content")
    return content["application/json"]["schema"] if content else None


def check(response: "_MonkeyPatchedWSGIResponse", path: str, method: str, answered: set[int]) -> None:
    """The answer is documented for the operation, its body valid under the schema, its headers present."""
    responses = DOCUMENT["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, f"{method} {path}: {response.status_code} is not documented"
    documented = responses[str(response.status_code)]
    body_schema = media_schema(path, method, response.status_code)
    if body_schema is not None:
        assert response["Content-Type"] == "application/json"
        assert schema.errors(response.json(), body_schema, DOCUMENT) == []
    for header in documented.get("headers", {}):
        if header != "Idempotent-Replayed":  # only on a replay, checked there
            assert header in response, f"{method} {path} {response.status_code} lacks {header}"
            assert schema.errors(response[header], documented["headers"][header]["schema"], DOCUMENT) == []
    answered.add(response.status_code)


@contextlib.contextmanager
def unreachable_database(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> Iterator[None]:
    """``module.name`` raises what a pool that gives no connection in time raises (tests/project/test_unavailable.py
    answers through daphne with no database at all)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        message = "couldn't get a connection after 5.00 sec"
        raise OperationalError(message) from PoolTimeout(message)

    with monkeypatch.context() as patched:
        patched.setattr(module, name, refuse)
        yield


def post(
    api: Client, body: Any, key: str | None = None, content_type: str = "application/json"
) -> "_MonkeyPatchedWSGIResponse":
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.post("/api/orders", data, content_type=content_type, headers=headers)


@pytest.mark.services
def test_every_answer_documented_for_placing_an_order_is_one_the_view_gives_valid_under_its_schema(
    api: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: set[int] = set()
    path, method = "/api/orders", "post"
    placed = post(api, ORDER["value"], key="order-1")
    check(placed, path, method, answered)
    assert placed["Location"] == f"/api/orders/{placed.json()['number']}"
    replayed = post(api, ORDER["value"], key="order-1")
    check(replayed, path, method, answered)
    assert replayed["Idempotent-Replayed"] == "true" and replayed.json()["id"] == placed.json()["id"]
    check(post(api, {**ORDER["value"], "size": "large"}, key="order-1"), path, method, answered)
    check(post(api, {**ORDER["value"], "customer_email": "nope", "flavour": "liquorice"}), path, method, answered)
    check(post(api, "NaN"), path, method, answered)
    check(post(api, ORDER["value"], key="\u00e9"), path, method, answered)
    check(post(api, "flavour=vanilla", content_type="text/plain"), path, method, answered)
    check(api.put(path), path, method, answered)
    settings.ORDER_RATE_LIMIT_PER_EMAIL = 1
    check(post(api, ORDER["value"]), path, method, answered)
    settings.ORDER_RATE_LIMIT_PER_EMAIL = 100
    with unreachable_database(monkeypatch, services, "place_order"):
        check(post(api, {**ORDER["value"], "customer_email": "other@example.com"}), path, method, answered)
    assert {int(status) for status in DOCUMENT["paths"][path][method]["responses"]} == answered


@pytest.mark.services
def test_every_answer_documented_for_reading_an_order_is_one_the_view_gives_valid_under_its_schema(
    api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: set[int] = set()
    path, method = "/api/orders/{number}", "get"
    number = post(api, ORDER["value"]).json()["number"]
    check(api.get(f"/api/orders/{number}"), path, method, answered)
    check(api.get(f"/api/orders/{number + 1}"), path, method, answered)
    check(api.post(f"/api/orders/{number}"), path, method, answered)
    with unreachable_database(monkeypatch, views, "order_json"):
        check(api.get(f"/api/orders/{number}"), path, method, answered)
    assert {int(status) for status in DOCUMENT["paths"][path][method]["responses"]} == answered


def examples() -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """Every example of the document: where it is, its value, its schema."""
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            bodies = {"request": operation.get("requestBody", {})}
            bodies |= {status: answer for status, answer in operation["responses"].items()}
            for part, body in bodies.items():
                for media in body.get("content", {}).values():
                    for name, example in media.get("examples", {}).items():
                        yield f"{method} {path} {part} {name}", example["value"], media["schema"]


def test_every_example_of_the_document_is_valid_under_its_schema() -> None:
    found = list(examples())
    assert len(found) >= 8
    for where, value, body_schema in found:
        assert schema.errors(value, body_schema, DOCUMENT) == [], where


def test_every_json_example_of_the_api_page_is_an_example_of_the_document() -> None:
    values = [value for _, value, _ in examples()]
    blocks = markdown.code_blocks(markdown.read("docs/api.md"), "json")
    assert blocks
    for block in blocks:
        assert json.loads(block) in values, f"docs/api.md shows an example docs/openapi.json lacks:\n{block}"


def test_the_choices_of_the_document_are_the_models() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert schemas["Flavour"]["enum"] == Flavour.values
    assert schemas["Size"]["enum"] == Size.values
    assert schemas["Status"]["enum"] == Order.Status.values
    assert schemas["Step"]["properties"]["kind"]["enum"] == Step.Kind.values
    assert schemas["Step"]["properties"]["status"]["enum"] == Step.Status.values
    fields = schemas["OrderRequest"]["properties"]
    for name, field in fields.items():
        if "maxLength" in field:
            assert field["maxLength"] == cast("Field[Any, Any]", Order._meta.get_field(name)).max_length, name


def test_the_validator_refuses_what_the_schemas_refuse() -> None:
    order = DOCUMENT["components"]["schemas"]["Order"]
    assert schema.errors({"id": "5"}, order, DOCUMENT)
    assert schema.errors({"error": "x", "extra": 1}, DOCUMENT["components"]["schemas"]["Error"], DOCUMENT)
    with pytest.raises(ValueError, match="does not check"):
        schema.errors(1, {"multipleOf": 2}, DOCUMENT)
