// Events as the page shows them: a flow's timeline, incidents with their envelope chain and replay command
// (events of type RuntimeIncidentRaised), and the audit view (GET /api/events?service=&environment=&type=&actor=
// &since=&until=&limit=&continuation= -> {events, newest first, continuation}).

import {get} from "./api.js";
import {fill, h, json, when} from "./dom.js";

const PAGE = 50;

/** Who did it, when the event says: an operator's actor ({name, objectId, roles}) or the older "by". */
function actorOf(event) {
  const data = event.data || {};
  const actor = data.actor || (data.signal && data.signal.actor);
  if (actor && typeof actor === "object") return actor.name || actor.objectId || "";
  return typeof actor === "string" ? actor : data.by || "";
}

function summary(event) {
  const data = event.data || {};
  const parts = [];
  if (data.from !== undefined && data.to !== undefined) parts.push(`${data.from ?? "—"} → ${data.to}`);
  if (data.reason) parts.push(String(data.reason));
  if (data.refusal) parts.push(`refused: ${data.refusal}`);
  return parts.join(": ");
}

/** A flow's events, oldest first, each with its data behind a disclosure. */
export function timeline(events) {
  if (!events.length) return h("p", {class: "muted", testid: "timeline"}, "No event yet.");
  return h("ol", {class: "timeline", testid: "timeline"},
    events.map((event) => h("li", {testid: "timeline-event", "data-type": event.type},
      h("span", {class: "time"}, when(event.time)), " ",
      h("strong", {}, event.type), " ",
      h("span", {class: "muted"}, event.subject || ""), " ",
      actorOf(event) ? h("span", {class: "actor"}, `by ${actorOf(event)}`) : null, " ",
      h("span", {}, summary(event)),
      h("details", {}, h("summary", {}, "data"), json(event.data)),
    )));
}

function incident(event) {
  const data = event.data || {};
  const chain = data.chain || {};
  const holder = h("div", {}, timeline(chain.events || []));
  const whole = h("button", {type: "button", testid: "load-chain", on: {click: async () => {
    const {events} = await get("events", {traceId: chain.traceId || event.traceid});
    fill(holder, timeline(events));
    whole.remove();
  }}}, "Load the whole trace");
  const deployment = data.deploymentId
    ? h("a", {href: `#/deployments/${encodeURIComponent(data.deploymentId)}`}, data.deploymentId) : "—";
  return h("article", {class: "incident", testid: `incident-${data.incidentId || event.id}`},
    h("h3", {}, `${when(event.time)} — ${data.environment || ""} ${(data.services || []).join(", ")}`),
    h("p", {}, data.reason || ""),
    h("p", {}, "Deployment ", deployment, " · trace ", h("span", {class: "mono"}, chain.traceId || event.traceid)),
    h("p", {}, "Replay: ", h("code", {testid: "replay-command"}, chain.replay || `python -m controlplane replay ${event.traceid}`)),
    h("h4", {}, chain.complete ? "Envelope chain" : "Envelope chain (first events)"),
    holder,
    chain.complete ? null : whole,
  );
}

export async function renderIncidents(ctx) {
  const list = h("div", {testid: "incidents-list"});
  const draw = async () => {
    const {events} = await get("events", {type: "RuntimeIncidentRaised", limit: PAGE});
    if (ctx.stale()) return;
    fill(list, events.length ? events.map(incident) : h("p", {class: "muted"}, "No incident."));
  };
  await draw();
  fill(ctx.container, h("h2", {}, "Incidents"), list);
  return {refresh: draw};
}

function auditRow(event) {
  const data = event.data || {};
  const where = [data.environment, data.service].filter(Boolean).join("/") || event.subject || "";
  return h("tr", {testid: "audit-row", "data-event-id": event.id},
    h("td", {}, when(event.time)),
    h("td", {}, event.type),
    h("td", {}, data.deploymentId
      ? h("a", {href: `#/deployments/${encodeURIComponent(data.deploymentId)}`}, where) : where),
    h("td", {testid: "audit-actor"}, actorOf(event)),
    h("td", {testid: "audit-reason"}, data.reason || ""),
    h("td", {class: "mono"}, event.traceid),
  );
}

export async function renderAudit(ctx) {
  const fields = ["environment", "service", "type", "actor", "since", "until"];
  const filters = Object.fromEntries(fields.map((name) => [name, ""]));
  const body = h("tbody", {});
  const more = h("button", {type: "button", testid: "more", hidden: true}, "More");
  let continuation = null;
  let pages = 0;
  const load = async (append) => {
    const answer = await get("events", {...filters, limit: PAGE, continuation: append ? continuation : ""});
    if (ctx.stale()) return;
    const rows = answer.events.map(auditRow);
    if (append) body.append(...rows);
    else fill(body, rows.length ? rows : h("tr", {}, h("td", {colspan: 6, class: "muted"}, "No event matches.")));
    continuation = answer.continuation || null;
    pages = append ? pages + 1 : 1;
    more.hidden = !continuation;
  };
  const form = h("form", {class: "filters", testid: "audit-filters"},
    fields.map((name) => h("label", {}, `${name} `,
      h("input", {name, testid: `filter-${name}`, autocomplete: "off",
        placeholder: name === "since" || name === "until" ? "2026-12-06T12:00:00Z" : null}))),
    h("button", {type: "submit", testid: "apply-filters"}, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    for (const name of fields) filters[name] = String(data.get(name) || "").trim();
    load(false).catch(ctx.fail);
  });
  more.addEventListener("click", () => load(true).catch(ctx.fail));
  await load(false);
  fill(ctx.container, h("h2", {}, "Audit"), form,
    h("table", {testid: "audit-list"},
      h("thead", {}, h("tr", {}, ["Time", "Event", "Where", "Actor", "Reason", "Trace"].map((t) => h("th", {}, t)))),
      body),
    more);
  return {refresh: () => (pages <= 1 ? load(false) : Promise.resolve())};
}
