"""The Runtime Center in headless Chromium against the product's local host, as the issue tells it: an Approver
sees a prod promotion waiting, approves it and watches it complete; a Reader gets no Approve button and a 403
from the API; an Operator dismisses a drift finding with a reason, and the audit view shows who did it.

Each person signs in through the host's Easy Auth form; the pipeline that requests the deployments is another
principal (a Deployer's bearer token), as four-eyes requires of a prod promotion."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from funchost.tests.e2e.observe import wait_until
from tests.browser.center import DRIFT_ENVIRONMENT, SETTLE_SECONDS, Screenshots, SignIn
from tests.e2e.host_process import HostProcess
from tests.e2e.test_deployments_api import example

READER_ENVIRONMENT, APPROVER_ENVIRONMENT = "center-prod-a", "center-prod-b"


@pytest.fixture(scope="module")
def prod_promotions(center_host: HostProcess) -> dict[str, dict[str, Any]]:
    """A prod release in each of two environments, requested together by a pipeline (a Deployer), so their
    rollouts overlap: one for the Reader to look at, one for the Approver to approve."""
    pipeline = center_host.bearer_token("pipeline", ["Deployer"])
    accepted = {}
    for environment in (READER_ENVIRONMENT, APPROVER_ENVIRONMENT):
        release = example("v1-rolling", environment)
        release["spec"]["environment"]["tier"] = "prod"
        code, accepted[environment] = center_host.request("POST", "/api/deployments", release, token=pipeline)
        assert code == 202, accepted[environment]
    return accepted


def awaiting_approval(host: HostProcess, accepted: dict[str, Any]) -> str:
    """The deployment's id once it has asked for approval (RuntimeDeploymentApprovalRequested)."""

    def asked() -> bool:
        events = host.request("GET", f"/api/events?traceId={accepted['traceId']}")[1]["events"]
        return any(event["type"] == "RuntimeDeploymentApprovalRequested" for event in events)

    wait_until(asked, SETTLE_SECONDS, f"{accepted['deploymentId']} to ask for approval", 0.3)
    return str(accepted["deploymentId"])


def test_a_reader_sees_no_approve_button_on_a_waiting_prod_promotion_and_the_api_refuses_the_approval(
    center_host: HostProcess, people: SignIn, shots: Screenshots, prod_promotions: dict[str, dict[str, Any]]
) -> None:
    deployment_id = awaiting_approval(center_host, prod_promotions[READER_ENVIRONMENT])
    rita = people("rita", ["Reader"])
    page = rita.page
    page.get_by_test_id("nav-deployments").click()
    page.get_by_test_id(f"deployment-row-{deployment_id}").click()
    # The detail view has rendered the waiting deployment (the page says it waits; its timeline asked) ...
    expect(page.get_by_test_id("approval-requested")).to_contain_text("promotion to prod")
    expect(page.get_by_test_id("timeline")).to_contain_text("RuntimeDeploymentApprovalRequested")
    expect(page.get_by_test_id("state")).to_have_text("HealthGating")
    # ... with no button a Reader may not use.
    for action in ("approve", "abort", "rollback"):
        expect(page.get_by_test_id(action)).to_have_count(0)
    shots.take(page, "a reader sees the waiting promotion without approve")

    refused = rita.context.request.post(
        f"{center_host.base_url}/api/deployments/{deployment_id}/approve", data={"reason": "looks fine to me"}
    )
    assert refused.status == 403, refused.text()
    problem = refused.json()
    assert problem["requiredRoles"] == ["Approver"] and problem["roles"] == ["Reader"], problem
    assert center_host.request("GET", f"/api/deployments/{deployment_id}")[1]["state"] == "HealthGating"


