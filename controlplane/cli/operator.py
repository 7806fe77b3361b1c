"""Operator commands over the local host's Table storage; they work whether or not the host is running."""

from __future__ import annotations

import getpass
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.storage.deployments import DocumentDeployments
from controlplane.adapters.storage.event_log import DocumentEventLog
from controlplane.bootstrap.azure import table_service
from controlplane.cli.explain import print_explanation
from controlplane.cli.timeline import describe
from controlplane.config import load_settings
from controlplane.domain.workflow.orchestration import OrchestrationStatus
from controlplane.services.reconciler import Stuck, stuck_deployments
from funchost.durable.blobs import BlobContainer
from funchost.durable.large_payloads import LargePayloads
from funchost.durable.store import DurableStore
from funchost.errors import NotFound
from funchost.functions import SERVICE_BUS, FunctionIndex
from funchost.servicebus.bus import LocalBus
from funchost.settings import apply_local_settings, task_hub
from funchost.storage.account import StorageAccount
from funchost.storage.azure_tables import AzureTables


class Operator:
    def __init__(self, root: Path, app: str = "function_app:app") -> None:
        apply_local_settings(root, os.environ)
        settings = load_settings()
        service = table_service(settings)
        hub = settings.task_hub or task_hub(root, os.environ)
        account = StorageAccount(settings.storage_connection, settings.table_endpoint)
        payloads = LargePayloads(BlobContainer.for_hub(account, hub))
        self._durable = DurableStore(AzureTables(service), hub, payloads)
        self._root = root
        self._app = app
        self._documents = AzureTableDocuments(service, prefix=settings.table_prefix)
        self._event_log = DocumentEventLog(self._documents)
        self._bus_tables = AzureTables(service, prefix=settings.table_prefix)

    def instances(self) -> int:
        records = sorted(self._durable.list_instances(), key=lambda record: record.created_time)
        print(f"{'instance':<40} {'name':<22} {'status':<15} {'created':<28} last updated")
        for record in records:
            print(
                f"{record.instance_id:<40} {record.name:<22} {record.status.value:<15} "
                f"{record.created_time:<28} {record.last_updated_time}"
            )
        print(f"{len(records)} instance(s)")
        return 0

    def status(self, instance_id: str) -> int:
        try:
            record = self._durable.get_instance(instance_id)
        except NotFound:
            print(f"no instance {instance_id!r}")
            return 1
        print(f"instance      {record.instance_id}\nname          {record.name}\nstatus        {record.status.value}")
        print(f"created       {record.created_time}\nlast updated  {record.last_updated_time}")
        for label, value in (
            ("input", record.input),
            ("output", record.output),
            ("custom status", record.custom_status),
        ):
            if value is not None:
                print(f"{label:<13} {value}")
        history = self._durable.load_history(instance_id)
        episodes = f"{history.rows} row(s), {len(history.events)} events"
        print(f"history       generation {history.generation}, {episodes}")
        return 0

    def events(self, traceid: str) -> int:
        messages = self._bus().events_for_trace(traceid)
        for message in messages:
            kind = message.fields.subject or "(no type)"
            print(f"{message.enqueued_time.isoformat()}  {kind:<32} {message.fields.message_id}")
            try:
                envelope = json.loads(message.fields.body)
            except ValueError:
                print("    not a CloudEvent (dead-lettered on delivery)")
                continue
            if isinstance(envelope, dict):
                print(f"    subject {envelope.get('subject')}  causation {envelope.get('causationid')}")
        print(f"{len(messages)} event(s) with traceid {traceid}")
        return 0

    def replay(self, traceid: str) -> int:
        """The flow's timeline from the stored envelopes (the event log), oldest first."""
        events = self._event_log.events_for_trace(traceid)
        if not events:
            print(f"no stored events with traceid {traceid}")
            return 1
        start = events[0].time
        for envelope in events:
            offset = (envelope.time - start).total_seconds()
            print(f"+{offset:8.3f}s  {envelope.type:<31} {describe(envelope.to_dict())}")
            print(f"           id {envelope.id}  causation {envelope.causationid or '-'}  {envelope.subject or ''}")
        print(f"{len(events)} event(s) in trace {traceid} (correlation {events[0].correlationid})")
        return 0

    def explain(self, deployment_id: str, as_json: bool) -> int:
        """Why the deployment's gates passed, failed or held (``cli.explain``)."""
        return print_explanation(DocumentDeployments(self._documents), self._event_log, deployment_id, as_json)

    def dead_letters(self) -> int:
        letters = self._bus().dead_letters()
        for delivery in letters:
            kind = delivery.type or "-"
            print(f"{delivery.subscription:<36} {delivery.message_id:<38} {kind:<30} x{delivery.delivery_count}")
            print(f"    reason: {delivery.reason}" + (f" ({delivery.description})" if delivery.description else ""))
            if delivery.last_error:
                print(f"    last error: {delivery.last_error}")
        print(f"{len(letters)} dead letter(s)")
        return 0

    def stuck_deployments(self, grace: timedelta = timedelta(0)) -> list[Stuck]:
        """Non-terminal deployments whose orchestration is gone or ended: what the reconciler would end (and what
        bench/reliability.py reports as ``stuck_deployments``)."""

        def lookup(instance_id: str) -> OrchestrationStatus | None:
            try:
                record = self._durable.get_instance(instance_id)
            except NotFound:
                return None
            return OrchestrationStatus.from_json({"runtimeStatus": record.status.value, "output": record.output})

        return stuck_deployments(DocumentDeployments(self._documents), lookup, datetime.now(UTC), grace)

    def stuck(self) -> int:
        """Print the stuck deployments; exit 1 if there is any."""
        found = self.stuck_deployments()
        for stuck in found:
            print(f"{stuck.deployment.id:<20} {stuck.deployment.state.value:<13} {stuck.why}")
        print(f"{len(found)} stuck deployment(s)")
        return 1 if found else 0

    def _bus(self) -> LocalBus:
        module, _, attribute = self._app.partition(":")
        index = FunctionIndex.load(module, attribute or "app")
        return LocalBus(self._bus_tables, index.of_type(SERVICE_BUS), app_settings=os.environ)


def signal_deployment(base_url: str, token: str, deployment_id: str, signal: str, reason: str) -> int:
    """``approve`` or ``abort`` a deployment through the host's API (``POST /api/deployments/{id}/<signal>``)
    with a bearer ``token`` (whose principal is the actor) for ``reason``; exit 1 with the API's problem detail
    when refused."""
    body = json.dumps({"reason": reason}).encode()
    url = f"{base_url.rstrip('/')}/api/deployments/{deployment_id}/{signal}"
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as refused:
        with refused:
            problem = json.loads(refused.read() or b"{}")
        print(
            f"{signal} {deployment_id}: HTTP {refused.code}: {problem.get('detail', refused.reason)}", file=sys.stderr
        )
        return 1
    except OSError as error:
        print(f"{signal} {deployment_id}: no answer from {base_url}: {error}", file=sys.stderr)
        return 1
    print(f"{signal} sent to {deployment_id} by {answer['actor']['name']}: {answer.get('reason')}")
    return 0


def os_user() -> str:
    """The OS user's login name (who a local operator command is from by default)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment or the password database
        return "unknown-operator"
