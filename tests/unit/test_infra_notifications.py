"""The notifier's webhook targets from the stack config (infra/notifications.py), on Pulumi's mocks: the app gets
CONTROLPLANE_NOTIFICATIONS and one Key Vault reference per webhook URL, never a URL; what the app parses is what
infra wrote, once App Service has resolved the references."""

from __future__ import annotations

import json
import re

import pytest

from controlplane.domain.event_catalog import EventType
from controlplane.domain.notifications import SETTING, WebhookFormat, parse_targets
from infra import roles
from infra.notifications import notification_settings
from infra.settings import InvalidConfig, settings_from_values
from tests.unit.test_infra_pulumi import (  # noqa: F401  (current_event_loop: the module-wide fixture)
    CONFIG,
    PRINCIPAL,
    Built,
    _settings,
    build,
    current_event_loop,
)

pytestmark = pytest.mark.slow  # Pulumi's runtime and the Azure Native SDK take seconds to load

TARGETS = [
    {"name": "ops-teams", "format": "teams", "urlSecret": "ops-teams-webhook", "environments": ["prod"]},
    {
        "name": "releases",
        "format": "slack",
        "urlSecret": "releases-slack-webhook",
        "urlSetting": "CONTROLPLANE_NOTIFY_SLACK",
        "eventTypes": ["RuntimeDeploymentCompleted", "RuntimeDeploymentRolledBack"],
    },
]
# What the vault holds (set by an operator with `az keyvault secret set`, never by infra).
VAULT_SECRETS = {
    "ops-teams-webhook": "https://contoso.webhook.office.com/webhookb2/secret-1",
    "releases-slack-webhook": "https://hooks.slack.com/services/T0/B0/secret-2",
}
_REFERENCE = re.compile(
    r"^@Microsoft\.KeyVault\(SecretUri=(https://[^/]+\.vault\.azure\.net)/secrets/([0-9A-Za-z-]+)/\)$"
)


@pytest.fixture(scope="module")
def built() -> Built:
    return build(settings_from_values({**CONFIG, "notifications": TARGETS}))


def test_each_webhook_url_setting_is_a_key_vault_reference_to_the_platforms_vault(built: Built) -> None:
    settings = _settings(built)
    vault = built.mocks.one("keyvault:Vault")
    references = {
        name: _REFERENCE.match(settings[name])
        for name in ("CONTROLPLANE_NOTIFY_OPS_TEAMS_URL", "CONTROLPLANE_NOTIFY_SLACK")
    }
    assert all(references.values()), settings
    assert {found.group(1) for found in references.values() if found} == {f"https://{vault.name}.vault.azure.net"}
    assert {name: found.group(2) for name, found in references.items() if found} == {
        "CONTROLPLANE_NOTIFY_OPS_TEAMS_URL": "ops-teams-webhook",
        "CONTROLPLANE_NOTIFY_SLACK": "releases-slack-webhook",
    }
    # App Service resolves the references with the app's identity, which may read the vault's secrets.
    readers = [
        assignment.inputs
        for assignment in built.mocks.of_type("authorization:RoleAssignment")
        if assignment.inputs["roleDefinitionId"].endswith(roles.KEY_VAULT_SECRETS_USER.guid)
    ]
    assert [(reader["scope"], reader["principalId"]) for reader in readers] == [(vault.id, PRINCIPAL)]
    for declared in built.mocks.declared:  # no webhook URL anywhere infra writes (state, settings)
        assert not any(url in json.dumps(declared.inputs, default=str) for url in VAULT_SECRETS.values())


def test_the_app_parses_the_targets_infra_wrote_once_the_references_resolve(built: Built) -> None:
    settings = _settings(built)

    def resolved(name: str) -> str | None:  # as App Service hands the app a referenced setting
        found = _REFERENCE.match(settings.get(name, ""))
        return VAULT_SECRETS[found.group(2)] if found else settings.get(name)

    teams, slack = parse_targets(settings[SETTING], resolved)
    assert (teams.name, teams.format, teams.url) == (
        "ops-teams",
        WebhookFormat.TEAMS,
        VAULT_SECRETS["ops-teams-webhook"],
    )
    assert teams.environments == {"prod"} and len(teams.event_types) > 2  # every notifiable type
    assert (slack.format, slack.url) == (WebhookFormat.SLACK, VAULT_SECRETS["releases-slack-webhook"])
    assert slack.event_types == {EventType.RUNTIME_DEPLOYMENT_COMPLETED, EventType.RUNTIME_DEPLOYMENT_ROLLED_BACK}
    assert "urlSecret" not in settings[SETTING]  # the app's setting has the app's keys only


