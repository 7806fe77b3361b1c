"""infra/'s portal monitoring and Easy Auth, on Pulumi's mocks: the workbook, the alerts and their action group,
the App Service Authentication settings; and the workbook file itself (valid Notebook/1.0, queries over what the
app writes)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from azure.monitor.opentelemetry.exporter.export.trace._exporter import _convert_span_to_envelope
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pulumi.runtime import rpc

from controlplane.domain.deployment import DeploymentState
from controlplane.domain.event_catalog import EventType
from infra import alerts, dashboards
from infra.easy_auth import APP_ROLES
from infra.settings import InvalidConfig, settings_from_values
from tests.unit.test_infra_pulumi import (  # noqa: F401  (current_event_loop: the module-wide fixture)
    CONFIG,
    PROJECT,
    TENANT,
    Built,
    build,
    current_event_loop,
)
from tests.unit.test_telemetry import spans  # noqa: F401  (the process's one span exporter)
from tests.workflow_world import World, release

pytestmark = pytest.mark.slow  # Pulumi's runtime and the Azure Native SDK take seconds to load

# The Application Insights tables (classic names, as a workbook or log alert on the component sees them) the app
# writes: its spans (dependencies; requests from the Functions host), its logs (traces) and exceptions.
APP_TABLES = {"dependencies", "requests", "traces", "exceptions"}
OTHER_TABLES = {"customEvents", "customMetrics", "pageViews", "browserTimings", "availabilityResults"}
SECTIONS = ("deployments", "rollbacks", "drift", "scaling", "incidents")


@pytest.fixture(scope="module")
def built() -> Built:
    return build(settings_from_values(CONFIG))


@pytest.fixture(scope="module")
def workbook() -> dict[str, Any]:
    return json.loads(dashboards.WORKBOOK_FILE.read_text(encoding="utf-8"))


def _queries(workbook: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["content"]["query"] for item in workbook["items"] if item["type"] == 3}


def _tables(query: str) -> set[str]:
    return {word for word in re.findall(r"\b[A-Za-z]+\b", query) if word in APP_TABLES | OTHER_TABLES}


# --- the workbook file ------------------------------------------------------------------------------------


def test_the_workbook_is_a_notebook_whose_items_each_have_a_type_and_content(workbook: dict[str, Any]) -> None:
    assert workbook["version"] == "Notebook/1.0"
    assert workbook["items"]
    names = [item["name"] for item in workbook["items"]]
    assert len(names) == len(set(names))
    for item in workbook["items"]:
        assert isinstance(item["type"], int) and isinstance(item["content"], dict), item["name"]
        if item["type"] == 3:  # a query
            content = item["content"]
            assert content["version"] == "KqlItem/1.0"
            assert content["resourceType"] == "microsoft.insights/components"
            assert content["timeContextFromParameter"] == "TimeRange"


def test_the_workbook_has_each_section_and_the_trace_view(workbook: dict[str, Any]) -> None:
    headers = {item["name"] for item in workbook["items"] if item["type"] == 1}
    assert set(SECTIONS) | {"trace"} <= headers
    queries = _queries(workbook)
    for section in SECTIONS:
        assert any(name.startswith(f"{section}-") for name in queries), section
    (parameters,) = [item for item in workbook["items"] if item["type"] == 9]
    assert {p["name"] for p in parameters["content"]["parameters"]} == {"TimeRange", "traceid"}


def test_every_query_reads_only_tables_the_app_writes(workbook: dict[str, Any]) -> None:
    for name, query in _queries(workbook).items():
        tables = _tables(query)
        assert tables and tables <= APP_TABLES, (name, tables)
    for alert in alerts.LOG_ALERTS:
        assert _tables(alert.query) == {"dependencies"}


def test_the_event_queries_expand_the_publish_spans_as_the_alerts_do(workbook: dict[str, Any]) -> None:
    """Every event a section reads comes through alerts.EVENTS (one row per event id), and names a real type."""
    known = {event_type.value for event_type in EventType}
    for name, query in _queries(workbook).items():
        named = set(re.findall(r'"((?:Runtime|Scaling|HealthCheck)[A-Za-z]+)"', query))
        for prefix in named - known:  # only ever a prefix stripped for display
            assert re.search(rf'replace_string\(\w+, "{prefix}", ""\)', query), (name, prefix)
        if named & known:
            assert query.startswith(alerts.EVENTS), name


def test_the_event_rows_are_what_the_exporter_makes_of_the_apps_spans(
    world: World,
    spans: InMemorySpanExporter,  # noqa: F811
) -> None:
    """alerts.EVENTS, done in Python over the rows Azure Monitor's exporter builds from a real deployment's spans,
    finds every event the deployment logged, with its type, under the deployment's traceid."""
    deployment_id = world.deploy(release("1.0.0"))
    assert world.finish(deployment_id) is DeploymentState.COMPLETED
    traceid = world.store.deployments.get_deployment(deployment_id).traceid
    found: dict[str, tuple[str, str]] = {}  # event id -> (type, operation_Id), the first publish of each
    for span in spans.get_finished_spans():
        envelope = _convert_span_to_envelope(span)
        row = envelope.data.base_data
        if envelope.name.endswith("RemoteDependency") and row.name.startswith("publish ") and row.success:
            types = row.properties["eventTypes"].split(",")
            ids = re.findall(alerts.EVENT_ID, row.properties["eventIds"])
            assert len(types) == len(ids), row.properties
            for event_type, event_id in zip(types, ids, strict=True):
                found.setdefault(event_id, (event_type, envelope.tags["ai.operation.id"]))
    logged = world.store.event_log.events_for_trace(traceid)
    assert {event.id: (event.type, traceid) for event in logged} == {i: found[i] for i in {e.id for e in logged}}
    assert "RuntimeDeploymentCompleted" in {event.type for event in logged}


