"""The Runtime Center's HTML shell, its security headers, and the allow-list of its static assets.

The shell is static but for the deployment state machine, embedded as a JSON data block (never executed, so
the Content-Security-Policy's ``script-src 'self'`` allows it) from which the page draws the diagram. Everything
else is drawn by ``assets/center.js`` from the JSON API; it builds DOM nodes with ``textContent`` and never
parses HTML, so names and reasons users typed render as text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controlplane.domain.deployment import DEPLOYMENT_MACHINE, DeploymentState

ASSETS = Path(__file__).parent / "assets"
# name -> Content-Type: only these files are served (a name is matched exactly, so no path reaches elsewhere).
ASSET_TYPES = {
    "center.css": "text/css; charset=utf-8",
    "center.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "plots.js": "text/javascript; charset=utf-8",
    "services.js": "text/javascript; charset=utf-8",
    "deployments.js": "text/javascript; charset=utf-8",
    "deployment.js": "text/javascript; charset=utf-8",
    "findings.js": "text/javascript; charset=utf-8",
    "events.js": "text/javascript; charset=utf-8",
    "explanation.js": "text/javascript; charset=utf-8",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# Assets change with a deployment of the app: revalidated on every load, never served stale.
ASSET_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
VIEWS = (
    ("services", "Services"),
    ("deployments", "Deployments"),
    ("findings", "Drift"),
    ("incidents", "Incidents"),
    ("audit", "Audit"),
)


def state_machine() -> dict[str, Any]:
    """The deployment state machine as the page draws it: states in order, the initial one, every transition."""
    return {
        "name": DEPLOYMENT_MACHINE.name,
        "initial": DEPLOYMENT_MACHINE.initial.value,
        "states": [state.value for state in DeploymentState],
        "terminal": [state.value for state in DeploymentState if DEPLOYMENT_MACHINE.is_terminal(state)],
        "transitions": [[source.value, target.value] for source, target in DEPLOYMENT_MACHINE.edges()],
    }


def shell(logout_path: str) -> str:
    """The page: header with the navigation and the signed-in user, the view, the reason dialog.

    Asset and API URLs are relative to the page (``/api/center``), so they follow the host's route prefix."""
    # "<" escaped keeps "</script>" from ever closing the data block early, whatever the data holds.
    machine = json.dumps(state_machine()).replace("<", "\\u003c")
    links = "\n".join(
        f'      <a href="#/{view}" id="nav-{view}" data-testid="nav-{view}">{label}</a>' for view, label in VIEWS
    )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Runtime Center</title>
  <link rel="stylesheet" href="center/assets/center.css">
  <script type="module" src="center/assets/center.js"></script>
</head>
<body>
  <header>
    <h1>Runtime Center</h1>
    <nav aria-label="views">
{links}
    </nav>
    <div class="who">
      <span id="user" data-testid="user">…</span>
      <span id="roles" data-testid="roles"></span>
      <a href="{logout_path}" id="sign-out" data-testid="sign-out">Sign out</a>
    </div>
  </header>
  <div id="error" data-testid="error" role="alert" hidden></div>
  <main id="view" data-testid="view"><p class="muted">Loading…</p></main>
  <dialog id="reason-dialog" data-testid="reason-dialog">
    <form method="dialog">
      <h2 id="reason-title">Reason</h2>
      <label for="reason-input">Why (recorded with your name in the audit log)</label>
      <textarea id="reason-input" data-testid="reason-input" rows="3" maxlength="1000" required></textarea>
      <menu>
        <button value="cancel" formnovalidate data-testid="cancel">Cancel</button>
        <button value="confirm" id="confirm" data-testid="confirm">Confirm</button>
      </menu>
    </form>
  </dialog>
  <noscript>The Runtime Center needs JavaScript; the same data is in the JSON API under /api.</noscript>
  <script type="application/json" id="state-machine">{machine}</script>
</body>
</html>
"""


def asset(name: str) -> tuple[bytes, str] | None:
    """An allow-listed asset's bytes and Content-Type; None for any other name."""
    content_type = ASSET_TYPES.get(name)
    if content_type is None:
        return None
    return (ASSETS / name).read_bytes(), content_type