def test_without_notifications_the_app_gets_no_notification_setting() -> None:
    settings = settings_from_values(CONFIG)
    assert settings.notifications == ()
    assert notification_settings(settings.notifications, "https://kv.vault.azure.net/") == {}


def test_bad_targets_are_reported_together_naming_each_key_and_never_echoing_a_url() -> None:
    webhook = "https://contoso.webhook.office.com/webhookb2/do-not-print"
    bad = [
        {"name": "a", "format": "teams", "url": webhook},
        {"name": "b", "format": "teams", "urlSecret": "has spaces"},
        {"name": "c", "format": "teams", "urlSecret": "c", "urlSetting": "AzureWebJobsStorage"},
        {"name": "d", "format": "teams", "urlSecret": "d", "urlSetting": "CONTROLPLANE_STORAGE"},
        {"name": "e", "format": "teams", "urlSecret": "e", "colour": "red"},
        {"name": "f", "format": "teams", "urlSecret": "f", "urlSetting": "X_URL"},
        {"name": "g", "format": "teams", "urlSecret": "g", "urlSetting": "X_URL"},
    ]
    with pytest.raises(InvalidConfig) as invalid:
        settings_from_values({**CONFIG, "notifications": bad})
    problems = invalid.value.problems
    assert (
        "notifications[0].url: never in the config; store the URL in the Key Vault and name it with urlSecret"
        in problems
    )
    assert webhook not in str(invalid.value)
    assert any(problem.startswith("notifications[0].urlSecret: the Key Vault secret") for problem in problems)
    assert any(problem.startswith("notifications[1].urlSecret:") and "'has spaces'" in problem for problem in problems)
    assert any(problem.startswith("notifications[2].urlSetting: AzureWebJobsStorage is one of") for problem in problems)
    assert any(
        problem.startswith("notifications[3].urlSetting: CONTROLPLANE_STORAGE is one of") for problem in problems
    )
    assert any(problem.startswith("notifications[4].colour: unknown key") for problem in problems)
    assert "notifications[6].urlSetting: X_URL is used by another target" in problems


def test_what_the_apps_parser_refuses_is_refused_at_pulumi_up_under_the_config_key() -> None:
    bad = [
        {"name": "ops", "format": "email", "urlSecret": "ops"},
        {
            "name": "ops",
            "format": "json",
            "urlSecret": "ops2",
            "urlSetting": "CONTROLPLANE_NOTIFY_OPS2",
            "eventTypes": ["ScalingPolicyApplied"],
        },
    ]
    with pytest.raises(InvalidConfig) as invalid:
        settings_from_values({**CONFIG, "notifications": bad})
    problems = invalid.value.problems
    assert "notifications[0].format: one of teams, slack, json (got 'email')" in problems
    assert any(
        problem.startswith("notifications[1].eventTypes: ScalingPolicyApplied not notifiable") for problem in problems
    )
    twice = [
        {"name": "ops", "format": "json", "urlSecret": "ops"},
        {"name": "ops", "format": "json", "urlSecret": "ops2", "urlSetting": "CONTROLPLANE_NOTIFY_OPS2"},
    ]
    with pytest.raises(InvalidConfig) as named_twice:
        settings_from_values({**CONFIG, "notifications": twice})
    assert named_twice.value.problems == ["notifications[1].name: 'ops' is used by another target"]
    with pytest.raises(InvalidConfig) as not_a_list:
        settings_from_values({**CONFIG, "notifications": {"name": "ops"}})
    assert not_a_list.value.problems[0].startswith("notifications: a list of targets like")
