"""Plain RuntimeConfiguration refuses credentials, names the platform owns and control characters (422 on the API),
each naming the field; ordinary values that merely mention such words stay plain."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.domain.manifest import API_VERSION, parse_release
from controlplane.errors import FieldError, InvalidManifest

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1t\n-----END RSA PRIVATE KEY-----"


def release(configuration: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Release",
        "metadata": {"name": "orders"},
        "spec": {
            "environment": {"name": "dev", "tier": "nonprod", "compute": "local"},
            "strategy": {"type": "RollingHealthGated"},
            "services": [
                {"name": "orders", "image": "example.azurecr.io/orders:1.0.0", "configuration": configuration}
            ],
        },
    }


def refusal(key: str, value: str) -> FieldError:
    with pytest.raises(InvalidManifest) as caught:
        parse_release(release({key: value}))
    [error] = caught.value.errors
    return error


@pytest.mark.parametrize(
    ("key", "value", "shape"),
    [
        ("STORAGE", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=bWFkZS11cA==;EndpointSuffix=x",
         "connection string with AccountKey="),
        ("BUS", "Endpoint=sb://x/;SharedAccessKeyName=send;SharedAccessKey=abc=", "SharedAccessKey="),
        ("DB", "Server=tcp:db,1433;User ID=app;Password=hunter2;", "Password="),
        ("DB", "Server=db;Uid=app;Pwd=hunter2", "Pwd="),
        ("BLOB_URL", "https://a.blob.core.windows.net/c?sv=2022-11-02&se=2026-01-01&sp=r&sig=abc", "a SAS token"),
        ("CERT", PEM, "a PEM private key"),
        ("CALLER", f"Bearer {JWT}", "a JWT"),
        ("DB_PASSWORD", "hunter2", 'the key "DB_PASSWORD" names a credential'),
        ("GithubToken", "ghp_x", 'the key "GithubToken" names a credential'),
        ("stripe.api-key", "sk_live_x", 'the key "stripe.api-key" names a credential'),
        ("AZURE_CLIENT_SECRET", "x", "names a credential"),
    ],
)  # fmt: skip
def test_a_credential_in_plain_configuration_is_refused_pointing_to_secrets(key: str, value: str, shape: str) -> None:
    error = refusal(key, value)
    assert error.path in (f"spec.services[0].configuration.{key}", f'spec.services[0].configuration["{key}"]')
    assert shape in error.reason and "SecretBinding" in error.reason and "under secrets" in error.reason
    assert value not in error.reason, "the refusal never echoes the credential"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TOKEN_TTL", "3600"), ("SECRET_NAME", "db-password"), ("PASSWORD_MIN_LENGTH", "12"), ("DB_PASSWORD", ""),
        ("TOKEN_URL", "https://login.example.com/token"), ("API_KEY", "@Microsoft.KeyVault(SecretUri=https://v/s)"),
        ("DB_PASSWORD", "${DB_PASSWORD}"), ("DB", "Server=db;Database=orders;Trusted_Connection=True"),
        ("QUERY", "https://example.com/search?q=sig=1"), ("GREETING", "eyJ is how base64 JSON starts"),
        ("CACHE_KEY", "orders-v1"), ("PUBLIC_CERT", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"),
        ("MOTD", "tabs\tand\nnew lines\r\n are fine"),
    ],
)  # fmt: skip
def test_ordinary_values_stay_plain(key: str, value: str) -> None:
    assert parse_release(release({key: value})).spec.services[0].configuration == {key: value}


@pytest.mark.parametrize("value", ["nul\x00byte", "escape\x1b[31m", "del\x7f", "c1\x85"])
def test_control_characters_in_values_are_refused(value: str) -> None:
    error = refusal("GREETING", value)
    assert error.path == "spec.services[0].configuration.GREETING"
    assert error.reason.startswith("must not contain control characters")


@pytest.mark.parametrize(
    "key",
    ["PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME", "PORT", "port", "HOME", "SERVICE_NAME",
     "CONTAINER_APP_NAME", "KUBERNETES_SERVICE_HOST", "IDENTITY_ENDPOINT", "DYLD_INSERT_LIBRARIES"],
)  # fmt: skip
def test_names_the_platform_owns_are_refused_as_configuration_keys(key: str) -> None:
    error = refusal(key, "x")
    assert error.path == f"spec.services[0].configuration.{key}"
    assert error.reason.startswith(f'invalid key: "{key}" is an environment variable the platform sets')


def test_keys_with_control_characters_are_refused() -> None:
    error = refusal("A\x00B", "x")
    assert error.reason.startswith("invalid key: must start with a letter")


def test_every_offending_entry_is_reported_at_once() -> None:
    with pytest.raises(InvalidManifest) as caught:
        parse_release(release({"PATH": "/bin", "DB_PASSWORD": "x", "NOTE": "a\x00", "LOG_LEVEL": "info"}))
    assert sorted(e.path.rsplit(".", 1)[1] for e in caught.value.errors) == ["DB_PASSWORD", "NOTE", "PATH"]
