"""The Easy Auth emulation's encodings: App Service's principal headers and /.auth/me, the signed session cookie,
the login form's token and fields, the per-host secret."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from funchost.easy_auth import (
    NAME_CLAIM,
    OBJECT_ID_CLAIM,
    ROLE_TYPE,
    SECRET_FILE,
    SESSION_SECONDS,
    EasyAuth,
    LoginFieldError,
    Principal,
    injected_header_names,
    principal_from_form,
)
from funchost.errors import PermanentError

ALICE = Principal("aad", "0b5e-oid", "alice@contoso.com", ("Reader", "Deployer"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_principal_header_is_base64_json_in_app_services_shape() -> None:
    headers = ALICE.headers()

    document = json.loads(base64.b64decode(headers["X-MS-CLIENT-PRINCIPAL"]))
    assert document["auth_typ"] == "aad"
    assert (document["name_typ"], document["role_typ"]) == (NAME_CLAIM, ROLE_TYPE)
    claims = [(claim["typ"], claim["val"]) for claim in document["claims"]]
    assert (NAME_CLAIM, "alice@contoso.com") in claims
    assert (OBJECT_ID_CLAIM, "0b5e-oid") in claims
    assert [val for typ, val in claims if typ == "roles"] == ["Reader", "Deployer"]
    assert headers["X-MS-CLIENT-PRINCIPAL-ID"] == "0b5e-oid"
    assert headers["X-MS-CLIENT-PRINCIPAL-NAME"] == "alice@contoso.com"
    assert headers["X-MS-CLIENT-PRINCIPAL-IDP"] == "aad"


def test_auth_me_is_app_services_array_of_identities() -> None:
    (identity,) = ALICE.me()
    assert identity["provider_name"] == "aad"
    assert identity["user_id"] == "alice@contoso.com"
    assert {"typ": "roles", "val": "Deployer"} in identity["user_claims"]


def test_a_session_cookie_round_trips_until_it_expires() -> None:
    clock = Clock()
    auth = EasyAuth(b"s" * 32, clock)
    cookie = auth.session_cookie(ALICE)

    assert auth.principal_of(cookie) == ALICE
    clock.now += SESSION_SECONDS - 1
    assert auth.principal_of(cookie) == ALICE
    clock.now += 1
    assert auth.principal_of(cookie) is None


def test_a_cookie_edited_or_signed_by_another_host_is_refused() -> None:
    auth = EasyAuth(b"s" * 32)
    cookie = auth.session_cookie(ALICE)
    body, _, mac = cookie.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["roles"] = ["Operator"]
    edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    assert auth.principal_of(f"{edited}.{mac}") is None
    assert auth.principal_of(f"{body}.{mac[:-2]}") is None
    assert auth.principal_of(body) is None
    assert auth.principal_of("") is None and auth.principal_of(None) is None
    assert EasyAuth(b"t" * 32).principal_of(cookie) is None


def test_the_form_token_is_not_a_session_and_a_session_is_not_a_form_token() -> None:
    auth = EasyAuth(b"s" * 32)
    token = auth.form_token()
    assert auth.form_token_valid(token)
    assert auth.principal_of(token) is None
    assert not auth.form_token_valid(auth.session_cookie(ALICE))
    assert not auth.form_token_valid("") and not auth.form_token_valid("123.abc")


def test_the_form_gives_a_principal_with_roles_trimmed_and_deduplicated() -> None:
    fields = {"userId": " 42 ", "userDetails": "bob@contoso.com", "userRoles": "Reader, Approver,,Reader"}
    assert principal_from_form("aad", fields) == Principal("aad", "42", "bob@contoso.com", ("Reader", "Approver"))
    assert principal_from_form("aad", {"userId": "1", "userDetails": "x"}).roles == ()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"userDetails": "bob"}, "userId"),
        ({"userId": "1", "userDetails": "  "}, "userDetails"),
        ({"userId": "1\n2", "userDetails": "bob"}, "userId"),
        ({"userId": "1", "userDetails": "b" * 257}, "userDetails"),
        ({"userId": "1", "userDetails": "bob", "userRoles": "Reader, Release Manager"}, "userRoles"),
    ],
)
def test_a_field_that_cannot_be_used_is_named(fields: dict[str, str], field: str) -> None:
    with pytest.raises(LoginFieldError) as error:
        principal_from_form("aad", fields)
    assert error.value.field == field


def test_only_the_headers_app_service_injects_are_picked_for_dropping() -> None:
    headers = {"x-ms-client-principal": "a", "X-MS-CLIENT-PRINCIPAL-NAME": "b", "X-MS-TOKEN-AAD-ID-TOKEN": "c"}
    assert injected_header_names({**headers, "X-MS-Other": "d", "Accept": "*/*"}) == list(headers)


def test_the_secret_is_created_private_once_and_kept(tmp_path: Path) -> None:
    first = EasyAuth.from_settings({}, tmp_path / "state")
    assert first is not None
    path = tmp_path / "state" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = EasyAuth.from_settings({"WEBSITE_AUTH_ENABLED": "true"}, tmp_path / "state")
    assert again is not None and again.principal_of(first.session_cookie(ALICE)) == ALICE


def test_a_truncated_secret_is_named_and_app_services_setting_turns_it_off(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_bytes(b"short")
    with pytest.raises(PermanentError, match=SECRET_FILE):
        EasyAuth.from_settings({}, tmp_path)
    assert EasyAuth.from_settings({"WEBSITE_AUTH_ENABLED": "False"}, tmp_path) is None


def test_with_the_emulation_on_the_app_is_told_as_app_service_tells_it(tmp_path: Path) -> None:
    settings: dict[str, str] = {}
    assert EasyAuth.from_settings(settings, tmp_path) is not None
    assert settings == {"WEBSITE_AUTH_ENABLED": "True"}


def test_a_bearer_token_round_trips_until_it_expires_and_is_no_session() -> None:
    clock = Clock()
    auth = EasyAuth(b"k" * 32, clock)
    token = auth.bearer_token(ALICE, seconds=600)
    assert auth.principal_of_bearer(token) == ALICE
    assert auth.principal_of(token) is None  # a token is not a cookie, nor the other way round
    assert auth.principal_of_bearer(auth.session_cookie(ALICE)) is None
    assert EasyAuth(b"o" * 32, clock).principal_of_bearer(token) is None  # another host's
    clock.now += 600
    assert auth.principal_of_bearer(token) is None
