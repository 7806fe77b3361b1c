"""The Azure Monitor workbook "Runtime control plane", attached to the Application Insights component.

Its content is ``infra/workbook/runtime-center.workbook.json`` (the workbook's ``serializedData``, schema
``Notebook/1.0``), kept as a file so it can be edited in the portal's workbook editor and pasted back. Its
sections read what the app emits (see infra/alerts.py): deployments, rollbacks, drift findings, scaling
decisions, incidents, and one trace; each row's ``traceid`` (App Insights' ``operation_Id``) selects the trace.
``source_id`` is the component, so the workbook is listed under the component's Workbooks and its queries run
there.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pulumi
from pulumi_azure_native import applicationinsights

WORKBOOK_FILE = Path(__file__).resolve().parent / "workbook" / "runtime-center.workbook.json"
CATEGORY = "workbook"  # what the portal's Workbooks gallery lists
_NAMESPACE = uuid.UUID("0b6f7c0e-3f0e-4d39-9a4c-52b1d7f0c2a7")


def workbook_name(project: str, stack: str, name_prefix: str) -> str:
    """The workbook's resource name: ARM wants a UUID; one per stack, the same on every update."""
    return str(uuid.uuid5(_NAMESPACE, f"{project}/{stack}/{name_prefix}"))


def build_workbook(
    name_prefix: str,
    resource_group: pulumi.Input[str],
    location: str,
    insights_id: pulumi.Input[str],
    parent: pulumi.Resource,
) -> applicationinsights.Workbook:
    return applicationinsights.Workbook(
        f"{name_prefix}-workbook",
        resource_name_=workbook_name(pulumi.get_project(), pulumi.get_stack(), name_prefix),
        resource_group_name=resource_group,
        location=location,
        kind="shared",
        category=CATEGORY,
        display_name=f"Runtime control plane ({name_prefix})",
        description="Deployments, rollbacks, drift findings, scaling decisions and incidents, by traceid.",
        version="Notebook/1.0",
        serialized_data=WORKBOOK_FILE.read_text(encoding="utf-8"),
        # ARM keeps a workbook's sourceId lower-cased: declared so, an update finds nothing to change
        source_id=pulumi.Output.from_input(insights_id).apply(str.lower),
        opts=pulumi.ResourceOptions(parent=parent),
    )
