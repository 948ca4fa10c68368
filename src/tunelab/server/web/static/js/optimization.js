// The optimizer's Optimization tab: the objective by trial with the best so far, and the
// trials' parameters against the objective as parallel coordinates, both small SVGs drawn
// from the trials fragment's data-chart (redrawn each time htmx swaps the polled fragment).
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const W = 560, H = 220, PAD = 36;

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, anchor) {
    const node = el("text", { x: x, y: y, "text-anchor": anchor || "middle" }, parent);
    node.textContent = content;
    return node;
  }

  function scale(values) {
    const lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    const span = hi - lo || 1;
    return function (v) { return (v - lo) / span; };
  }

  function fmt(v) { return typeof v === "number" ? Number(v.toPrecision(4)).toString() : v; }

  function objectiveChart(box, data) {
    box.textContent = "";
    if (!data.points.length) { box.textContent = "No trial has ended yet."; return; }
    const svg = el("svg", { viewBox: "0 0 " + W + " " + H, class: "optimization-svg",
      role: "img", "aria-label": "Objective by trial" }, box);
    const xs = data.points.map(function (p) { return p[0]; });
    const ys = data.points.map(function (p) { return p[1]; });
    const sx = scale(xs.concat([0])), sy = scale(ys);
    const X = function (v) { return PAD + sx(v) * (W - 2 * PAD); };
    const Y = function (v) { return H - PAD - sy(v) * (H - 2 * PAD); };
    el("line", { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, class: "axis" }, svg);
    el("line", { x1: PAD, y1: PAD, x2: PAD, y2: H - PAD, class: "axis" }, svg);
    text(svg, W / 2, H - 6, "trial");
    text(svg, 4, PAD - 10, data.label, "start");
    text(svg, PAD - 4, Y(Math.min.apply(null, ys)) + 4, fmt(Math.min.apply(null, ys)), "end");
    text(svg, PAD - 4, Y(Math.max.apply(null, ys)) + 4, fmt(Math.max.apply(null, ys)), "end");
    const best = data.points.map(function (p, i) {
      return (i ? "L" : "M") + X(p[0]) + "," + Y(p[2]);
    }).join(" ");
    el("path", { d: best, class: "best-line" }, svg);
    data.points.forEach(function (p) {
      const dot = el("circle", { cx: X(p[0]), cy: Y(p[1]), r: 4, class: "trial-dot" }, svg);
      el("title", {}, dot).textContent = "trial " + p[0] + ": " + fmt(p[1]);
    });
  }

  function parcoords(box, data) {
    box.textContent = "";
    if (!data.lines.length) { box.textContent = "No trial has an objective yet."; return; }
    const axes = data.names.concat([data.label]);
    const svg = el("svg", { viewBox: "0 0 " + W + " " + H, class: "optimization-svg",
      role: "img", "aria-label": "Parameters against the objective" }, box);
    const step = (W - 2 * PAD) / Math.max(axes.length - 1, 1);
    const columns = axes.map(function (_, i) {
      const raw = data.lines.map(function (l) {
        return i < data.names.length ? l.values[i] : l.objective;
      });
      const numeric = raw.every(function (v) { return typeof v === "number"; });
      const keys = numeric ? raw : Array.from(new Set(raw.map(String))).sort();
      const s = numeric ? scale(raw) : function (v) {
        return keys.length > 1 ? keys.indexOf(String(v)) / (keys.length - 1) : 0.5;
      };
      return { raw: raw, pos: s };
    });
    const objectives = data.lines.map(function (l) { return l.objective; });
    const shade = scale(objectives);
    data.lines.forEach(function (line, row) {
      const d = columns.map(function (col, i) {
        return (i ? "L" : "M") + (PAD + i * step) + "," +
          (H - PAD - col.pos(col.raw[row]) * (H - 2 * PAD));
      }).join(" ");
      let good = shade(line.objective);
      if (!data.maximize) good = 1 - good;
      const path = el("path", { d: d, class: "trial-line" }, svg);
      // Through the CSSOM: a style attribute would be refused by the page's CSP.
      path.style.stroke = "hsl(" + Math.round(good * 120) + ", 65%, 42%)";
      el("title", {}, path).textContent = fmt(line.objective);
    });
    axes.forEach(function (name, i) {
      const x = PAD + i * step;
      el("line", { x1: x, y1: PAD, x2: x, y2: H - PAD, class: "axis" }, svg);
      text(svg, x, H - 10, name);
    });
  }

  function draw(root) {
    (root || document).querySelectorAll(".optimization-charts[data-chart]").forEach(function (box) {
      let data;
      try { data = JSON.parse(box.dataset.chart); } catch (e) { return; }
      if (!data.points) return;
      objectiveChart(box.querySelector(".optimization-objective"), data);
      parcoords(box.querySelector(".optimization-parcoords"), data);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function () { draw(document); });
})();
