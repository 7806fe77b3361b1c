// Why a deployment is where it is (the deployment detail's `explanation`, domain.explain): the outcome line, then
// one row per gate with its verdict and the line that decided it; the gate's health, webhook and metric lines
// (each measurement: value, verdict, the query run) fold out under it.

import {badge, h} from "./dom.js";

function measurement(measured) {
  const value = measured.value === null || measured.value === undefined ? "no value" : String(measured.value);
  return h("li", {class: "mono"}, `#${measured.number} ${value} ${measured.verdict}  `,
    h("span", {class: "muted"}, measured.error ? `${measured.error}: ${measured.query}` : measured.query));
}

function details(gate) {
  const lines = [];
  if (gate.health) {
    const probes = Object.entries(gate.health.probes || {}).map(([status, count]) => `${count} ${status}`).join(", ");
    lines.push(h("li", {}, `health ${gate.health.verdict || "probing"}`, probes ? ` (probes: ${probes})` : "",
      gate.health.last ? ` — last: ${gate.health.last}` : ""));
  }
  for (const hook of gate.hooks || []) {
    const answer = hook.status === null || hook.status === undefined ? `no answer (${hook.error || ""})` : `HTTP ${hook.status}`;
    lines.push(h("li", {}, `webhook ${hook.hook} (${hook.type}) ${answer}: ${hook.effect}`));
  }
  for (const metric of (gate.analysis && gate.analysis.metrics) || []) {
    lines.push(h("li", {}, `${metric.metric} (${metric.provider}) ${metric.threshold}: `, badge(metric.verdict),
      h("ul", {}, (metric.measurements || []).map(measurement))));
  }
  if (gate.hold) {
    const ended = gate.hold.resolution ? `${gate.hold.resolution}${gate.hold.by ? ` by ${gate.hold.by}` : ""}, then ${gate.hold.action}` : "waiting for approve or abort";
    lines.push(h("li", {}, `hold: ${gate.hold.reason} — ${ended}`));
  }
  return lines.length ? h("details", {}, h("summary", {}, "details"), h("ul", {}, lines)) : null;
}

/** The explanation section, or null when the API sent none. */
export function explanationView(explanation) {
  if (!explanation) return null;
  const rows = [];
  for (const service of explanation.services || []) {
    for (const gate of service.gates || []) {
      rows.push(h("tr", {testid: `gate-${service.name}-${gate.number ?? "health"}`},
        h("td", {}, service.name),
        h("td", {}, gate.number ?? "—"),
        h("td", {}, gate.step),
        h("td", {}, badge(gate.verdict)),
        h("td", {}, gate.why, details(gate))));
    }
  }
  return [
    h("h3", {}, "Why"),
    h("p", {testid: "explanation-reason"}, `${explanation.state}: ${explanation.reason}`),
    rows.length ? h("table", {testid: "gates"},
      h("thead", {}, h("tr", {}, ["Service", "Gate", "Step", "Verdict", "Why"].map((title) => h("th", {}, title)))),
      h("tbody", {}, rows)) : null,
    explanation.complete === false ? h("p", {class: "muted"}, `Explained from the first ${explanation.events} events only.`) : null,
  ];
}
