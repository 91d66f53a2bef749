"""Validation errors say what to do: point ids out of range, a body sent without
`Content-Type: application/json` (against the in-process gateway stack, real HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.services.gateway.conftest import Stack

ID_RULE = "a point id is an integer from 0 to 2^64-1 or a string of 1 to 256 characters"


@pytest.fixture
def key(stack: Stack) -> dict[str, str]:
    h = {"Authorization": f"Bearer {stack.account()['key']}"}
    assert stack.http.put("/v1/collections/docs", json={"dimension": 2}, headers=h).status_code == 201
    assert stack.http.post("/v1/collections/docs/points", json={"points": [{"id": 1, "vector": [1, 2]}]}, headers=h).status_code == 200
    return h


@pytest.mark.parametrize("path,body,field,got", [
    ("points", {"points": [{"id": -1, "vector": [1, 2]}]}, "points[0].id", "-1"),
    ("points", {"points": [{"id": 5, "vector": [1, 2]}, {"id": 2**64, "vector": [1, 2]}]}, "points[1].id", str(2**64)),
    ("points", {"points": [{"id": "", "vector": [1, 2]}]}, "points[0].id", "''"),
    ("points", {"points": [{"id": 1.5, "vector": [1, 2]}]}, "points[0].id", "1.5"),
    ("points/get", {"ids": [3, -2]}, "ids[1]", "-2"),
    ("points/delete", {"ids": [-7]}, "ids[0]", "-7"),
    ("points/scroll", {"offset": -1}, "offset", "-1"),
])
def test_an_out_of_range_id_names_the_rule(stack: Stack, key: dict[str, str], path: str, body: Any, field: str, got: str) -> None:
    r = stack.http.post(f"/v1/collections/docs/{path}", json=body, headers=key)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err == {"code": "invalid_argument", "field": field, "message": f"{field}: {ID_RULE}, got {got}"}
    assert "constrained" not in r.text and "more)" not in r.text
    assert stack.http.post("/v1/collections/docs/points/count", json={}, headers=key).json() == {"count": 1}


def test_two_bad_fields_count_fields_not_union_arms(stack: Stack, key: dict[str, str]) -> None:
    body = {"points": [{"id": -1, "vector": [1, 2]}, {"id": -2, "vector": [1, 2]}]}
    err = stack.http.post("/v1/collections/docs/points", json=body, headers=key).json()["error"]
    assert err["message"] == f"points[0].id: {ID_RULE}, got -1 (and 1 more)"


@pytest.mark.parametrize("content_type,had", [(None, "no Content-Type"), ("text/plain", "Content-Type 'text/plain'"),
                                              ("application/x-www-form-urlencoded", "Content-Type 'application/x-www-form-urlencoded'")])
def test_a_body_without_the_json_content_type_says_to_send_it(stack: Stack, key: dict[str, str], content_type: str | None, had: str) -> None:
    headers = {**key, **({"Content-Type": content_type} if content_type else {})}
    r = stack.http.post("/v1/collections/docs/points", content=json.dumps({"points": [{"id": 2, "vector": [1, 2]}]}), headers=headers)
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "invalid_json", "field": "body",
        "message": f"send the body as JSON with the header `Content-Type: application/json` (this request had {had})",
    }
    assert stack.http.post("/v1/collections/docs/points/count", json={}, headers=key).json() == {"count": 1}


def test_bad_json_with_the_right_content_type_still_says_what_is_wrong(stack: Stack, key: dict[str, str]) -> None:
    r = stack.http.post("/v1/collections/docs/points", content="{bad", headers={**key, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("the body must be a JSON object: ")
