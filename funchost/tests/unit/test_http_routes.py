"""Route templates compile and match as the Functions host's (ASP.NET Core) templates do."""

from __future__ import annotations

import pytest

from funchost.functions import HTTP, FunctionEntry, FunctionIndex
from funchost.http_routes import HttpRoute, InvalidRoutes, compile_route, compile_routes


def _entry(name: str, route: str | None, **trigger: object) -> FunctionEntry:
    return FunctionEntry(
        name=name,
        trigger_type=HTTP,
        trigger={"type": HTTP, "name": "req", "route": route, **trigger},
        inputs=(),
        handler=lambda req: None,
    )


def _route(template: str) -> HttpRoute:
    return compile_route(_entry("f", template))


@pytest.mark.parametrize(
    ("template", "path", "params"),
    [
        ("deployments/{id}", "deployments/d1", {"id": "d1"}),
        ("deployments/{id}", "DEPLOYMENTS/d1", {"id": "d1"}),
        ("deployments/{id}", "deployments", None),
        ("items/{id:int}/{part?}", "items/7", {"id": "7"}),
        ("items/{id:int}/{part?}", "items/7/x", {"id": "7", "part": "x"}),
        ("items/{id:int}/{part?}", "items/x", None),
        ("items/{id:int}", "items/2147483648", None),
        ("items/{id:long}", "items/2147483648", {"id": "2147483648"}),
        ("pages/{n:range(1,9)=1}", "pages", {"n": "1"}),
        ("pages/{n:range(1,9)=1}", "pages/12", None),
        ("files/{*rest}", "files", {}),
        ("files/{*rest}", "files/a/b.txt", {"rest": "a/b.txt"}),
        ("v{major}.{minor}", "v1.2", {"major": "1", "minor": "2"}),
        ("runs/{id:guid}", "runs/0f8fad5b-d9cb-469f-a165-70867728950e", {"id": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
        ("runs/{id:guid}", "runs/not-a-guid", None),
        ("flags/{on:bool}", "flags/True", {"on": "True"}),
        ("tags/{t:minlength(2):maxlength(3)}", "tags/abcd", None),
        ("tags/{t:length(2,3)}", "tags/ab", {"t": "ab"}),
        ("scores/{s:double}", "scores/1.5e3", {"s": "1.5e3"}),
        ("scores/{s:double}", "scores/nan", None),
        ("at/{d:datetime}", "at/2024-05-01T10:00:00", {"d": "2024-05-01T10:00:00"}),
        ("codes/{c:regex(^[a-z]{{2}}\\d$)}", "codes/ab1", {"c": "ab1"}),
        ("codes/{c:regex(^[a-z]{{2}}\\d$)}", "codes/abc", None),
        ("lit/{{x}}", "lit/{x}", {}),
        # Matching ignores case everywhere (ASP.NET Core templates); values keep the case that was sent.
        ("v{major}.{minor}", "V1.2", {"major": "1", "minor": "2"}),
        ("Deployments/{Id}", "deployments/D1", {"Id": "D1"}),
        ("names/{n:alpha}", "NAMES/AbC", {"n": "AbC"}),
        ("flags/{on:bool}", "FLAGS/TRUE", {"on": "TRUE"}),
    ],
)
def test_templates_match_like_the_functions_host(template: str, path: str, params: dict[str, str] | None) -> None:
    assert _route(template).match(path) == params


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("x/{id:bogus}", "unknown constraint 'bogus'"),
        ("x/{id:int(3)}", "takes no arguments"),
        ("x/{id:range(1)}", "takes 2 integer argument(s)"),
        ("x/{id:regex([)}", "bad regular expression"),
        ("x/{*rest}/y", "must be the last segment"),
        ("x/{id}/{ID}", "appears twice"),
        ("x/{id", "unclosed '{'"),
        ("x//y", "empty segment"),
    ],
)
def test_bad_templates_are_rejected_with_the_reason(template: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        _route(template)


def test_every_bad_route_is_named_at_once() -> None:
    index = FunctionIndex([_entry("one", "a/{x:nope}"), _entry("two", "b/{y"), _entry("ok", "c")])
    with pytest.raises(InvalidRoutes) as raised:
        compile_routes(index)
    assert [error.path for error in raised.value.errors] == ["one.route", "two.route"]


def test_the_most_specific_route_comes_first() -> None:
    index = FunctionIndex(
        [
            _entry("rest", "items/{*rest}"),
            _entry("any", "items/{id}"),
            _entry("int", "items/{id:int}"),
            _entry("lit", "items/latest"),
        ]
    )
    assert [route.function for route in compile_routes(index)] == ["lit", "int", "any", "rest"]


def test_defaults_are_the_function_name_every_method_and_function_level() -> None:
    route = compile_route(_entry("status", None))
    assert (route.template, route.methods, route.auth_level) == ("status", None, "function")
    assert route.allows("PATCH")
    assert not compile_route(_entry("g", "g", methods=["get"])).allows("POST")
