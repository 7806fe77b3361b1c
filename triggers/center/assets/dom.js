// DOM helpers of the Runtime Center. Everything shown is built with createElement and textContent: no HTML is
// ever parsed from data, so names, reasons and diffs that users typed render as text (no XSS by construction).

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "on") {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (name === "testid") {
      element.setAttribute("data-testid", value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("td", {class: "x", testid: "y", on: {click}}, "text", otherNode, [more]). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, attributes as SVG presentation attributes (no inline style: the CSP forbids it). */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace the children of `parent` by `children`. */
export function fill(parent, ...children) {
  parent.replaceChildren();
  return build(parent, {}, children);
}

/** "2026-12-06T15:43:19.123456Z" as local "2026-12-06 15:43:19". */
export function when(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return String(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())} ` +
    `${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}`;
}

/** A badge whose class names the condition or state (styled in center.css). */
export function badge(text, testid) {
  const value = text || "—";
  return h("span", {class: `badge badge-${String(value).toLowerCase()}`, testid}, value);
}

/** A JSON value shown as indented text. */
export function json(value) {
  return h("pre", {class: "json"}, JSON.stringify(value, null, 2));
}

/**
 * The page's error box: an API problem's title and detail (never HTML). `source` is "poll" for a failed live
 * update, which the next successful one clears; any other error stays until the user moves on.
 */
export function showError(error, source = "action") {
  const box = document.getElementById("error");
  const problem = error && error.problem;
  const title = problem && problem.title ? `${problem.title}: ` : "";
  fill(box, title + (error && error.message ? error.message : String(error)));
  box.dataset.source = source;
  box.hidden = false;
}

/** Hide the error box; with `source`, only when what it shows came from there. */
export function clearError(source) {
  const box = document.getElementById("error");
  if (source && box.dataset.source !== source) return;
  box.hidden = true;
  box.replaceChildren();
}

/**
 * Ask for a reason in the page's dialog: resolves to the trimmed text on Confirm, null on Cancel or Escape.
 * The reason goes into the event and the record with the user's name (the audit trail).
 */
export function ask(title) {
  const dialog = document.getElementById("reason-dialog");
  const input = document.getElementById("reason-input");
  document.getElementById("reason-title").textContent = title;
  input.value = "";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "confirm" && input.value.trim() ? input.value.trim() : null),
      {once: true},
    );
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
  });
}