def test_an_approver_approves_a_waiting_prod_promotion_with_a_reason_and_watches_it_complete(
    center_host: HostProcess, people: SignIn, shots: Screenshots, prod_promotions: dict[str, dict[str, Any]]
) -> None:
    deployment_id = awaiting_approval(center_host, prod_promotions[APPROVER_ENVIRONMENT])
    ana = people("ana", ["Approver"])
    page = ana.page
    page.get_by_test_id("nav-deployments").click()
    row = page.get_by_test_id(f"deployment-row-{deployment_id}")
    expect(row).to_contain_text(APPROVER_ENVIRONMENT)
    shots.take(page, "a prod deployment waits in the list")
    row.click()
    expect(page.get_by_test_id("approval-requested")).to_contain_text("promotion to prod")
    shots.take(page, "the deployment waits for approval")

    page.get_by_test_id("approve").click()
    page.get_by_test_id("reason-input").fill("CHG-1234 reviewed")
    shots.take(page, "approve with a reason")
    page.get_by_test_id("confirm").click()

    # The page follows the deployment live: Promoting, then Completed, with who approved it in the timeline.
    expect(page.get_by_test_id("state")).to_have_text("Completed", timeout=SETTLE_SECONDS * 1000)
    approved = page.get_by_test_id("timeline-event").filter(has_text="RuntimeDeploymentApproved")
    expect(approved).to_contain_text("by ana")
    expect(approved).to_contain_text("CHG-1234 reviewed")
    expect(page.get_by_test_id("timeline")).to_contain_text("RuntimeDeploymentCompleted")
    expect(page.get_by_test_id("approve")).to_have_count(0)
    # Why: the explanation's outcome and one row per gate with its verdict.
    expect(page.get_by_test_id("explanation-reason")).to_contain_text("Completed: every gate passed")
    expect(page.get_by_test_id("explanation-reason")).to_contain_text("approved by ana")
    expect(page.get_by_test_id("gates").locator("tbody tr").first).to_contain_text("passed")
    shots.take(page, "the deployment completed")
    done = center_host.request("GET", f"/api/deployments/{deployment_id}")[1]
    promoting = next(transition for transition in done["transitions"] if transition["to"] == "Promoting")
    assert promoting["actor"]["name"] == "ana" and "CHG-1234 reviewed" in promoting["reason"], promoting


def test_an_operator_dismisses_a_finding_with_a_reason_and_the_audit_view_shows_who_did_it(
    center_host: HostProcess, people: SignIn, shots: Screenshots
) -> None:
    finding_id = missing_service_finding(center_host, "orders")
    olga = people("olga", ["Operator"])
    page = olga.page
    page.get_by_test_id("nav-findings").click()
    row = page.get_by_test_id(f"finding-row-{finding_id}")
    expect(row).to_contain_text("missing")
    shots.take(page, "a review-required finding")

    row.get_by_test_id("dismiss").click()
    page.get_by_test_id("reason-input").fill("orders retired in center-drift")
    shots.take(page, "dismiss with a reason")
    page.get_by_test_id("confirm").click()
    expect(row).to_have_count(0)  # the list shows the Open findings: a dismissed one leaves it
    page.get_by_test_id("filter-status").select_option("Dismissed")
    expect(row).to_contain_text("Dismissed")
    expect(row.get_by_test_id("finding-note")).to_contain_text("by olga: orders retired in center-drift")
    expect(row.get_by_test_id("dismiss")).to_have_count(0)
    shots.take(page, "the finding is dismissed")
    assert center_host.request("GET", f"/api/drift/findings/{finding_id}")[1]["status"] == "Dismissed"

    page.get_by_test_id("nav-audit").click()
    page.get_by_test_id("filter-actor").fill("olga")
    page.get_by_test_id("apply-filters").click()
    entry = page.get_by_test_id("audit-row").filter(has_text="RuntimeDriftFindingDecided")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(f"{DRIFT_ENVIRONMENT}/orders")
    expect(entry.get_by_test_id("audit-actor")).to_have_text("olga")
    expect(entry.get_by_test_id("audit-reason")).to_have_text("orders retired in center-drift")
    shots.take(page, "the audit view shows who dismissed it")


def missing_service_finding(host: HostProcess, service: str) -> str:
    """Run drift now (the host's caller is an Operator) and wait for the Open finding that ``service``, desired
    in ``DRIFT_ENVIRONMENT`` and never deployed there, is missing."""
    code, run = host.request("POST", "/api/drift/runs")
    assert code == 202, run

    def found() -> str | None:
        findings = host.request("GET", "/api/drift/findings")[1]["findings"]
        return next(
            (
                finding["id"]
                for finding in findings
                if (finding["environment"], finding["service"], finding["kind"], finding["status"])
                == (DRIFT_ENVIRONMENT, service, "missing", "Open")
            ),
            None,
        )

    return wait_until(found, SETTLE_SECONDS, f"a missing-service finding for {service}", 0.3)
