"""Fixtures of the browser tests: Chromium, the product's host with a desired state to drift from, and people
signed in to the Runtime Center, each in a browser context of their own."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Sequence

import pytest
import yaml
from playwright.sync_api import Browser, expect, sync_playwright

from funchost.azurite import Azurite
from tests.browser.center import (
    DRIFT_ENVIRONMENT,
    EXPECT_SECONDS,
    SCREENSHOTS,
    Screenshots,
    Session,
    SignIn,
    open_session,
    sign_in,
)
from tests.e2e.host_process import HostProcess, product_settings
from tests.e2e.test_deployments_api import example

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Chromium from ``CHROMIUM`` (Debian's ``chromium`` package; ``make test`` installs it). Missing is
    a failure, not a skip: the Runtime Center must be proven in a browser.

    Per module, never per session: Playwright's sync API keeps an event loop running on the main thread while it
    is open, and the tests a pytest worker runs after this module start event loops of their own there."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium; `make test` does it "
            "as root) or set CHROMIUM to a Chromium or Chrome binary",
            pytrace=False,
        )
    expect.set_options(timeout=EXPECT_SECONDS * 1000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def center_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    """The product's host for one module, with a desired state (a folder of manifests) for the drift loop."""
    local = tmp_path_factory.mktemp("center")
    desired = local / "desired"
    desired.mkdir()
    (desired / "orders.yaml").write_text(yaml.safe_dump(example("v1-rolling", DRIFT_ENVIRONMENT)))
    # The drift timer only on New Year's night: a run is the test's own (POST /api/drift/runs), never a timer's.
    yearly = "0 0 0 1 1 *"
    settings = product_settings(local, CONTROLPLANE_DESIRED_STATE=str(desired), CONTROLPLANE_DRIFT_SCHEDULE=yearly)
    host = HostProcess(azurite.connection_string, "function_app:app", local, settings)
    host.start()
    yield host
    host.stop()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    """This test's screenshots, in ``artifacts/screenshots/<test name>/``."""
    return Screenshots(SCREENSHOTS / request.node.name)


@pytest.fixture
def people(
    request: pytest.FixtureRequest, chromium: Browser, center_host: HostProcess, shots: Screenshots
) -> Iterator[SignIn]:
    """Signs people in (``people(name, roles)``), each in a context of their own. Afterwards: a screenshot of
    each page when the test failed, and a failure if a page's scripts threw or the CSP blocked one."""
    sessions: list[Session] = []

    def person(name: str, roles: Sequence[str]) -> Session:
        sessions.append(open_session(chromium, center_host))
        sign_in(sessions[-1], name, roles, shots)
        return sessions[-1]

    yield person
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for session in sessions:
            shots.take(session.page, "failed")
    for session in sessions:
        session.context.close()
    print(f"screenshots: {shots.folder}")
    errors = [error for session in sessions for error in session.script_errors]
    assert not errors, errors


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport]:
    """Keeps the call phase's report on the item, so ``people`` knows at teardown whether the test failed."""
    report: pytest.TestReport = yield
    if report.when == "call":
        item.report_call = report  # type: ignore[attr-defined]
    return report
