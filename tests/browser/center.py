"""Driving the Runtime Center as a person does: sign in through the local host's Easy Auth form, click, read,
and keep a screenshot of every step (``artifacts/screenshots/<test>/``, which CI keeps)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tests.e2e.host_process import ROOT, HostProcess

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CENTER = "/api/center"
# Generous: a 2-core CI machine runs two test workers, host processes and workloads at once.
EXPECT_SECONDS = 30
SETTLE_SECONDS = 120
DRIFT_ENVIRONMENT = "center-drift"
"""Desired in the test host's desired state, never deployed: drift finds its services missing (review-required)."""


class Screenshots:
    """The screenshots of one test, numbered in the order taken: ``<folder>/NN-<step>.png``."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)  # only this test's, from an earlier run
        folder.mkdir(parents=True)
        self.folder = folder
        self.taken: list[Path] = []

    def take(self, page: Page, step: str) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


class Session:
    """One person's browser: a context of its own (its own session cookie) with the page signed in, and what
    went wrong in the page's scripts (uncaught errors, scripts or styles the Content-Security-Policy blocked)."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.script_errors: list[str] = []
        page.on("pageerror", lambda error: self.script_errors.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        # Only what the CSP refused: a failed fetch (a 403 the page shows) is logged as an error too.
        if message.type == "error" and "Content Security Policy" in message.text:
            self.script_errors.append(f"console: {message.text}")


def open_session(browser: Browser, host: HostProcess) -> Session:
    """A browser context of its own (its own cookies) on ``host``, with one page."""
    context = browser.new_context(base_url=host.base_url, viewport={"width": 1280, "height": 900})
    return Session(context, context.new_page())


def sign_in(session: Session, name: str, roles: Sequence[str], shots: Screenshots) -> None:
    """Open the host's login form (``/.auth/login/aad``), sign in as ``name`` with ``roles`` and land on the
    Runtime Center, which names the user; the form's own userId (a fresh GUID) is the object id."""
    page = session.page
    page.goto(f"/.auth/login/aad?post_login_redirect_uri={CENTER}")
    page.get_by_label("User details").fill(name)
    page.get_by_label("Roles").fill(",".join(roles))
    shots.take(page, f"sign in as {name}")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(CENTER)))
    expect(page.get_by_test_id("user")).to_contain_text(name)


SignIn = Callable[[str, Sequence[str]], Session]
"""``people(name, roles)``: that person signed in, in a browser context of their own."""
