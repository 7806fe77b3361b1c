"""The links the API hands out: the product's own routes on the caller's origin, never a key."""

from __future__ import annotations

import azure.functions as func

from triggers.links import api_url


def _request(url: str) -> func.HttpRequest:
    return func.HttpRequest("POST", url, body=b"")


def test_a_link_is_on_the_origin_the_caller_used_with_no_query_and_so_no_key() -> None:
    request = _request("https://cp.example.net/API/Deployments/d1/rollback?code=host-key&x=1")
    assert api_url(request, "deployments", "d2") == "https://cp.example.net/api/deployments/d2"


def test_each_segment_is_percent_encoded_so_a_value_cannot_add_a_path_or_a_query() -> None:
    request = _request("http://127.0.0.1:7071/api/drift/runs")
    assert api_url(request, "drift", "runs", "a/b?code=x") == "http://127.0.0.1:7071/api/drift/runs/a%2Fb%3Fcode%3Dx"
