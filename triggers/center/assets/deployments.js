// Deployments: a filterable list, newest first, paged with the API's continuation token
// (GET /api/deployments?environment=&service=&state=&limit=&continuation= -> {deployments, continuation}).

import {get} from "./api.js";
import {badge, fill, h, when} from "./dom.js";

const PAGE = 25;

function machine() {
  return JSON.parse(document.getElementById("state-machine").textContent);
}

function row(deployment, ctx) {
  const services = Object.keys(deployment.services || {}).join(", ");
  const first = deployment.transitions[0];
  const last = deployment.transitions[deployment.transitions.length - 1];
  const open = () => ctx.go(`#/deployments/${encodeURIComponent(deployment.id)}`);
  return h("tr", {testid: `deployment-row-${deployment.id}`, class: "clickable", on: {click: open}},
    h("td", {}, h("a", {href: `#/deployments/${encodeURIComponent(deployment.id)}`}, deployment.id)),
    h("td", {}, deployment.environment),
    h("td", {}, services),
    h("td", {}, badge(deployment.state, "state")),
    h("td", {}, when(first && first.at)),
    h("td", {}, when(last && last.at)),
  );
}

export async function renderDeployments(ctx) {
  const filters = {environment: "", service: "", state: ""};
  const body = h("tbody", {});
  const more = h("button", {type: "button", testid: "more", hidden: true}, "More");
  let continuation = null;
  let pages = 0;

  const load = async (append) => {
    const query = {...filters, limit: PAGE, continuation: append ? continuation : ""};
    const answer = await get("deployments", query);
    if (ctx.stale()) return;
    // A server that does not filter by state yet: filter here too, so the list never shows other states.
    const shown = answer.deployments.filter((item) => !filters.state || item.state === filters.state);
    const rows = shown.map((item) => row(item, ctx));
    if (append) body.append(...rows);
    else fill(body, rows.length ? rows : h("tr", {}, h("td", {colspan: 6, class: "muted"}, "No deployment matches.")));
    continuation = answer.continuation || null;
    pages = append ? pages + 1 : 1;
    more.hidden = !continuation;
  };

  const input = (name, label) => h("label", {}, label, h("input", {name, testid: `filter-${name}`, autocomplete: "off"}));
  const states = h("select", {name: "state", testid: "filter-state"},
    h("option", {value: ""}, "any state"), machine().states.map((state) => h("option", {value: state}, state)));
  const form = h("form", {class: "filters", testid: "deployment-filters"},
    input("environment", "Environment "), input("service", "Service "), h("label", {}, "State ", states),
    h("button", {type: "submit", testid: "apply-filters"}, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    for (const name of Object.keys(filters)) filters[name] = String(data.get(name) || "").trim();
    load(false).catch(ctx.fail);
  });
  more.addEventListener("click", () => load(true).catch(ctx.fail));

  await load(false);
  fill(ctx.container,
    h("h2", {}, "Deployments"),
    form,
    h("table", {testid: "deployments-list"},
      h("thead", {}, h("tr", {}, ["Deployment", "Environment", "Services", "State", "Requested", "Updated"]
        .map((title) => h("th", {}, title)))),
      body),
    more,
  );
  // Live: the first page is read again; once the user paged on, the list holds still until they filter.
  return {refresh: () => (pages <= 1 ? load(false) : Promise.resolve())};
}
