// The Compare page (/compare): the picker, the "only differences" switch and the parallel
// coordinates chart. The overlaid scalar charts in #compare-charts are charts.js's.
(function () {
  "use strict";

  // ---- The address bar keeps the page's options, so a reload or a shared link shows the same.

  function setParam(name, value) {
    const url = new URL(location.href);
    if (value === null) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
    history.replaceState(history.state, "", url.pathname + readableQuery(url.searchParams));
  }

  // Commas and slashes are legal in a query; left unescaped, ids and parameter names stay readable.
  function readableQuery(params) {
    const text = params.toString().replace(/%2C/gi, ",").replace(/%2F/gi, "/");
    return text ? "?" + text : "";
  }

  // ---- The picker: tick experiments (kept across searches), Compare builds ?ids=a,b,c.

  function initPicker(form) {
    const max = Number(form.dataset.max) || 10;
    const chips = form.querySelector("#compare-selected");
    const count = form.querySelector("#compare-picked-count");
    const submit = form.querySelector("#compare-submit");
    const picked = new Map(); // id -> name, in the order ticked: the first is the reference
    chips.querySelectorAll(".compare-chip").forEach((chip) => {
      picked.set(chip.dataset.taskId, chip.dataset.taskName);
    });

    function render() {
      chips.replaceChildren(
        ...Array.from(picked, ([id, name]) => {
          const li = document.createElement("li");
          li.className = "compare-chip";
          li.dataset.taskId = id;
          li.append(name + " ");
          const remove = document.createElement("button");
          remove.type = "button";
          remove.className = "compare-unpick";
          remove.dataset.unpick = id;
          remove.setAttribute("aria-label", "Unselect " + name);
          remove.textContent = "×";
          li.append(remove);
          return li;
        })
      );
      form.querySelectorAll("input.compare-pick").forEach((box) => {
        box.checked = picked.has(box.value);
        box.disabled = !box.checked && picked.size >= max;
      });
      count.textContent = picked.size ? picked.size + " selected" : "";
      submit.disabled = picked.size < 2;
      submit.title = picked.size < 2 ? "Tick at least two experiments" : "";
    }

    form.addEventListener("change", (event) => {
      const box = event.target.closest("input.compare-pick");
      if (!box) return;
      if (box.checked) picked.set(box.value, box.dataset.name);
      else picked.delete(box.value);
      render();
    });
    chips.addEventListener("click", (event) => {
      const button = event.target.closest("[data-unpick]");
      if (!button) return;
      picked.delete(button.dataset.unpick);
      render();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault(); // Enter in the search box must not reload the picker
      if (picked.size < 2) return;
      location.href = "/compare?ids=" + Array.from(picked.keys(), encodeURIComponent).join(",");
    });
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (form.contains(event.detail.target)) render();
    });
    render();
  }

  // ---- Only differences: rows hidden in place; the links that keep the comparison keep it too.

  function initOnlyDiff(toggle) {
    toggle.addEventListener("change", () => {
      const on = toggle.checked;
      document.querySelectorAll("#compare-side tr.compare-row.same").forEach((row) => {
        row.hidden = on;
      });
      document.querySelectorAll("#compare-side tr.compare-all-same").forEach((row) => {
        row.hidden = !on;
      });
      setParam("only_diff", on ? "1" : null);
      document.querySelectorAll("a[data-keep-state]").forEach((link) => keepOnlyDiff(link, on));
      const search = document.getElementById("compare-add-search");
      if (search) {
        const vals = JSON.parse(search.getAttribute("hx-vals"));
        vals.only_diff = on ? "1" : "0";
        search.setAttribute("hx-vals", JSON.stringify(vals));
      }
    });
  }

  function keepOnlyDiff(link, on) {
    const url = new URL(link.href);
    if (on) url.searchParams.set("only_diff", "1");
    else url.searchParams.delete("only_diff");
    link.href = url.pathname + readableQuery(url.searchParams);
  }

  // ---- "Add experiment": its results close on Escape or a click elsewhere.

  function initAddSearch(box) {
    const results = box.querySelector("#compare-add-results");
    if (!results) return;
    document.addEventListener("click", (event) => {
      if (!box.contains(event.target)) results.replaceChildren();
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") results.replaceChildren();
    });
  }

  // ---- Parallel coordinates: an axis per chosen parameter plus the metric, a line per
  // experiment coloured by the metric. Plain SVG; one listener on the chart for every line,
  // so hundreds of lines cost no more wiring than two.

  const SVG = "http://www.w3.org/2000/svg";
  const HEIGHT = 380;
  const MARGIN = { top: 40, right: 70, bottom: 46, left: 70 };
  const MISSING_GAP = 26; // "n/a" sits this far below an axis
  const NO_METRIC = "#9aa3b2";
  // Viridis, sampled: perceptually even, readable by most colour-blind people.
  const STOPS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

  function svg(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function colourAt(t) {
    const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(x));
    const a = hex(STOPS[i]);
    const b = hex(STOPS[i + 1]);
    const f = x - i;
    return "rgb(" + a.map((c, k) => Math.round(c + (b[k] - c) * f)).join(",") + ")";
  }

  function hex(text) {
    return [1, 3, 5].map((i) => parseInt(text.slice(i, i + 2), 16));
  }

  function fmt(value) {
    if (value === null || value === undefined) return "n/a";
    if (typeof value !== "number") return String(value);
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(5)));
  }

  // An axis: where each experiment's value sits (y), and the ticks to label.
  function buildAxis(key, label, raw, numeric, top, bottom) {
    const axis = { key, label, raw, ticks: [], hasMissing: raw.some((v) => v === null) };
    const span = bottom - top;
    if (numeric) {
      const nums = raw.map((v) => (v === null ? null : Number(v)));
      const present = nums.filter((v) => v !== null && Number.isFinite(v));
      const lo = Math.min(...present);
      const hi = Math.max(...present);
      // Values spread over orders of magnitude (learning rates) read better on a log scale.
      const log = lo > 0 && hi / lo >= 100;
      const f = log ? Math.log10 : (v) => v;
      const [flo, fhi] = [f(lo), f(hi)];
      const at = (v) => (hi === lo ? top + span / 2 : bottom - ((f(v) - flo) / (fhi - flo)) * span);
      axis.y = nums.map((v) => (v === null || !Number.isFinite(v) ? bottom + MISSING_GAP : at(v)));
      axis.values = nums;
      const unf = log ? (x) => Math.pow(10, x) : (x) => x;
      const steps = hi === lo ? [lo] : [0, 0.25, 0.5, 0.75, 1].map((k) => unf(flo + (fhi - flo) * k));
      axis.ticks = present.length ? steps.map((v) => ({ y: at(v), text: fmt(v) })) : [];
      if (log) axis.label += " (log)";
    } else {
      const cats = Array.from(new Set(raw.filter((v) => v !== null))).sort((a, b) =>
        String(a).localeCompare(String(b), undefined, { numeric: true })
      );
      const at = (i) => (cats.length === 1 ? top + span / 2 : bottom - (i / (cats.length - 1)) * span);
      const index = new Map(cats.map((c, i) => [c, i]));
      axis.y = raw.map((v) => (v === null ? bottom + MISSING_GAP : at(index.get(v))));
      axis.values = raw;
      // Many categories: label every k-th so the labels do not pile up.
      const every = Math.max(1, Math.ceil(cats.length / Math.max(2, Math.floor(span / 16))));
      axis.ticks = cats.filter((_, i) => i % every === 0).map((c) => ({ y: at(index.get(c)), text: String(c) }));
    }
    return axis;
  }

  function initParallel(section) {
    const data = JSON.parse(document.getElementById("compare-data").textContent);
    const chart = section.querySelector("#parallel-coords");
    const legend = section.querySelector("#pc-legend");
    const metricSelect = section.querySelector("#pc-metric");
    const valueSelect = section.querySelector("#pc-value");
    const params = new Map(data.params.map((p) => [p.key, p]));
    const tip = document.createElement("div");
    tip.className = "pc-tip";
    tip.hidden = true;
    let drawn = null; // {axes, lines} of the last drawing, for hover
    let width = 0;

    function chosenParams() {
      return Array.from(section.querySelectorAll("input.pc-param:checked"), (box) => params.get(box.value)).filter(Boolean);
    }

    function chosenMetric() {
      const metric = data.metrics.find((m) => m.key === metricSelect.value);
      if (!metric) return null;
      return { key: metric.key, value: valueSelect.value, values: metric[valueSelect.value], lower: metric.lower_is_better };
    }

    function draw() {
      width = chart.clientWidth;
      const top = MARGIN.top;
      const bottom = HEIGHT - MARGIN.bottom;
      const metric = chosenMetric();
      const axes = chosenParams().map((p) => buildAxis(p.key, p.key, p.values, p.numeric, top, bottom));
      if (metric) {
        const label = metric.key + " (" + metric.value + ")";
        const axis = buildAxis("metric", label, metric.values, true, top, bottom);
        axis.metric = true;
        axes.push(axis);
      }
      chart.replaceChildren();
      tip.hidden = true;
      if (!axes.length) {
        const empty = document.createElement("p");
        empty.className = "empty";
        empty.textContent = "Tick a hyperparameter to draw its axis.";
        chart.append(empty);
        legend.replaceChildren();
        drawn = null;
        return;
      }
      const root = svg("svg", {
        width: width,
        height: HEIGHT,
        viewBox: "0 0 " + width + " " + HEIGHT,
        role: "group",
        "aria-label": "Parallel coordinates: " + axes.map((a) => a.label).join(", "),
      });
      const inner = width - MARGIN.left - MARGIN.right;
      const xs = axes.map((_, i) => (axes.length === 1 ? width / 2 : MARGIN.left + (i / (axes.length - 1)) * inner));
      const colours = lineColours(metric, data.experiments.length);

      const lines = svg("g", { class: "pc-lines" }, root);
      // Lines without a metric value first, so the coloured ones stay on top.
      const order = data.experiments.map((_, i) => i).sort((a, b) => (colours.has[a] ? 1 : 0) - (colours.has[b] ? 1 : 0));
      for (const i of order) {
        const task = data.experiments[i];
        const points = axes.map((axis, j) => xs[j].toFixed(1) + "," + axis.y[i].toFixed(1)).join(" ");
        svg("polyline", {
          class: "pc-line" + (colours.has[i] ? "" : " pc-line-missing"),
          points: points,
          stroke: colours.of[i],
          "data-index": i,
          "data-task-id": task.id,
          tabindex: 0,
          role: "link",
          "aria-label": task.name + ": " + axes.map((a) => a.label + " " + fmt(a.values[i])).join(", "),
        }, lines);
      }
      axes.forEach((axis, j) => drawAxis(root, axis, xs[j], top, bottom));
      chart.append(root, tip);
      drawn = { axes, root };
      drawLegend(metric, colours);
    }

    function drawAxis(root, axis, x, top, bottom) {
      const g = svg("g", { class: "pc-axis" + (axis.metric ? " pc-axis-metric" : ""), "data-key": axis.key }, root);
      svg("line", { x1: x, x2: x, y1: top, y2: bottom, class: "pc-axis-line" }, g);
      const title = svg("text", { x: x, y: top - 14, class: "pc-axis-label", "text-anchor": "middle" }, g);
      title.textContent = axis.label.length > 22 ? "…" + axis.label.slice(-21) : axis.label;
      svg("title", {}, title).textContent = axis.label;
      for (const tick of axis.ticks) {
        svg("line", { x1: x - 4, x2: x, y1: tick.y, y2: tick.y, class: "pc-tick" }, g);
        const text = svg("text", { x: x - 7, y: tick.y + 4, class: "pc-tick-label", "text-anchor": "end" }, g);
        text.textContent = tick.text.length > 12 ? tick.text.slice(0, 11) + "…" : tick.text;
      }
      if (axis.hasMissing) {
        const text = svg("text", { x: x - 7, y: bottom + MISSING_GAP + 4, class: "pc-tick-label pc-missing", "text-anchor": "end" }, g);
        text.textContent = "n/a";
      }
    }

    function lineColours(metric, n) {
      const values = metric ? metric.values : [];
      const present = values.filter((v) => v !== null);
      const lo = Math.min(...present);
      const hi = Math.max(...present);
      const has = [];
      const of = [];
      for (let i = 0; i < n; i++) {
        const v = metric ? values[i] : null;
        has.push(v !== null);
        // The best value gets the brightest colour, whichever way the metric improves.
        const t = hi === lo ? 0.5 : (v - lo) / (hi - lo);
        of.push(v === null ? NO_METRIC : colourAt(metric.lower ? 1 - t : t));
      }
      return { has, of, lo, hi, any: present.length > 0 };
    }

    function drawLegend(metric, colours) {
      legend.replaceChildren();
      if (!metric || !colours.any) {
        legend.textContent = "No metric value to colour the lines by.";
        return;
      }
      const name = document.createElement("span");
      name.textContent = "Colour: " + metric.key + " (" + metric.value + ")";
      const low = document.createElement("span");
      low.className = "pc-legend-end";
      low.textContent = fmt(metric.lower ? colours.hi : colours.lo); // the worst, then the best
      const bar = document.createElement("span");
      bar.className = "pc-gradient";
      bar.style.background = "linear-gradient(to right, " + STOPS.join(", ") + ")";
      const high = document.createElement("span");
      high.className = "pc-legend-end";
      high.textContent = fmt(metric.lower ? colours.lo : colours.hi);
      const rule = document.createElement("span");
      rule.className = "muted";
      rule.textContent = metric.lower ? "lower is better" : "higher is better";
      legend.append(name, low, bar, high, rule);
      if (colours.has.includes(false)) {
        const none = document.createElement("span");
        none.className = "pc-legend-none";
        none.textContent = "grey: no value";
        legend.append(none);
      }
    }

    function highlight(line, x, y) {
      if (!drawn) return;
      const i = Number(line.dataset.index);
      drawn.root.classList.add("pc-hovering");
      drawn.root.querySelectorAll(".pc-line.pc-active").forEach((l) => l.classList.remove("pc-active"));
      line.classList.add("pc-active");
      if (line.nextSibling) line.parentNode.appendChild(line); // on top of the others
      const task = data.experiments[i];
      const title = document.createElement("strong");
      title.textContent = task.name;
      const list = document.createElement("dl");
      for (const axis of drawn.axes) {
        const dt = document.createElement("dt");
        dt.textContent = axis.label;
        const dd = document.createElement("dd");
        dd.textContent = fmt(axis.values[i]);
        list.append(dt, dd);
      }
      tip.replaceChildren(title, list);
      tip.hidden = false;
      const box = chart.getBoundingClientRect();
      const left = Math.min(x - box.left + 14, box.width - tip.offsetWidth - 4);
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = Math.max(0, y - box.top + 14) + "px";
    }

    function unhighlight() {
      if (!drawn) return;
      drawn.root.classList.remove("pc-hovering");
      drawn.root.querySelectorAll(".pc-line.pc-active").forEach((l) => l.classList.remove("pc-active"));
      tip.hidden = true;
    }

    function open(line) {
      location.href = "/experiments/" + encodeURIComponent(line.dataset.taskId);
    }

    chart.addEventListener("pointerover", (event) => {
      const line = event.target.closest(".pc-line");
      if (line) highlight(line, event.clientX, event.clientY);
    });
    chart.addEventListener("pointerout", (event) => {
      if (event.target.closest(".pc-line")) unhighlight();
    });
    chart.addEventListener("focusin", (event) => {
      const line = event.target.closest(".pc-line");
      if (!line) return;
      const box = line.getBoundingClientRect();
      highlight(line, box.left + box.width / 2, box.top);
    });
    chart.addEventListener("focusout", unhighlight);
    chart.addEventListener("click", (event) => {
      const line = event.target.closest(".pc-line");
      if (line) open(line);
    });
    chart.addEventListener("keydown", (event) => {
      const line = event.target.closest(".pc-line");
      if (line && event.key === "Enter") open(line);
    });

    section.addEventListener("change", (event) => {
      if (!event.target.matches("input.pc-param, #pc-metric, #pc-value")) return;
      draw();
      setParam("axes", chosenParams().map((p) => p.key).join(","));
      setParam("pc_metric", metricSelect.value || null);
      setParam("pc_value", valueSelect.value);
    });
    // Redraw when the width changes (a resized window), not on every layout pass.
    new ResizeObserver(() => {
      if (chart.clientWidth !== width) requestAnimationFrame(draw);
    }).observe(chart);
    draw();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const picker = document.getElementById("compare-picker");
    if (picker) initPicker(picker);
    const toggle = document.getElementById("only-diff");
    if (toggle) initOnlyDiff(toggle);
    const add = document.querySelector(".compare-add");
    if (add) initAddSearch(add);
    const parallel = document.getElementById("compare-parallel");
    if (parallel && document.getElementById("compare-data")) initParallel(parallel);
  });
})();
