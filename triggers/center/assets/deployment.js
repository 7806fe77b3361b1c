// One deployment: its state on the state machine, per-service rollout progress and traffic over time, why each
// gate passed, failed or held (explanation.js), the live timeline of its trace (GET /api/events?traceId=), and
// Approve / Abort / Rollback where the state and the user's roles allow them (the API refuses whatever the page
// shows).

import {get, path, post} from "./api.js";
import {ask, badge, fill, h, json, s, showError, when} from "./dom.js";
import {timePlot} from "./plots.js";
import {timeline} from "./events.js";
import {explanationView} from "./explanation.js";

const NODE = {width: 104, height: 30, gapX: 116, rowY: [24, 104]};
// Where the off-path states sit under the main path (columns of the main row); others line up after them.
const COLUMN = {RollingBack: 4, RolledBack: 6, Failed: 1.5};

function machine() {
  return JSON.parse(document.getElementById("state-machine").textContent);
}

/** The happy path from the initial state: the successor that is not a failure state, until a terminal one. */
function mainPath(model) {
  const next = new Map();
  for (const [from, to] of model.transitions) if (!next.has(from) && !["Failed", "RollingBack"].includes(to)) next.set(from, to);
  const row = [model.initial];
  while (next.has(row[row.length - 1]) && row.length < model.states.length) row.push(next.get(row[row.length - 1]));
  return row;
}

function stateMachine(deployment) {
  const model = machine();
  const row = mainPath(model);
  const spot = new Map(row.map((state, index) => [state, {x: 8 + index * NODE.gapX, y: NODE.rowY[0]}]));
  let spare = row.length;
  for (const state of model.states.filter((name) => !spot.has(name))) {
    const column = COLUMN[state] ?? spare++;
    spot.set(state, {x: 8 + column * NODE.gapX, y: NODE.rowY[1]});
  }
  const visited = new Set(deployment.transitions.map((transition) => transition.to));
  const taken = new Set(deployment.transitions.filter((t) => t.from).map((t) => `${t.from}>${t.to}`));
  const width = 16 + Math.max(...[...spot.values()].map((p) => p.x)) + NODE.width;
  const graph = s("svg", {class: "machine", viewBox: `0 0 ${width} 150`, role: "img", testid: "state-machine",
    "aria-label": `${model.name} state machine, current state ${deployment.state}`});
  graph.append(s("defs", {}, s("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
    markerHeight: 7, orient: "auto-start-reverse"}, s("path", {d: "M0,0L10,5L0,10z", class: "arrowhead"}))));
  const center = (state) => ({x: spot.get(state).x + NODE.width / 2, y: spot.get(state).y + NODE.height / 2});
  for (const [from, to] of model.transitions) {
    const a = center(from);
    const b = center(to);
    const sameRow = a.y === b.y;
    const start = sameRow ? {x: a.x + Math.sign(b.x - a.x) * NODE.width / 2, y: a.y} : {x: a.x, y: a.y + Math.sign(b.y - a.y) * NODE.height / 2};
    const end = sameRow ? {x: b.x - Math.sign(b.x - a.x) * NODE.width / 2, y: b.y} : {x: b.x, y: b.y - Math.sign(b.y - a.y) * NODE.height / 2};
    const bend = sameRow && Math.abs(b.x - a.x) > NODE.gapX * 1.5 ? ` Q${(start.x + end.x) / 2},${start.y + 36} ` : " L";
    graph.append(s("path", {d: `M${start.x},${start.y}${bend}${end.x},${end.y}`, fill: "none", "marker-end": "url(#arrow)",
      class: `edge${taken.has(`${from}>${to}`) ? " taken" : ""}`}));
  }
  for (const state of model.states) {
    const {x, y} = spot.get(state);
    const cls = ["node", visited.has(state) ? "visited" : "", state === deployment.state ? "current" : "",
      model.terminal.includes(state) ? "terminal" : ""].join(" ");
    graph.append(s("g", {class: cls, "data-state": state, testid: state === deployment.state ? "machine-current" : null},
      s("rect", {x, y, width: NODE.width, height: NODE.height, rx: 6}),
      s("text", {x: x + NODE.width / 2, y: y + 19, "text-anchor": "middle"}, state)));
  }
  return graph;
}

/** A canary's planned traffic steps ("20% → 50% → 100%"); null for strategies without weights. */
function plannedWeights(deployment) {
  const strategy = deployment.release && deployment.release.spec ? deployment.release.spec.strategy : null;
  const steps = strategy && Array.isArray(strategy.steps) ? strategy.steps : [];
  const weights = steps.filter((step) => typeof step.weight === "number").map((step) => `${step.weight}%`);
  return weights.length ? weights.join(" → ") : null;
}

function progress(deployment) {
  const rows = Object.entries(deployment.services).map(([name, service]) => {
    const bar = h("span", {class: "bar-fill"});
    bar.style.width = `${service.trafficPercent}%`; // CSSOM, which the CSP allows (an inline style attribute it would not)
    const batches = (service.trafficHistory || []).map((point) => `${point.percent}%`).join(" → ") || "—";
    const planned = plannedWeights(deployment);
    const health = service.lastHealth;
    return h("tr", {testid: `service-progress-${name}`},
      h("td", {}, name),
      h("td", {}, badge(service.phase)),
      h("td", {}, service.revision || "—"),
      h("td", {}, h("span", {class: "bar", title: `${service.trafficPercent}%`}, bar), ` ${service.trafficPercent}%`),
      h("td", {}, batches, planned ? h("div", {class: "muted"}, `planned: ${planned}`) : null),
      h("td", {}, service.message),
      h("td", {}, health ? h("span", {title: health.summary || ""}, badge(health.status), " ", when(health.at)) : "—"),
    );
  });
  return h("table", {testid: "progress"},
    h("thead", {}, h("tr", {}, ["Service", "Phase", "New revision", "Traffic", "Traffic steps", "Last step", "Last gate"]
      .map((title) => h("th", {}, title)))),
    h("tbody", {}, rows));
}

