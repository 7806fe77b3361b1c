// Small SVG time plots drawn from the API's numbers; no charting library. A plot has a left axis (replicas or
// percent) and, optionally, a right one (metric values), a time axis, step or straight lines, and markers whose
// <title> says what happened there (the browser shows it on hover).

import {h, s, when} from "./dom.js";

const WIDTH = 720;
const HEIGHT = 240;
const PAD = {left: 44, right: 52, top: 14, bottom: 30};

function scale(domain0, domain1, range0, range1) {
  const span = domain1 - domain0 || 1;
  return (value) => range0 + ((value - domain0) / span) * (range1 - range0);
}

function ticks(max, count) {
  const step = Math.max(1, Math.ceil(max / count));
  const out = [];
  for (let value = 0; value <= max; value += step) out.push(value);
  return out;
}

function pathOf(points, x, y, step) {
  let d = "";
  points.forEach(([at, value], index) => {
    const px = x(at).toFixed(1);
    const py = y(value).toFixed(1);
    if (index === 0) d += `M${px},${py}`;
    else if (step) d += `H${px}V${py}`;
    else d += `L${px},${py}`;
  });
  return d;
}

/**
 * A time plot. `lines`: [{label, cls, points: [[Date, number]], step, right}] (right: on the right axis);
 * `markers`: [{at: Date, value, cls, title}] on the left axis; `leftMax`/`rightMax` fix an axis's top.
 */
export function timePlot({title, testid, lines, markers = [], leftLabel, rightLabel, leftMax, rightMax}) {
  const all = lines.flatMap((line) => line.points);
  if (!all.length) return h("p", {class: "muted", testid}, `${title}: no data yet`);
  const times = all.map(([at]) => at.getTime());
  let t0 = Math.min(...times);
  let t1 = Math.max(...times);
  if (t0 === t1) {
    t0 -= 30000;
    t1 += 30000;
  }
  const left = lines.filter((line) => !line.right).flatMap((line) => line.points.map(([, v]) => v));
  const right = lines.filter((line) => line.right).flatMap((line) => line.points.map(([, v]) => v));
  const top = leftMax ?? Math.max(1, ...left) * 1.15;
  const rightTop = rightMax ?? Math.max(1, ...right) * 1.15;
  const x = scale(t0, t1, PAD.left, WIDTH - PAD.right);
  const y = scale(0, top, HEIGHT - PAD.bottom, PAD.top);
  const yRight = scale(0, rightTop, HEIGHT - PAD.bottom, PAD.top);
  const plot = s("svg", {class: "plot", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": title, testid});
  plot.append(s("title", {}, title));
  for (const value of ticks(Math.floor(top), 5)) {
    plot.append(
      s("line", {class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value)}),
      s("text", {class: "tick", x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end"}, value),
    );
  }
  if (right.length) {
    for (const value of [0, rightTop / 2, rightTop]) {
      plot.append(s("text", {class: "tick", x: WIDTH - PAD.right + 6, y: yRight(value) + 4}, value.toFixed(value < 10 ? 1 : 0)));
    }
  }
  plot.append(
    s("text", {class: "tick", x: PAD.left, y: HEIGHT - 8}, when(new Date(t0).toISOString())),
    s("text", {class: "tick", x: WIDTH - PAD.right, y: HEIGHT - 8, "text-anchor": "end"}, when(new Date(t1).toISOString())),
    s("text", {class: "axis-label", x: 4, y: PAD.top - 2}, leftLabel || ""),
    s("text", {class: "axis-label", x: WIDTH - 4, y: PAD.top - 2, "text-anchor": "end"}, right.length ? rightLabel || "" : ""),
  );
  for (const line of lines) {
    if (!line.points.length) continue;
    const yOf = line.right ? yRight : y;
    const points = line.points.map(([at, value]) => [at.getTime(), value]);
    plot.append(s("path", {class: `line ${line.cls || ""}`, d: pathOf(points, x, yOf, line.step), fill: "none"}));
  }
  for (const marker of markers) {
    plot.append(
      s("circle", {class: `marker ${marker.cls || ""}`, cx: x(marker.at.getTime()), cy: y(marker.value), r: 4},
        s("title", {}, marker.title)),
    );
  }
  const legend = h("ul", {class: "legend"},
    lines.map((line) => h("li", {class: line.cls || ""}, h("span", {class: "swatch"}), line.label)));
  return h("figure", {class: "figure"}, h("figcaption", {}, title), plot, legend);
}