def test_every_table_row_selects_its_trace(workbook: dict[str, Any]) -> None:
    for item in workbook["items"]:
        content = item["content"]
        if item["type"] == 3 and content["visualization"] == "table" and item["name"] != "trace-timeline":
            assert content["exportFieldName"] == "traceid" and content["exportParameterName"] == "traceid"
            assert "traceid" in content["query"].rsplit("| project", 1)[-1], item["name"]
    timeline = next(item for item in workbook["items"] if item["name"] == "trace-timeline")["content"]
    assert 'operation_Id == "{traceid}"' in timeline["query"]
    assert timeline["conditionalVisibility"]["parameterName"] == "traceid"


# --- what the platform declares ---------------------------------------------------------------------------


def _secret(value: Any) -> Any:
    """The value of an input Pulumi keeps encrypted in the state (a webhook URL often embeds its token)."""
    assert isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig, value
    return value["value"]


def test_the_workbook_is_shared_on_the_component_with_the_files_content(built: Built) -> None:
    declared = built.mocks.one("applicationinsights:Workbook").inputs
    assert declared["category"] == "workbook" and declared["kind"] == "shared"
    assert declared["version"] == "Notebook/1.0"
    assert declared["serializedData"] == dashboards.WORKBOOK_FILE.read_text(encoding="utf-8")
    assert declared["sourceId"] == built.mocks.one("applicationinsights:Component").id.lower()
    assert declared["resourceName"] == dashboards.workbook_name(PROJECT, "test", "cp")
    assert built.outputs["workbookId"].endswith(declared["resourceName"])


def test_the_workbook_name_is_a_uuid_stable_per_stack() -> None:
    name = dashboards.workbook_name(PROJECT, "prod", "cp")
    assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", name)
    assert name == dashboards.workbook_name(PROJECT, "prod", "cp") != dashboards.workbook_name(PROJECT, "dev", "cp")


def test_the_action_group_sends_to_the_configured_email_and_webhook(built: Built) -> None:
    group = built.mocks.one("monitor:ActionGroup").inputs
    assert group["enabled"] is True and len(group["groupShortName"]) <= 12
    assert [r["emailAddress"] for r in group["emailReceivers"]] == CONFIG["alertEmails"]
    webhooks = _secret(group["webhookReceivers"])
    assert [r["serviceUri"] for r in webhooks] == CONFIG["alertWebhooks"]
    assert all(r["useCommonAlertSchema"] for r in group["emailReceivers"] + webhooks)


