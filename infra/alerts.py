"""Alert rules on what the control plane emits, and the action group they notify (email and webhooks).

What the app writes to Application Insights (controlplane/telemetry.py through azure-monitor-opentelemetry):
each ``journal.record`` is a PRODUCER span, a ``dependencies`` row named ``publish <first type>`` whose
``customDimensions`` carry ``eventTypes`` (every event's type, comma-separated), ``eventIds`` (in the same
order) and ``subject``; its ``operation_Id`` is the envelopes' ``traceid``. ``EVENTS`` expands those rows to
one row per event, dropping the repeats a retried activity publishes (same event id). The workbook
(infra/dashboards.py) starts its event queries with the same text.

Log alerts (scheduled query rules) count events of one type in each window over the Application Insights
component; the dead-letter alert is a metric alert on the Service Bus namespace's ``DeadletteredMessages``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import monitor

from infra.settings import PlatformSettings

EVENT_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
EVENTS = f"""dependencies
| where name startswith "publish " and success == true
| extend eventTypes = split(tostring(customDimensions.eventTypes), ","),
    eventIds = extract_all(@"({EVENT_ID})", tostring(customDimensions.eventIds))
| mv-expand eventType = eventTypes to typeof(string), eventId = eventIds to typeof(string)
| summarize arg_min(timestamp, *) by eventId
| project timestamp, eventType, eventId, subject = tostring(customDimensions.subject), traceid = operation_Id"""
WINDOW = "PT5M"  # evaluated every window, over that window: each event is counted once


@dataclass(frozen=True)
class LogAlert:
    name: str
    event_type: str
    severity: int  # 0 critical .. 4 verbose
    description: str

    @property
    def query(self) -> str:
        return f'{EVENTS}\n| where eventType == "{self.event_type}"'


LOG_ALERTS = (
    LogAlert(
        "incident-raised",
        "RuntimeIncidentRaised",
        1,
        "Automation could not restore a service's health: an operator is needed (the event carries the chain).",
    ),
    LogAlert(
        "deployment-failed",
        "RuntimeDeploymentFailed",
        2,
        "A deployment stopped without reaching its goal and nothing was rolled back to.",
    ),
    LogAlert(
        "scaling-policy-violated",
        "ScalingPolicyViolated",
        2,
        "Demand stayed beyond what a service's scaling policy allows (maxReplicas).",
    ),
)
DEAD_LETTER_SEVERITY = 2


def build_action_group(
    settings: PlatformSettings, resource_group: pulumi.Input[str], parent: pulumi.Resource
) -> monitor.ActionGroup:
    """The receivers every alert notifies; webhook URLs often embed a token, so they are kept secret."""
    return monitor.ActionGroup(
        f"{settings.name_prefix}-alerts",
        resource_group_name=resource_group,
        location="Global",
        enabled=True,
        group_short_name=f"{settings.name_prefix}-cp"[:12],
        email_receivers=[
            monitor.MicrosoftCommonEmailReceiverArgs(
                name=f"email-{index}", email_address=email, use_common_alert_schema=True
            )
            for index, email in enumerate(settings.alert_emails)
        ],
        webhook_receivers=[
            monitor.WebhookReceiverArgs(
                name=f"webhook-{index}", service_uri=pulumi.Output.secret(url), use_common_alert_schema=True
            )
            for index, url in enumerate(settings.alert_webhooks)
        ],
        opts=pulumi.ResourceOptions(parent=parent),
    )


def build_alerts(
    settings: PlatformSettings,
    resource_group: pulumi.Input[str],
    location: str,
    insights_id: pulumi.Input[str],
    bus_namespace_id: pulumi.Input[str],
    action_group: monitor.ActionGroup,
    parent: pulumi.Resource,
) -> Sequence[pulumi.CustomResource]:
    child = pulumi.ResourceOptions(parent=parent)
    prefix = settings.name_prefix
    rules: list[pulumi.CustomResource] = [
        monitor.ScheduledQueryRule(
            f"{prefix}-{alert.name}",
            resource_group_name=resource_group,
            location=location,
            kind="LogAlert",
            display_name=f"{prefix}: {alert.event_type}",
            description=alert.description,
            severity=alert.severity,
            enabled=True,
            scopes=[insights_id],
            evaluation_frequency=WINDOW,
            window_size=WINDOW,
            criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                all_of=[
                    monitor.ConditionArgs(
                        query=alert.query,
                        time_aggregation="Count",
                        operator="GreaterThan",
                        threshold=0,
                        failing_periods=monitor.ConditionFailingPeriodsArgs(
                            number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                        ),
                    )
                ]
            ),
            auto_mitigate=False,  # an event happened: it does not "resolve" when the next window is empty
            actions=monitor.ActionsArgs(action_groups=[action_group.id]),
            opts=child,
        )
        for alert in LOG_ALERTS
    ]
    rules.append(
        monitor.MetricAlert(
            f"{prefix}-dead-lettered",
            resource_group_name=resource_group,
            location="global",
            description="Messages were dead-lettered on the events topic: a consumer gave up on them.",
            severity=DEAD_LETTER_SEVERITY,
            enabled=True,
            scopes=[bus_namespace_id],
            evaluation_frequency=WINDOW,
            window_size="PT15M",
            criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[
                    monitor.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion",
                        name="dead-lettered",
                        metric_namespace="Microsoft.ServiceBus/namespaces",
                        metric_name="DeadletteredMessages",
                        operator="GreaterThan",
                        threshold=0,
                        time_aggregation="Maximum",
                        # one alert per entity (topic/subscription), so the notification names it
                        dimensions=[monitor.MetricDimensionArgs(name="EntityName", operator="Include", values=["*"])],
                    )
                ],
            ),
            auto_mitigate=True,  # resolves once the dead-letter queue is drained
            actions=[monitor.MetricAlertActionArgs(action_group_id=action_group.id)],
            opts=child,
        )
    )
    return rules
