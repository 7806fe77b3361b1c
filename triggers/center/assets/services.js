// Environments and services (GET /api/services), and one service's scaling history as a plot
// (GET /api/services/{environment}/{service}/history).

import {get, getAll, path} from "./api.js";
import {badge, fill, h, when} from "./dom.js";
import {timePlot} from "./plots.js";

function split(live) {
  if (!live.length) return "—";
  return live.map((workload) => `${workload.revision} ${workload.trafficPercent}%`).join(" / ");
}

function gate(last) {
  if (!last) return "—";
  return h("span", {title: last.summary || ""}, badge(last.status), " ", when(last.at));
}

function scaling(state) {
  const last = state && state.last;
  if (!last) return "—";
  return h("span", {}, `${last.replicas} replicas `, h("span", {class: "muted"}, `${last.reason} (${when(last.at)})`));
}

function row(entry) {
  const id = `${entry.environment}-${entry.service}`;
  const condition = entry.monitor ? entry.monitor.condition : "Healthy";
  const replicas = entry.live.reduce((sum, workload) => sum + workload.replicas, 0);
  const link = `#/services/${encodeURIComponent(entry.environment)}/${encodeURIComponent(entry.service)}`;
  return h("tr", {testid: `service-row-${id}`},
    h("td", {}, entry.environment),
    h("td", {}, h("a", {href: link}, entry.service)),
    h("td", {}, entry.revision),
    h("td", {testid: "replicas"}, replicas),
    h("td", {}, split(entry.live)),
    h("td", {}, badge(condition, "condition")),
    h("td", {}, gate(entry.lastGate)),
    h("td", {}, scaling(entry.scaling)),
  );
}

export async function renderServices(ctx) {
  const table = h("tbody", {});
  const draw = async () => {
    const services = await getAll("services", {}, "services");
    if (ctx.stale()) return;
    fill(table, services.length ? services.map(row) : h("tr", {}, h("td", {colspan: 8, class: "muted"}, "No service is deployed yet.")));
  };
  await draw();
  fill(ctx.container,
    h("h2", {}, "Environments and services"),
    h("table", {testid: "services-list"},
      h("thead", {}, h("tr", {}, ["Environment", "Service", "Serving revision", "Replicas", "Traffic split",
        "Condition", "Last gate", "Last scaling decision"].map((title) => h("th", {}, title)))),
      table),
  );
  return {refresh: draw};
}

function historyPlot(history) {
  const evaluations = history.evaluations.map((item) => ({...item, at: new Date(item.at)}));
  const metricNames = [...new Set(evaluations.flatMap((item) => Object.keys(item.metrics || {})))];
  const lines = [
    {label: "replicas", cls: "replicas", step: true, points: evaluations.map((item) => [item.at, item.replicas])},
    {label: "min", cls: "min", step: true, points: evaluations.map((item) => [item.at, item.minReplicas])},
    {label: "max", cls: "max", step: true, points: evaluations.map((item) => [item.at, item.maxReplicas])},
    ...metricNames.map((name, index) => ({
      label: name,
      cls: `metric metric-${index}`,
      right: true,
      points: evaluations.filter((item) => item.metrics[name] !== null && item.metrics[name] !== undefined)
        .map((item) => [item.at, item.metrics[name]]),
    })),
  ];
  const markers = evaluations.map((item) => ({
    at: item.at,
    value: item.replicas,
    cls: item.replicas !== item.current ? "changed" : "held",
    title: `${when(item.at.toISOString())}: ${item.current} → ${item.replicas}; ${item.reason}`,
  }));
  return timePlot({
    title: `Replicas of ${history.service} in ${history.environment}`,
    testid: "replicas-plot",
    lines,
    markers,
    leftLabel: "replicas",
    rightLabel: metricNames.join(", "),
  });
}

function evaluationRows(history) {
  return [...history.evaluations].reverse().map((item) =>
    h("tr", {testid: "evaluation-row"},
      h("td", {}, when(item.at)),
      h("td", {}, `${item.current} → ${item.replicas}`),
      h("td", {}, `[${item.minReplicas}, ${item.maxReplicas}]`),
      h("td", {}, Object.entries(item.metrics || {}).map(([name, value]) => `${name} ${value ?? "no data"}`).join(", ")),
      h("td", {}, item.reason),
    ));
}

export async function renderService(ctx, environment, service) {
  const body = h("div", {});
  const draw = async () => {
    const history = await get(`services/${path(environment, service)}/history`);
    if (ctx.stale()) return;
    const policy = history.policy
      ? `policy: ${history.policy.minReplicas}–${history.policy.maxReplicas} replicas; ` +
        history.policy.rules.map((rule) => `${rule.metric} target ${rule.target}`).join(", ")
      : "no scaling policy";
    fill(body,
      h("p", {}, `serving ${history.revision}; ${policy}`),
      historyPlot(history),
      h("table", {testid: "evaluations"},
        h("thead", {}, h("tr", {}, ["At", "Replicas", "Bounds", "Metrics", "Decision"].map((t) => h("th", {}, t)))),
        h("tbody", {}, evaluationRows(history))),
    );
  };
  await draw();
  fill(ctx.container, h("p", {}, h("a", {href: "#/services"}, "← services")),
    h("h2", {}, `${service} in ${environment}`), body);
  return {refresh: draw};
}
