// Scalar charts, drawn with uPlot: the experiment's Scalars tab (#scalar-charts: one chart
// per metric, a line per variant, live while the task runs) and the Compare page's overlay
// (#compare-charts: one chart per metric/variant, a line per experiment).
//
// Both share the view options (smoothing, x axis), kept in the URL with replaceState so a
// reload or a shared link shows the same thing. Reads are downsampled by the server
// (max_points); a live tab polls with the answer's cursor and appends only new points.
(function () {
  "use strict";

  const MAX_POINTS = 2000;
  const POLL_MS = 2000;
  // A live series longer than this is read again whole (downsampled) rather than grown.
  const REREAD_ABOVE = 3 * MAX_POINTS;
  const SUMMARY_METRIC = "Summary"; // report_single_value: a table, not a chart
  const CHART_HEIGHT = 240;
  // Iterations are whole numbers: ticks at 1, 2, 5, 10, 20, 50, ... apart, never 0.5.
  const ITERATION_STEPS = [];
  for (let step = 1; step <= 1e12; step *= 10) ITERATION_STEPS.push(step, 2 * step, 5 * step);
  const X_AXES = { iter: "Iteration", rel: "Relative time", wall: "Wall time" };
  const PALETTE = [
    "#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#c92a2a",
    "#0b7285", "#e67700", "#5c940d", "#862e9c", "#495057",
  ];

  // --- view options, kept in the URL -------------------------------------------------------

  function readOptions() {
    const query = new URLSearchParams(location.search);
    let smooth = parseFloat(query.get("smooth"));
    smooth = Number.isFinite(smooth) ? Math.min(Math.max(smooth, 0), 0.99) : 0;
    const x = query.get("x");
    return { smooth: smooth, x: x in X_AXES ? x : "iter" };
  }

  function writeOptions(options) {
    const url = new URL(location.href);
    if (options.smooth > 0) url.searchParams.set("smooth", options.smooth.toFixed(2));
    else url.searchParams.delete("smooth");
    if (options.x !== "iter") url.searchParams.set("x", options.x);
    else url.searchParams.delete("x");
    history.replaceState(history.state, "", url);
  }

  function controlsHtml(options) {
    const axes = Object.entries(X_AXES)
      .map(([value, label]) => `<option value="${value}">${label}</option>`)
      .join("");
    return (
      '<div class="toolbar chart-controls">' +
      '<label class="field-inline chart-smoothing">Smoothing ' +
      '<input type="range" name="smooth" min="0" max="0.99" step="0.01"> ' +
      '<output class="smooth-value"></output></label>' +
      `<label class="field-inline">X axis <select name="x">${axes}</select></label>` +
      "</div>"
    );
  }

  // Wires the controls (the tab's server-rendered ones, or built here) to `onChange`.
  function bindControls(root, options, onChange) {
    let controls = root.querySelector(".chart-controls");
    if (!controls) {
      root.insertAdjacentHTML("afterbegin", controlsHtml(options));
      controls = root.querySelector(".chart-controls");
    }
    const slider = controls.querySelector('input[name="smooth"]');
    const shown = controls.querySelector(".smooth-value");
    const axis = controls.querySelector('select[name="x"]');
    slider.value = options.smooth.toFixed(2);
    shown.textContent = options.smooth.toFixed(2);
    axis.value = options.x;
    slider.addEventListener("input", () => {
      options.smooth = parseFloat(slider.value);
      shown.textContent = options.smooth.toFixed(2);
      writeOptions(options);
      onChange(false);
    });
    axis.addEventListener("change", () => {
      options.x = axis.value;
      writeOptions(options);
      onChange(true);
    });
  }

  // --- numbers ---------------------------------------------------------------------------

  // TensorBoard's (and ClearML's) smoothing: an exponential moving average, debiased so the
  // first points are not pulled towards zero. Gaps (null: NaN or ±inf) stay gaps.
  function smooth(values, weight) {
    if (!weight) return values;
    const out = new Array(values.length);
    let last = 0;
    let count = 0;
    for (let i = 0; i < values.length; i++) {
      const y = values[i];
      if (y == null) {
        out[i] = y;
        continue;
      }
      last = last * weight + (1 - weight) * y;
      count += 1;
      out[i] = last / (1 - Math.pow(weight, count));
    }
    return out;
  }

  function formatValue(v) {
    if (v == null) return "—";
    return Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-4)
      ? v.toExponential(4)
      : String(Number(v.toPrecision(6)));
  }

  // Axis ticks of long runs: 250k, 1.5M rather than 250,000 running into each other.
  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toPrecision(3) + "G";
    if (a >= 1e6) return +(v / 1e6).toPrecision(3) + "M";
    if (a >= 1e4) return +(v / 1e3).toPrecision(3) + "k";
    return String(v);
  }

  function formatDuration(seconds) {
    if (seconds == null) return "—";
    const sign = seconds < 0 ? "-" : "";
    let s = Math.abs(seconds);
    if (s < 60) return sign + (s < 10 ? s.toFixed(1) : Math.round(s)) + "s";
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    s = Math.round(s % 60);
    return sign + (h ? `${h}h ${m}m` : `${m}m ${s}s`);
  }

  // Stable order of positions by `keys` (iterations or times), for points that came late.
  function sortedBy(keys) {
    const order = keys.map((_, i) => i);
    order.sort((a, b) => keys[a] - keys[b] || a - b);
    return order;
  }

  function isSorted(keys) {
    for (let i = 1; i < keys.length; i++) if (keys[i] < keys[i - 1]) return false;
    return true;
  }

  // --- lines: the points one chart line holds ---------------------------------------------

  function newLine(label, data, origin) {
    return { label: label, origin: origin, x: data.x, y: data.y, t: data.t, total: data.total };
  }

  // Appends an increment, keeping the points in iteration order.
  function appendTo(line, data) {
    const x = line.x.concat(data.x);
    const y = line.y.concat(data.y);
    const t = line.t.concat(data.t);
    if (line.x.length && data.x.length && data.x[0] < line.x[line.x.length - 1]) {
      const order = sortedBy(x);
      line.x = order.map((i) => x[i]);
      line.y = order.map((i) => y[i]);
      line.t = order.map((i) => t[i]);
    } else {
      line.x = x;
      line.y = y;
      line.t = t;
    }
    line.total += data.total;
  }

  // [xs, ys] of a line for the chosen x axis, in ascending x as uPlot needs.
  function lineXY(line, mode, origin) {
    let xs = mode === "iter" ? line.x : mode === "rel" ? line.t.map((t) => t - origin) : line.t;
    let ys = line.y;
    if (mode !== "iter" && !isSorted(xs)) {
      const order = sortedBy(xs);
      xs = order.map((i) => xs[i]);
      ys = order.map((i) => ys[i]);
    }
    return [xs, ys];
  }

  // --- a chart: one uPlot with a faint raw and a smoothed series per line ----------------

  function withAlpha(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function chartData(spec, options) {
    const tables = spec.lines.map((line) => {
      const [xs, ys] = lineXY(line, options.x, line.origin);
      return [xs, ys, smooth(ys, options.smooth)];
    });
    return tables.length === 1 ? tables[0] : uPlot.join(tables);
  }

  function xAxis(mode) {
    if (mode === "iter") {
      return { label: "Iteration", value: (u, v) => (v == null ? "—" : String(Math.round(v))) };
    }
    if (mode === "rel") return { label: "Time", value: (u, v) => formatDuration(v) };
    return { label: "Wall time" };
  }

  // The reader's tools (chart_tools.js: log scale, zoom, downloads, full screen) hook in here.
  const tools = () => window.TunelabChartTools;

  function chartHeight(card) {
    return tools() ? tools().height(card, CHART_HEIGHT) : CHART_HEIGHT;
  }

  function makeChart(card, spec, options, syncKey) {
    const plot = card.querySelector(".chart-plot");
    const series = [xAxis(options.x)];
    spec.lines.forEach((line, i) => {
      const color = spec.colors[i];
      const value = (u, v) => formatValue(v);
      series.push({ label: line.label + " (raw)", stroke: withAlpha(color, 0.25), width: 1, value });
      series.push({ label: line.label, stroke: color, width: 2, value });
    });
    const axes = [
      options.x === "rel"
        ? { values: (u, splits) => splits.map(formatDuration), size: 40 }
        : options.x === "iter"
          ? { incrs: ITERATION_STEPS, size: 40, values: (u, splits) => splits.map(compact) }
          : { size: 40 },
      { size: 64, values: (u, splits) => splits.map(formatValue) },
    ];
    const opts = {
      width: Math.max(plot.clientWidth, 200),
      height: chartHeight(card),
      scales: { x: { time: options.x === "wall" } },
      series: series,
      axes: axes,
      legend: { live: true },
      cursor: { sync: { key: syncKey, setSeries: false }, focus: { prox: 16 } },
      focus: { alpha: 0.4 },
      hooks: {
        // The raw curve is hidden from the legend; it follows its smoothed curve's toggle.
        setSeries: [
          (u, idx) => {
            if (idx != null && idx > 0 && idx % 2 === 0) {
              const shown = u.series[idx].show;
              if (u.series[idx - 1].show !== shown) u.setSeries(idx - 1, { show: shown });
            }
          },
        ],
      },
    };
    if (tools()) tools().configure(opts, card);
    const chart = new uPlot(opts, chartData(spec, options), plot);
    chart.root.querySelectorAll(".u-legend .u-series").forEach((row, i) => {
      if (i > 0 && i % 2 === 1) row.classList.add("raw-series");
    });
    return chart;
  }

  function pointCount(spec) {
    return spec.lines.reduce((n, line) => n + line.x.length, 0);
  }

  // Keeps one card per chart spec in `grid`, in the specs' order; redraws what changed.
  function ChartGrid(grid, options, syncKey, emptyText) {
    const cards = new Map(); // key -> {card, chart, labels}
    const resize = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const held = entry.target.__chart;
        const width = Math.floor(entry.contentRect.width);
        if (held && width > 0 && width !== held.width) {
          const card = entry.target.closest(".chart-card");
          held.setSize({ width: width, height: chartHeight(card) });
        }
      }
    });

    function cardFor(spec) {
      const card = document.createElement("figure");
      card.className = "panel chart-card";
      card.dataset.chartKey = spec.key;
      const caption = document.createElement("figcaption");
      caption.className = "chart-title";
      caption.textContent = spec.title;
      const plot = document.createElement("div");
      plot.className = "chart-plot";
      card.append(caption, plot);
      return card;
    }

    function drop(key) {
      const held = cards.get(key);
      if (!held) return;
      if (held.chart) held.chart.destroy();
      resize.unobserve(held.card.querySelector(".chart-plot"));
      held.card.remove();
      cards.delete(key);
    }

    // Builds the card's chart anew (a log scale is a construction option too).
    function build(held) {
      if (held.chart) held.chart.destroy();
      held.chart = makeChart(held.card, held.spec, options, syncKey);
      held.card.querySelector(".chart-plot").__chart = held.chart;
      if (tools()) tools().attach(held.chart, held.card, () => build(held));
    }

    // `rebuild`: the x axis changed, which uPlot takes only at construction.
    this.render = function (specs, rebuild) {
      grid.querySelectorAll(".chart-loading, .empty").forEach((el) => el.remove());
      const keys = new Set(specs.map((spec) => spec.key));
      for (const key of [...cards.keys()]) if (!keys.has(key)) drop(key);
      let total = 0;
      specs.forEach((spec, position) => {
        const labels = spec.lines.map((line) => line.label).join("\n");
        let held = cards.get(spec.key);
        if (held && (rebuild || held.labels !== labels)) {
          held.chart.destroy();
          held.chart = null;
        }
        if (!held) {
          held = { card: cardFor(spec), chart: null, labels: labels };
          cards.set(spec.key, held);
        }
        if (grid.children[position] !== held.card) {
          grid.insertBefore(held.card, grid.children[position] || null);
        }
        const plot = held.card.querySelector(".chart-plot");
        held.spec = spec;
        if (!held.chart) {
          build(held);
          held.labels = labels;
          resize.observe(plot);
        } else {
          held.chart.setData(chartData(spec, options));
        }
        const points = pointCount(spec);
        held.card.dataset.points = String(points);
        held.card.dataset.downsampled = String(spec.lines.some((l) => l.total > l.x.length));
        total += points;
      });
      grid.dataset.points = String(total);
      if (!specs.length && emptyText && !grid.querySelector(".empty")) {
        grid.insertAdjacentHTML("beforeend", `<p class="empty">${emptyText}</p>`);
      }
    };
  }

  // Reads ask for the binary frame (docs/api.md, "Reading scalars as a frame"): the server
  // sends its stored arrays as they are, instead of turning every number into text.
  const FRAME_TYPE = "application/vnd.tunelab.scalar-frame";

  // The frame as the JSON answer would be: {cursor, metrics} for one task, with `tasks`
  // (task id -> {cursor, metrics}) beside it for a read of several.
  function decodeFrame(buffer) {
    const view = new DataView(buffer);
    const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
    if (magic !== "TLS1") throw new Error("Could not read scalars (not a scalar frame)");
    const size = view.getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, size)));
    let offset = 8 + size;
    const tasks = {};
    for (const [id, cursor] of Object.entries(header.cursors)) tasks[id] = { cursor, metrics: {} };
    for (const s of header.series) {
      const n = s.count;
      const x = new Array(n);
      const y = new Array(n);
      const t = new Array(n);
      // Iterations are int64: two 32-bit halves, exact up to 2^53.
      for (let i = 0; i < n; i++, offset += 8) {
        x[i] = view.getInt32(offset + 4, true) * 4294967296 + view.getUint32(offset, true);
      }
      for (let i = 0; i < n; i++, offset += 8) {
        const v = view.getFloat64(offset, true);
        y[i] = Number.isFinite(v) ? v : null; // a gap, as the JSON answer's null
      }
      for (let i = 0; i < n; i++, offset += 8) t[i] = view.getFloat64(offset, true);
      const metrics = tasks[s.task].metrics;
      if (!metrics[s.metric]) metrics[s.metric] = {};
      metrics[s.metric][s.variant] = { x, y, t, total: s.total, downsampled: s.downsampled };
    }
    const only = Object.values(tasks);
    const first = only.length ? only[0].metrics : {};
    return { cursor: header.cursor, metrics: first, tasks: tasks };
  }

  async function getScalars(url) {
    const response = await fetch(url, { headers: { Accept: FRAME_TYPE } });
    if (!response.ok) {
      let message = `Could not read scalars (${response.status})`;
      try {
        message = (await response.json()).error.message || message;
      } catch (e) {
        /* not JSON: keep the status */
      }
      throw new Error(message);
    }
    if ((response.headers.get("Content-Type") || "").startsWith(FRAME_TYPE)) {
      return decodeFrame(await response.arrayBuffer());
    }
    return response.json();
  }

  function firstTime(metrics) {
    let first = Infinity;
    for (const variants of Object.values(metrics)) {
      for (const data of Object.values(variants)) if (data.t.length) first = Math.min(first, data.t[0]);
    }
    return first;
  }

  // --- the Scalars tab --------------------------------------------------------------------

  function initScalarsTab(root) {
    const taskId = root.dataset.taskId;
    const finals = new Set((root.dataset.final || "").split(" "));
    const options = readOptions();
    const grid = new ChartGrid(
      root.querySelector(".chart-grid"), options, "scalars-" + taskId, "No scalars reported yet."
    );
    // The run's system metrics (system_charts.js): their own section after the user's charts.
    const system = window.TunelabSystemCharts;
    const section = root.querySelector(".system-charts");
    const systemGrid = section
      ? new ChartGrid(section.querySelector(".chart-grid"), options, "scalars-" + taskId, "")
      : null;
    if (section) system.bindSection(section);
    // metric -> variant -> line; `origin` is the task's first time, for relative time.
    let metrics = new Map();
    let origin = Infinity;
    let cursor = 0;
    let timer = null;
    let loading = Promise.resolve();

    function makeSpec(key, title, lines) {
      lines.forEach((line) => (line.origin = origin));
      return { key, title, lines, colors: lines.map((_, i) => PALETTE[i % PALETTE.length]) };
    }

    function specs() {
      const users = [...metrics.keys()].filter((metric) => !system.isSystem(metric));
      return users.sort().map((metric) => {
        const variants = metrics.get(metric);
        return makeSpec(metric, metric, [...variants.keys()].sort().map((v) => variants.get(v)));
      });
    }

    function draw(rebuild) {
      grid.render(specs(), rebuild);
      if (!systemGrid) return;
      const found = system.specs(metrics, makeSpec);
      section.hidden = !found.length;
      systemGrid.render(found, rebuild);
    }

    function merge(found, whole) {
      if (whole) metrics = new Map();
      let grew = false;
      origin = Math.min(origin, firstTime(found));
      for (const [metric, variants] of Object.entries(found)) {
        if (metric === SUMMARY_METRIC) continue;
        if (!metrics.has(metric)) metrics.set(metric, new Map());
        const lines = metrics.get(metric);
        for (const [variant, data] of Object.entries(variants)) {
          if (lines.has(variant)) appendTo(lines.get(variant), data);
          else lines.set(variant, newLine(variant, data, origin));
          grew = grew || lines.get(variant).x.length > REREAD_ABOVE;
        }
      }
      return grew;
    }

    function isFinal() {
      const badge = document.getElementById("task-status");
      return !badge || finals.has(badge.dataset.status);
    }

    function refreshSummary() {
      if (document.getElementById("scalar-summary")) {
        htmx.ajax("GET", `/experiments/${taskId}/scalars/summary`, {
          target: "#scalar-summary",
          swap: "outerHTML",
        });
      }
    }

    // `whole`: read everything again (first load, a status change, a series grown long).
    async function load(whole) {
      const after = whole ? "" : `&after=${cursor}`;
      const data = await getScalars(
        `/api/v1/tasks/${encodeURIComponent(taskId)}/scalars?max_points=${MAX_POINTS}${after}`
      );
      const fresh = data.cursor !== cursor;
      if (whole) origin = Infinity;
      const tooLong = merge(data.metrics, whole);
      cursor = data.cursor;
      root.dataset.cursor = String(cursor);
      draw(false);
      if (fresh && !whole) refreshSummary();
      if (tooLong) await load(true);
    }

    // One read at a time: a status change during a poll waits for it, then reads again.
    function queue(whole) {
      loading = loading
        .then(() => load(whole))
        .catch((error) => Tunelab.toast(error.message, "error"));
      return loading;
    }

    function schedule() {
      // data-live tells whether another poll is coming (tests and styles read it).
      root.dataset.live = String(!isFinal() && root.isConnected);
      if (timer || isFinal() || !root.isConnected) return;
      timer = setTimeout(() => {
        timer = null;
        if (!root.isConnected) return;
        queue(false).then(schedule);
      }, POLL_MS);
    }

    bindControls(root, options, draw);
    document.body.addEventListener("task-status-changed", () => {
      if (!root.isConnected) return;
      // A reset may have replaced the points (and SQLite may reuse chunk ids): read whole.
      queue(true).then(() => {
        refreshSummary();
        schedule();
      });
    });
    queue(true).then(schedule);
  }

  // --- the Compare page's overlay ---------------------------------------------------------

  function initCompare(root) {
    const ids = (root.dataset.taskIds || "").split(",").filter(Boolean);
    let names = {};
    try {
      names = JSON.parse(root.dataset.taskNames || "{}");
    } catch (e) {
      names = {};
    }
    const options = readOptions();
    let specs = [];
    let grid = null;
    bindControls(root, options, (rebuild) => grid && grid.render(specs, rebuild));
    const holder = document.createElement("div");
    holder.className = "chart-grid";
    holder.dataset.points = "0";
    root.appendChild(holder);
    grid = new ChartGrid(holder, options, "compare", "These experiments reported no scalars.");
    if (ids.length < 2) return grid.render([], false);
    const query = ids.map((id) => "task=" + encodeURIComponent(id)).join("&");
    getScalars(`/api/v1/scalars?${query}&max_points=${MAX_POINTS}`)
      .then((data) => {
        specs = compareSpecs(ids, names, data.tasks);
        grid.render(specs, false);
      })
      .catch((error) => Tunelab.toast(error.message, "error"));
  }

  // One chart per metric/variant; one line per experiment, coloured the same in every chart.
  function compareSpecs(ids, names, tasks) {
    const byKey = new Map();
    ids.forEach((id, index) => {
      const metrics = (tasks[id] || {}).metrics || {};
      const origin = firstTime(metrics);
      for (const [metric, variants] of Object.entries(metrics)) {
        if (metric === SUMMARY_METRIC) continue;
        for (const [variant, data] of Object.entries(variants)) {
          const key = metric + " / " + variant;
          if (!byKey.has(key)) byKey.set(key, { key: key, title: key, lines: [], colors: [] });
          const spec = byKey.get(key);
          spec.lines.push(newLine(names[id] || id, data, origin));
          spec.colors.push(PALETTE[index % PALETTE.length]);
        }
      }
    });
    // The user's metrics first, the system metrics (":monitor:...") after them.
    const system = window.TunelabSystemCharts;
    const keys = [...byKey.keys()].sort();
    const ordered = keys.filter((k) => !system.isSystem(k)).concat(keys.filter(system.isSystem));
    return ordered.map((key) => byKey.get(key));
  }

  htmx.onLoad((elt) => {
    const found = [];
    for (const id of ["scalar-charts", "compare-charts"]) {
      const el = elt.id === id ? elt : elt.querySelector && elt.querySelector("#" + id);
      if (el && !el.dataset.chartsReady) found.push(el);
    }
    for (const el of found) {
      el.dataset.chartsReady = "true";
      if (el.id === "scalar-charts") initScalarsTab(el);
      else initCompare(el);
    }
  });

  window.TunelabCharts = { smooth: smooth };
})();