function trafficPlot(deployment, terminal) {
  // Each share holds until the next change; the last one until the deployment ended, or now while it runs.
  const transitions = deployment.transitions;
  const until = terminal ? new Date(transitions[transitions.length - 1].at) : new Date();
  const markers = [];
  const lines = Object.entries(deployment.services).map(([name, service], index) => {
    const points = (service.trafficHistory || []).map((point) => [new Date(point.at), point.percent]);
    for (const [at, percent] of points) markers.push({at, value: percent, cls: "changed", title: `${name}: ${percent}% at ${when(at.toISOString())}`});
    if (points.length && until > points[points.length - 1][0]) points.push([until, points[points.length - 1][1]]);
    return {label: name, cls: `metric metric-${index % 3}`, step: true, points};
  });
  return timePlot({title: "Traffic to the new revision", testid: "traffic-plot", lines, markers, leftMax: 100, leftLabel: "%"});
}

function actions(ctx, deployment, redraw) {
  const terminal = machine().terminal.includes(deployment.state);
  const act = (testid, label, title, run) =>
    h("button", {type: "button", testid, on: {click: async () => {
      const reason = await ask(title);
      if (reason === null) return;
      try {
        await run(reason);
        await redraw();
      } catch (error) {
        showError(error);
      }
    }}}, label);
  const id = path(deployment.id);
  const buttons = [];
  if (!terminal && ctx.can("approve")) {
    buttons.push(act("approve", "Approve", `Approve ${deployment.id}`, (reason) => post(`deployments/${id}/approve`, {reason})));
  }
  if (!terminal && ctx.can("abort")) {
    buttons.push(act("abort", "Abort", `Abort ${deployment.id}`, (reason) => post(`deployments/${id}/abort`, {reason})));
  }
  if (deployment.state === "Completed" && ctx.can("rollback")) {
    buttons.push(act("rollback", "Roll back", `Roll back ${deployment.id} to the release before it`, async (reason) => {
      const started = await post(`deployments/${id}/rollback`, {reason});
      ctx.go(`#/deployments/${encodeURIComponent(started.deploymentId)}`);
    }));
  }
  return h("div", {class: "actions", testid: "actions"}, buttons);
}

/** The approval the deployment waits for: the last one asked for and not given since (events are in order). */
function waiting(deployment, events) {
  if (machine().terminal.includes(deployment.state)) return null;
  let asked = null;
  for (const event of events) {
    if (event.type === "RuntimeDeploymentApprovalRequested") asked = event;
    else if (event.type === "RuntimeDeploymentApproved") asked = null;
  }
  if (!asked) return null;
  const fourEyes = deployment.fourEyes && deployment.requestedBy
    ? ` (four-eyes: someone other than ${deployment.requestedBy.name} must approve)` : "";
  return h("p", {class: "notice", testid: "approval-requested"},
    `Waiting for approval since ${when(asked.time)}: ${asked.data.for || ""}${fourEyes}`);
}

export async function renderDeployment(ctx, deploymentId) {
  const body = h("div", {});
  const draw = async () => {
    const deployment = await get(`deployments/${path(deploymentId)}`);
    const {events} = await get("events", {traceId: deployment.traceId});
    if (ctx.stale()) return;
    const release = deployment.release || {};
    const strategy = release.spec && release.spec.strategy ? release.spec.strategy.type || "" : "";
    fill(body,
      h("dl", {class: "facts"},
        h("dt", {}, "State"), h("dd", {}, badge(deployment.state, "state")),
        h("dt", {}, "Environment"), h("dd", {}, deployment.environment),
        h("dt", {}, "Trace"), h("dd", {class: "mono", testid: "trace-id"}, deployment.traceId),
        deployment.requestedBy ? [h("dt", {}, "Requested by"), h("dd", {testid: "requested-by"}, deployment.requestedBy.name)] : null,
        deployment.rollbackOf ? [h("dt", {}, "Rollback of"),
          h("dd", {}, h("a", {href: `#/deployments/${encodeURIComponent(deployment.rollbackOf)}`}, deployment.rollbackOf))] : null,
        strategy ? [h("dt", {}, "Strategy"), h("dd", {}, strategy)] : null),
      waiting(deployment, events),
      actions(ctx, deployment, draw),
      stateMachine(deployment),
      h("h3", {}, "Rollout"), progress(deployment), trafficPlot(deployment, machine().terminal.includes(deployment.state)),
      explanationView(deployment.explanation),
      h("h3", {}, "Timeline"), timeline(events),
      h("details", {}, h("summary", {}, "Release manifest"), json(deployment.release)),
    );
  };
  await draw();
  fill(ctx.container, h("p", {}, h("a", {href: "#/deployments"}, "← deployments")), h("h2", {}, deploymentId), body);
  return {refresh: draw};
}
