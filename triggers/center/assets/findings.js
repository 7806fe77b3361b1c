// Drift: the findings with their diff (JSON pointer -> desired / actual), Approve and Dismiss with a reason, the
// dry-run plan of the next drift run (GET /api/drift/plan), and a drift run on demand.

import {get, getAll, path, post} from "./api.js";
import {ask, badge, fill, h, showError, when} from "./dom.js";

const DECIDABLE = new Set(["Open", "RemediationFailed"]);

const text = (value) => (value === null || value === undefined ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value));

/** A finding's diff as a table: one row per JSON pointer. */
export function diffTable(diff) {
  return h("table", {class: "diff", testid: "diff"},
    h("thead", {}, h("tr", {}, h("th", {}, "Field"), h("th", {}, "Desired"), h("th", {}, "Actual"))),
    h("tbody", {}, Object.entries(diff || {}).map(([pointer, change]) =>
      h("tr", {}, h("td", {class: "mono"}, pointer), h("td", {class: "desired"}, text(change && change.desired)),
        h("td", {class: "actual"}, text(change && change.actual))))));
}

function decide(ctx, finding, decision, redraw) {
  const label = decision === "approve" ? "Approve" : "Dismiss";
  const testid = decision === "approve" ? "approve-finding" : "dismiss";
  return h("button", {type: "button", testid, on: {click: async () => {
    const reason = await ask(`${label} finding ${finding.id} (${finding.environment}/${finding.service})`);
    if (reason === null) return;
    try {
      // The reason goes both ways: as the query parameter the route reads and as the JSON body.
      await post(`drift/findings/${path(finding.id)}/${decision}`, {reason}, {reason});
      await redraw();
    } catch (error) {
      showError(error);
    }
  }}}, label);
}

function findingRow(ctx, finding, redraw) {
  const buttons = DECIDABLE.has(finding.status) && ctx.can("decide-finding")
    ? [decide(ctx, finding, "approve", redraw), " ", decide(ctx, finding, "dismiss", redraw)] : [];
  return h("article", {class: "finding", testid: `finding-row-${finding.id}`, "data-status": finding.status},
    h("h3", {}, `${finding.environment}/${finding.service} · ${finding.kind} `, badge(finding.status, "finding-status"), " ",
      h("span", {class: "muted"}, `${finding.remedy}; first seen ${when(finding.firstSeen)}, last ${when(finding.lastSeen)}`)),
    finding.note ? h("p", {class: "note", testid: "finding-note"}, finding.note) : null,
    finding.decidedBy ? h("p", {class: "muted", testid: "decided-by"}, `decided by ${finding.decidedBy.name}`) : null,
    diffTable(finding.diff),
    finding.deploymentId ? h("p", {}, "Corrective deployment ",
      h("a", {href: `#/deployments/${encodeURIComponent(finding.deploymentId)}`}, finding.deploymentId)) : null,
    h("div", {class: "actions"}, buttons),
  );
}

async function planSection() {
  try {
    const plan = await get("drift/plan");
    const rows = plan.findings.map((entry) => h("tr", {},
      h("td", {}, `${entry.environment}/${entry.service}`), h("td", {}, entry.kind), h("td", {}, entry.status),
      h("td", {}, entry.new ? "new" : ""), h("td", {}, entry.action)));
    return h("div", {testid: "drift-plan"},
      h("p", {}, `Desired state at ${plan.desiredRevision}; resolves: ${plan.resolves.join(", ") || "nothing"}`),
      rows.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Service", "Kind", "Status", "", "Next run"]
        .map((title) => h("th", {}, title)))), h("tbody", {}, rows)) : h("p", {class: "muted"}, "No drift."));
  } catch (error) {
    // No desired state configured (409) is the plan's own answer, not a page error.
    return h("p", {class: "muted", testid: "drift-plan"}, error.message);
  }
}

export async function renderFindings(ctx) {
  const list = h("div", {testid: "findings-list"});
  const plan = h("div", {});
  const status = h("select", {testid: "filter-status"},
    ["Open", "", "Approved", "Remediating", "Remediated", "RemediationFailed", "Dismissed", "Resolved"]
      .map((value) => h("option", {value}, value || "every status")));
  // The plan surveys every environment: read again on demand and after a decision, not on every poll.
  const drawPlan = async () => fill(plan, await planSection());
  const drawList = async () => {
    const findings = await getAll("drift/findings", {status: status.value}, "findings");
    if (ctx.stale()) return;
    fill(list, findings.length ? findings.map((finding) => findingRow(ctx, finding, draw)) : h("p", {class: "muted"}, "No finding."));
  };
  const draw = async () => {
    await drawList();
    await drawPlan();
  };
  status.addEventListener("change", () => drawList().catch(ctx.fail));
  const again = h("button", {type: "button", testid: "refresh-plan", on: {click: () => drawPlan().catch(ctx.fail)}}, "Plan again");
  const run = ctx.can("run-drift") ? h("button", {type: "button", testid: "run-drift", on: {click: async () => {
    try {
      await post("drift/runs");
      await draw();
    } catch (error) {
      showError(error);
    }
  }}}, "Run drift detection now") : null;
  await draw();
  fill(ctx.container, h("h2", {}, "Drift findings"), h("p", {}, h("label", {}, "Status ", status), " ", run), list,
    h("h2", {}, "Dry-run plan ", again), plan);
  return {refresh: drawList};
}
