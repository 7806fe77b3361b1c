"""The local host's keys: kinds, files and checks as the Functions host has them.

Sources (Azure/azure-functions-host): ``Security/KeyManagement/SecretManager.cs`` (which key is which level,
in which order; keys generated on demand), ``FileSystemSecretsRepository.cs`` and
``Serialization/ScriptSecretSerializerV1.cs`` (files and their shape), ``Security/Authorization/AuthUtility.cs``
and ``Policies/AuthorizationOptionsExtensions.cs`` (what each endpoint accepts),
``Authentication/Keys/AuthenticationLevelHandler.cs`` (header before query).
"""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from funchost.errors import PermanentError
from funchost.keys import (
    ADMIN,
    FUNCTION,
    SYSTEM,
    Grant,
    KeyKind,
    KeyStore,
    offered_key,
    open_key_store,
    system_key_name,
)

DURABLE_KEY = "durabletask_extension"


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "secrets")


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_host_secrets_are_generated_once_in_the_hosts_file_shape_and_private(store: KeyStore) -> None:
    master, host, system = store.master_key(), store.host_key(), store.system_key()
    document = json.loads((store.directory / "host.json").read_text())
    assert document["masterKey"] == {"name": "master", "value": master, "encrypted": False}
    assert document["functionKeys"] == [{"name": "default", "value": host, "encrypted": False}]
    assert document["systemKeys"] == [{"name": DURABLE_KEY, "value": system, "encrypted": False}]
    assert _private(store.directory / "host.json")
    assert len(master) >= 50 and len({master, host, system}) == 3
    assert KeyStore(store.directory).master_key() == master  # another process reads the same keys


def test_a_system_key_missing_from_the_file_is_added_on_demand_and_kept(store: KeyStore) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "host.json").write_text(json.dumps({"masterKey": {"name": "master", "value": "m"}}))
    system = store.system_key()
    document = json.loads((store.directory / "host.json").read_text())
    assert document["systemKeys"] == [{"name": DURABLE_KEY, "value": system, "encrypted": False}]
    assert document["masterKey"]["value"] == "m"
    assert _private(store.directory / "host.json")
    assert KeyStore(store.directory).system_key() == system


def test_each_function_gets_its_own_default_key_in_a_lower_case_file(store: KeyStore) -> None:
    first, second = store.function_key("CreateDeployment"), store.function_key("list_deployments")
    assert first != second
    document = json.loads((store.directory / "createdeployment.json").read_text())
    assert document == {"keys": [{"name": "default", "value": first, "encrypted": False}]}
    assert _private(store.directory / "createdeployment.json")
    assert store.function_key("createdeployment") == first  # function names ignore case


def test_two_stores_creating_the_same_files_agree_on_the_keys(tmp_path: Path) -> None:
    one, two = KeyStore(tmp_path / "s"), KeyStore(tmp_path / "s")
    assert one.master_key() == two.master_key()
    assert one.function_key("f") == two.function_key("f")
    assert sorted(path.name for path in (tmp_path / "s").iterdir()) == ["f.json", "host.json"]  # no temporaries


