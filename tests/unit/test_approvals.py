"""Who may approve or abort a deployment: the Approver role, and four-eyes for production."""

from __future__ import annotations

import pytest

from controlplane.config import InvalidSettings, Settings
from controlplane.domain.access import Actor
from controlplane.domain.approvals import FOUR_EYES_SETTING, abort_refusal, approval_refusal, four_eyes_applies
from controlplane.domain.manifest import Release, parse_release
from tests.builders import release_document

ANA = Actor("ana", "oid-ana", ("Deployer", "Approver"))
ANA_RENAMED = Actor("ana.silva@contoso.com", "oid-ana", ("Approver",))
BEN = Actor("ben", "oid-ben", ("Approver",))
READER = Actor("rita", "oid-rita", ("Reader",))
OPERATOR = Actor("otto", "oid-otto", ("Operator",))


def release(environment: str, tier: str) -> Release:
    document = release_document(environment)
    document["spec"]["environment"]["tier"] = tier
    return parse_release(document)


def test_four_eyes_applies_to_prod_releases_while_the_setting_is_on() -> None:
    assert four_eyes_applies(release(environment="prod", tier="prod"), enabled=True)
    assert not four_eyes_applies(release(environment="prod", tier="prod"), enabled=False)
    assert not four_eyes_applies(release(environment="staging", tier="nonprod"), enabled=True)


def test_the_requester_may_not_approve_under_four_eyes_whatever_their_name_says() -> None:
    for approver in (ANA, ANA_RENAMED):  # the same object id: the same person
        refusal = approval_refusal(approver, ANA, four_eyes=True)
        assert refusal is not None and "four-eyes" in refusal and FOUR_EYES_SETTING in refusal
    assert approval_refusal(BEN, ANA, four_eyes=True) is None
    assert approval_refusal(ANA, ANA, four_eyes=False) is None  # non-prod, or the setting off
    assert approval_refusal(ANA, None, four_eyes=True) is None  # the control plane asked: no person to exclude


def test_approving_needs_the_approver_role_and_aborting_approver_or_operator() -> None:
    refusal = approval_refusal(OPERATOR, ANA, four_eyes=True)
    assert refusal == "approve needs the app role Approver; otto has Operator"
    assert abort_refusal(OPERATOR) is None and abort_refusal(BEN) is None
    assert abort_refusal(READER) == "abort needs the app role Approver or Operator; rita has Reader"


@pytest.mark.parametrize(("text", "on"), [("", True), ("true", True), ("False", False), ("0", False), ("ON", True)])
def test_the_four_eyes_setting_reads_on_and_off(text: str, on: bool) -> None:
    settings = Settings.from_environment(
        {"CONTROLPLANE_STORAGE": "UseDevelopmentStorage=true", FOUR_EYES_SETTING: text}
    )
    assert settings.four_eyes is on


def test_a_four_eyes_setting_that_is_neither_on_nor_off_is_refused_not_read_as_off() -> None:
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_environment({"CONTROLPLANE_STORAGE": "UseDevelopmentStorage=true", FOUR_EYES_SETTING: "nope"})
    assert [error.path for error in refused.value.errors] == [FOUR_EYES_SETTING]