def test_each_log_alert_counts_its_event_on_the_component_and_notifies_the_group(built: Built) -> None:
    group = built.mocks.one("monitor:ActionGroup")
    insights = built.mocks.one("applicationinsights:Component")
    rules = {
        rule.inputs["displayName"].split(": ")[1]: rule.inputs
        for rule in built.mocks.of_type("monitor:ScheduledQueryRule")
    }
    assert rules.keys() == {"RuntimeIncidentRaised", "RuntimeDeploymentFailed", "ScalingPolicyViolated"}
    assert {name: rule["severity"] for name, rule in rules.items()} == {
        "RuntimeIncidentRaised": 1,
        "RuntimeDeploymentFailed": 2,
        "ScalingPolicyViolated": 2,
    }
    for event_type, rule in rules.items():
        assert rule["kind"] == "LogAlert" and rule["enabled"] is True
        assert rule["scopes"] == [insights.id]
        assert rule["evaluationFrequency"] == rule["windowSize"]  # each event falls in exactly one evaluation
        (condition,) = rule["criteria"]["allOf"]
        assert condition["query"] == f'{alerts.EVENTS}\n| where eventType == "{event_type}"'
        assert (condition["timeAggregation"], condition["operator"], condition["threshold"]) == (
            "Count",
            "GreaterThan",
            0,
        )
        assert rule["actions"]["actionGroups"] == [group.id]


def test_dead_lettered_messages_raise_a_metric_alert_per_entity(built: Built) -> None:
    alert = built.mocks.one("monitor:MetricAlert").inputs
    assert alert["scopes"] == [built.mocks.one("servicebus:Namespace").id]
    assert alert["severity"] == alerts.DEAD_LETTER_SEVERITY
    (criterion,) = alert["criteria"]["allOf"]
    assert (criterion["metricNamespace"], criterion["metricName"]) == (
        "Microsoft.ServiceBus/namespaces",
        "DeadletteredMessages",
    )
    assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0)
    assert criterion["dimensions"] == [{"name": "EntityName", "operator": "Include", "values": ["*"]}]
    assert alert["actions"] == [{"actionGroupId": built.mocks.one("monitor:ActionGroup").id}]


# --- Easy Auth ----------------------------------------------------------------------------------------------


def test_easy_auth_requires_an_entra_id_sign_in_on_every_path(built: Built) -> None:
    auth = built.mocks.one("web:WebAppAuthSettingsV2").inputs
    assert auth["name"] == built.mocks.one("web:WebApp").name
    assert auth["platform"]["enabled"] is True
    validation = auth["globalValidation"]
    assert validation["requireAuthentication"] is True
    assert validation["unauthenticatedClientAction"] == "RedirectToLoginPage"
    assert validation["redirectToProvider"] == "azureactivedirectory"
    assert validation.get("excludedPaths", []) == []
    assert auth["httpSettings"]["requireHttps"] is True
    aad = auth["identityProviders"]["azureActiveDirectory"]
    client_id = CONFIG["authClientId"]
    assert aad["enabled"] is True
    assert aad["registration"]["clientId"] == client_id
    assert aad["registration"]["openIdIssuer"] == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert "clientSecretSettingName" not in aad["registration"]  # no secret kept anywhere
    assert aad["validation"]["allowedAudiences"] == [f"api://{client_id}", client_id]


def test_easy_auth_takes_the_configured_tenant_and_excluded_paths() -> None:
    tenant = "33333333-3333-3333-3333-333333333333"
    settings = settings_from_values({**CONFIG, "authTenantId": tenant, "authExcludedPaths": ["/api/health"]})
    auth = build(settings).mocks.one("web:WebAppAuthSettingsV2").inputs
    assert auth["identityProviders"]["azureActiveDirectory"]["registration"]["openIdIssuer"] == (
        f"https://login.microsoftonline.com/{tenant}/v2.0"
    )
    assert auth["globalValidation"]["excludedPaths"] == ["/api/health"]


def test_the_app_roles_are_the_ones_the_issue_names() -> None:
    assert list(APP_ROLES) == ["Reader", "Deployer", "Approver", "Operator"]


def test_bad_auth_and_alert_config_is_reported_naming_each_key() -> None:
    with pytest.raises(InvalidConfig) as raised:
        settings_from_values(
            {
                **CONFIG,
                "authClientId": "my-app",
                "authTenantId": "contoso.onmicrosoft.com",
                "authExcludedPaths": ["api/health"],
                "alertEmails": ["oncall"],
                "alertWebhooks": ["http://hooks.example.com/x"],
            }
        )
    problems = "\n".join(raised.value.problems)
    for key in ("authClientId", "authTenantId", "authExcludedPaths[0]", "alertEmails[0]", "alertWebhooks[0]"):
        assert key in problems
    assert "hooks.example.com" not in problems  # a webhook URL may carry a token: never echoed
