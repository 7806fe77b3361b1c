// The Runtime Center: who is signed in (GET /api/me), the navigation (hash routes), and live updates (each view
// re-reads the API every few seconds while it is shown; never while the reason dialog is open).

import {get} from "./api.js";
import {clearError, fill, h, showError} from "./dom.js";
import {renderDeployment} from "./deployment.js";
import {renderDeployments} from "./deployments.js";
import {renderAudit, renderIncidents} from "./events.js";
import {renderFindings} from "./findings.js";
import {renderService, renderServices} from "./services.js";

const POLL_MS = 3000;

// "#/deployments/abc" -> ["deployments", "abc"]; each route: its nav link and the view that draws it.
const ROUTES = {
  services: {nav: "services", view: (ctx, rest) => (rest.length === 2 ? renderService(ctx, ...rest) : renderServices(ctx))},
  deployments: {nav: "deployments", view: (ctx, rest) => (rest.length ? renderDeployment(ctx, rest[0]) : renderDeployments(ctx))},
  findings: {nav: "findings", view: (ctx) => renderFindings(ctx)},
  incidents: {nav: "incidents", view: (ctx) => renderIncidents(ctx)},
  audit: {nav: "audit", view: (ctx) => renderAudit(ctx)},
};

let current = null; // {refresh, generation} of the view shown
let generation = 0;
let busy = false;

function route() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const name = ROUTES[parts[0]] ? parts[0] : "services";
  return {name, rest: parts.slice(1)};
}

async function show(me) {
  const {name, rest} = route();
  generation += 1;
  const mine = generation;
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.id === `nav-${ROUTES[name].nav}`);
  }
  const container = document.getElementById("view");
  clearError();
  const ctx = {
    me,
    container,
    can: (action) => me.actions.includes(action),
    stale: () => mine !== generation, // a view that finishes after the user moved on draws nothing
    fail: (error) => showError(error),
    go: (hash) => {
      window.location.hash = hash;
    },
  };
  current = null;
  fill(container, h("p", {class: "muted"}, "Loading…"));
  try {
    const view = await ROUTES[name].view(ctx, rest);
    if (mine === generation) current = view || null;
  } catch (error) {
    if (mine !== generation) return;
    showError(error);
    fill(container, h("p", {class: "muted", testid: "view-failed"}, "This view could not be loaded."));
  }
}

async function poll() {
  const dialog = document.getElementById("reason-dialog");
  if (busy || !current || !current.refresh || dialog.open || document.hidden) return;
  busy = true;
  const mine = generation;
  try {
    await current.refresh();
    if (mine === generation) clearError("poll");
  } catch (error) {
    if (mine === generation) showError(error, "poll");
  } finally {
    busy = false;
  }
}

async function start() {
  let me;
  try {
    me = await get("me");
  } catch (error) {
    showError(error);
    return;
  }
  fill(document.getElementById("user"), me.name);
  fill(document.getElementById("roles"), me.roles.length ? me.roles.join(", ") : "no app role");
  document.body.dataset.actions = me.actions.join(" ");
  window.addEventListener("hashchange", () => show(me));
  await show(me);
  window.setInterval(poll, POLL_MS);
}

start();
