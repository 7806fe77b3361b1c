"""The event bus: a Service Bus namespace (Entra ID auth only) and the ``events`` topic with its subscriptions.

Each consumer gets one subscription whose ``$Default`` rule is replaced by its SQL filter; a subscription's
default rule (TrueFilter) would otherwise deliver every event alongside the filter. The filters match the
application property ``type`` that controlplane/adapters/azure/servicebus/mapping.py sets from the envelope.

There is deliberately no catch-all ``audit`` subscription: nothing consumes it, and messages piling up in one
count against the topic's size quota until sends to the whole topic fail. Every emitted envelope is already
kept in the EventLog table.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import pulumi
from pulumi_azure_native import servicebus

from controlplane.adapters.azure.servicebus.mapping import LOCK_DURATION, SUBSCRIPTION_FILTERS, iso8601_duration

TOPIC = "events"


@dataclass(frozen=True)
class Consumer:
    subscription: str
    sql_filter: str
    message_ttl: str  # ISO 8601 duration
    why: str


CONSUMERS = (
    Consumer(
        "scaling",
        SUBSCRIPTION_FILTERS["scaling"],  # the local host's bus routes by the same filter
        "PT1H",  # the scaling timer re-evaluates every 30 s: an hour-old health check is stale, let it expire
        "triggers/servicebus.py scaling_on_health_check",
    ),
    Consumer(
        "notifications",
        SUBSCRIPTION_FILTERS["notifications"],
        "P1D",  # a deployment's outcome a day late is history, not news: the Runtime Center and the log have it
        "triggers/notifications.py notify_webhooks",
    ),
)


@dataclass(frozen=True)
class EventBus:
    namespace: servicebus.Namespace
    topic: servicebus.Topic
    fully_qualified_namespace: pulumi.Output[str]


def build_event_bus(
    name_prefix: str, resource_group: pulumi.Input[str], location: str, parent: pulumi.Resource
) -> EventBus:
    child = pulumi.ResourceOptions(parent=parent)
    namespace = servicebus.Namespace(
        f"{name_prefix}-bus",
        resource_group_name=resource_group,
        location=location,
        # topics need Standard or Premium
        sku=servicebus.SBSkuArgs(name=servicebus.SkuName.STANDARD, tier=servicebus.SkuTier.STANDARD),
        disable_local_auth=True,  # no SAS keys: senders and receivers authenticate with Entra ID
        minimum_tls_version="1.2",
        opts=child,
    )
    topic = servicebus.Topic(
        f"{name_prefix}-{TOPIC}",
        resource_group_name=resource_group,
        namespace_name=namespace.name,
        topic_name=TOPIC,
        # Event ids are deterministic per step: a retried publish has the same message_id and is dropped.
        requires_duplicate_detection=True,
        duplicate_detection_history_time_window="PT10M",
        default_message_time_to_live="P14D",
        max_size_in_megabytes=1024,
        enable_batched_operations=True,
        opts=child,
    )
    for consumer in CONSUMERS:
        subscription = servicebus.Subscription(
            f"{name_prefix}-{TOPIC}-{consumer.subscription}",
            resource_group_name=resource_group,
            namespace_name=namespace.name,
            topic_name=topic.name,
            subscription_name=consumer.subscription,
            max_delivery_count=10,  # then dead-lettered, as the local bus does (CONTROLPLANE_BUS_MAX_DELIVERIES)
            lock_duration=iso8601_duration(LOCK_DURATION),  # the local host's bus locks its deliveries as long
            default_message_time_to_live=consumer.message_ttl,
            dead_lettering_on_message_expiration=False,
            dead_lettering_on_filter_evaluation_exceptions=True,
            opts=child,
        )
        servicebus.Rule(
            f"{name_prefix}-{TOPIC}-{consumer.subscription}-filter",
            resource_group_name=resource_group,
            namespace_name=namespace.name,
            topic_name=topic.name,
            subscription_name=subscription.name,
            rule_name="$Default",
            filter_type=servicebus.FilterType.SQL_FILTER,
            sql_filter=servicebus.SqlFilterArgs(sql_expression=consumer.sql_filter),
            opts=child,
        )
    return EventBus(
        namespace=namespace,
        topic=topic,
        fully_qualified_namespace=namespace.service_bus_endpoint.apply(lambda url: urlparse(url).hostname or url),
    )
