"""The composition root: Ports are built by keyword, an unconfigured port names its settings when read, and the
process-wide ports are installed with use_ports or built from settings once."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from controlplane import bootstrap
from controlplane.bootstrap import Ports, ports, use_ports
from controlplane.bootstrap.testing import TEST_SETTINGS, fake_ports
from controlplane.config import Settings
from controlplane.errors import NotConfigured, PermanentError
from controlplane.testing.fakes import RecordingEventBus, RecordingProvisioner, ScriptedHealthProbe, ScriptedMetrics
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_desired_state import MemoryDesiredState


@pytest.fixture(autouse=True)
def no_ports_installed() -> Iterator[None]:
    use_ports(None)
    yield
    use_ports(None)


def test_ports_are_built_by_keyword_only() -> None:
    settings = Settings.from_environment(TEST_SETTINGS)
    store = fake_ports().store
    with pytest.raises(TypeError):
        Ports(settings, store)  # type: ignore[call-arg]
    assert Ports(settings=settings, store=store).store is store


def test_fake_ports_use_a_fresh_fake_for_every_port_not_given_by_keyword() -> None:
    provisioner = RecordingProvisioner()
    built = fake_ports(provisioner=provisioner)

    assert built.provisioner is provisioner
    assert isinstance(built.events, RecordingEventBus)
    assert isinstance(built.compute, MemoryCompute)
    assert isinstance(built.health, ScriptedHealthProbe)
    assert isinstance(built.desired_state, MemoryDesiredState)
    assert isinstance(built.metrics, ScriptedMetrics)
    assert built.store.deployments.list_deployments() == []
    assert fake_ports().compute is not built.compute


def test_an_unconfigured_port_fails_when_read_and_names_what_to_set() -> None:
    partial = Ports(settings=Settings.from_environment(TEST_SETTINGS), store=fake_ports().store)

    assert partial.store.deployments.list_deployments() == []
    with pytest.raises(NotConfigured, match=r"no desired state is configured: set CONTROLPLANE_DESIRED_STATE to"):
        _ = partial.desired_state
    for name, what, settings in [
        ("events", "event bus", "ServiceBusConnection__fullyQualifiedNamespace"),
        ("compute", "compute", "its settings"),
        ("health", "health probe", "its settings"),
        ("provisioner", "provisioner", "its settings"),
        ("metrics", "metrics", "CONTROLPLANE_LOG_ANALYTICS_WORKSPACE_ID"),
    ]:
        with pytest.raises(NotConfigured, match=f"no {what} is configured: set {settings} ") as raised:
            getattr(partial, name)
        assert isinstance(raised.value, PermanentError) and "local host" not in str(raised.value)


def test_a_port_is_swapped_by_building_new_ports_never_in_place() -> None:
    built = fake_ports()
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.events = RecordingEventBus()  # type: ignore[misc]

    provisioner = RecordingProvisioner()
    swapped = dataclasses.replace(built, provisioner=provisioner)
    assert swapped.provisioner is provisioner and swapped.compute is built.compute
    assert built.provisioner is not provisioner


def test_use_ports_installs_ports_and_none_goes_back_to_building_them_from_settings_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Settings] = []

    def azure_ports(settings: Settings) -> Ports:  # what the Function App builds, without Azure behind it
        built.append(settings)
        return fake_ports(settings=settings)

    monkeypatch.setattr(bootstrap, "azure_ports", azure_ports)
    monkeypatch.setenv("CONTROLPLANE_STORAGE", "UseDevelopmentStorage=true")
    monkeypatch.setenv("CONTROLPLANE_EVENT_SOURCE", "/from-settings")
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    installed = fake_ports()

    use_ports(installed)
    assert ports() is installed
    assert built == []

    use_ports(None)
    from_settings = ports()
    assert from_settings is not installed and ports() is from_settings
    assert [settings.event_source for settings in built] == ["/from-settings"]