def test_stores_racing_to_create_the_files_all_get_the_same_keys(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    found: list[tuple[str, str]] = []

    def create() -> None:
        store = KeyStore(tmp_path / "race")
        barrier.wait()
        found.append((store.master_key(), store.function_key("f")))

    workers = [threading.Thread(target=create) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(found) == 8 and len(set(found)) == 1


def test_keys_added_to_the_file_by_hand_are_used(store: KeyStore) -> None:
    store.master_key()
    path = store.directory / "host.json"
    document = json.loads(path.read_text())
    document["functionKeys"].append({"name": "pipeline", "value": "pipeline-secret", "encrypted": False})
    path.write_text(json.dumps(document))
    assert store.identify("pipeline-secret", "any") == Grant(FUNCTION, "pipeline")
    assert store.host_key("pipeline") == "pipeline-secret"


def test_an_offered_key_is_identified_in_the_hosts_order(store: KeyStore) -> None:
    assert store.identify(store.master_key(), "orders") == Grant(ADMIN, "master")
    assert store.identify(store.system_key(), "orders") == Grant(SYSTEM, DURABLE_KEY)
    assert store.identify(store.host_key(), "orders") == Grant(FUNCTION, "default")
    assert store.identify(store.function_key("orders"), "orders") == Grant(FUNCTION, "default")
    assert store.identify(store.function_key("orders"), "billing") is None  # another function's key
    assert store.identify(store.function_key("orders")) is None  # a webhook has no function keys
    assert store.identify("nope", "orders") is None
    assert store.identify("", "orders") is None


@pytest.mark.parametrize(
    ("grant", "function_level", "admin_level", "durable_webhook"),
    [
        (Grant(ADMIN, "master"), True, True, True),  # admin passes every requirement
        (Grant(FUNCTION, "default"), True, False, False),  # host or function key
        (Grant(SYSTEM, DURABLE_KEY), False, False, True),  # the extension's own system key
        (Grant(SYSTEM, "Durabletask_Extension"), False, False, True),  # key names compare ignoring case
        (Grant(SYSTEM, "other_extension"), False, False, False),  # another extension's system key
    ],
)
def test_what_each_grant_opens_as_authutility_decides(
    grant: Grant, function_level: bool, admin_level: bool, durable_webhook: bool
) -> None:
    assert grant.opens_function("function") is function_level
    assert grant.opens_function("admin") is admin_level
    assert grant.opens_webhook("durabletask") is durable_webhook


def test_the_system_key_name_of_an_extension_is_lower_case() -> None:
    assert system_key_name("DurableTask") == DURABLE_KEY


def test_the_header_wins_over_the_query_even_when_empty() -> None:
    assert offered_key({"x-functions-key": "h"}, {"code": "q"}) == "h"
    assert offered_key({"x-functions-key": ""}, {"code": "q"}) == ""
    assert offered_key({}, {"code": "q"}) == "q"
    assert offered_key({}, {}) == ""


def test_key_prints_each_kind(store: KeyStore) -> None:
    assert store.key(KeyKind.MASTER) == store.master_key()
    assert store.key(KeyKind.HOST) == store.host_key()
    assert store.key(KeyKind.SYSTEM) == store.system_key()
    assert store.key(KeyKind.FUNCTION, "orders") == store.function_key("orders")


def test_an_unknown_key_name_is_named_with_the_known_ones(store: KeyStore) -> None:
    with pytest.raises(PermanentError, match=r"no host key named 'ci' \(have: default\)"):
        store.host_key("ci")


def _settings(root: Path, values: dict[str, str]) -> None:
    (root / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))


def test_functions_host_key_replaces_the_default_host_key_without_being_stored(tmp_path: Path) -> None:
    _settings(tmp_path, {"FUNCTIONS_HOST_KEY": "from-settings"})
    from_env = open_key_store(tmp_path, {"FUNCTIONS_HOST_KEY": "from-env"})
    assert from_env.host_key() == "from-env"
    assert from_env.identify("from-env", "f") == Grant(FUNCTION, "default")
    assert "from-env" not in (tmp_path / ".local" / "secrets" / "host.json").read_text()
    assert open_key_store(tmp_path, {"FUNCTIONS_HOST_KEY": "  "}).host_key() == "from-settings"


def test_without_an_override_the_stored_default_host_key_is_used_under_the_local_dir(tmp_path: Path) -> None:
    _settings(tmp_path, {"OTHER": "x"})
    host = open_key_store(tmp_path, {}, str(tmp_path / "elsewhere")).host_key()
    stored = json.loads((tmp_path / "elsewhere" / "secrets" / "host.json").read_text())
    assert stored["functionKeys"] == [{"name": "default", "value": host, "encrypted": False}]


def test_different_projects_get_different_keys(tmp_path: Path) -> None:
    assert KeyStore(tmp_path / "a").master_key() != KeyStore(tmp_path / "b").master_key()


def test_a_malformed_local_settings_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text("{not json")
    with pytest.raises(PermanentError, match=r"local\.settings\.json: not valid JSON"):
        open_key_store(tmp_path, {})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"host\.json: not valid JSON"),
        ("[]", r"host\.json: must be a JSON object"),
        ('{"functionKeys": []}', r"host\.json: masterKey: must be an object with a non-empty \"value\""),
        ('{"masterKey": {"name": "master", "value": "m"}, "functionKeys": [{"name": "x"}]}', r"functionKeys: must be"),
    ],
)
def test_a_malformed_secrets_file_is_named_with_the_field(store: KeyStore, content: str, message: str) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "host.json").write_text(content)
    with pytest.raises(PermanentError, match=message):
        store.identify("anything", "f")
