// What a reader does with a scalar chart (charts.js draws them, then hands each one here):
// per chart a log scale, reset of a drag-zoom, PNG and CSV downloads and full screen; per
// page an x-range kept the same on every chart and a y-range that ignores a first-iterations
// spike. A legend entry hides its series on click (uPlot's own legend; styled in charts.css).
//
// The toggles are kept in localStorage per kind of page (the Scalars tab, Compare), so a log
// scale chosen for "loss" holds on every experiment's tab.
//
// charts.js calls three hooks: configure(opts, card) before it builds a uPlot, attach(chart,
// card, remake) after, and height(card, usual) when it resizes one.
(function () {
  "use strict";

  const STORE_PREFIX = "tunelab.charts.";
  // The spike toggle leaves out each line's first points (1%, at least one) and then the
  // lowest and highest 1% of what is left.
  const SKIP_SHARE = 0.01;
  const TAIL = 0.01;
  const PAD = 0.05;
  const ZOOM_EVENTS = new Set(["mousedown", "mouseup", "dblclick"]);

  // --- toggles kept per page kind ---------------------------------------------------------

  function pageOf(card) {
    const root = card.closest("#scalar-charts, #compare-charts");
    return { root: root, kind: root && root.id === "compare-charts" ? "compare" : "scalars" };
  }

  function readState(kind) {
    let state = {};
    try {
      state = JSON.parse(localStorage.getItem(STORE_PREFIX + kind) || "{}") || {};
    } catch (e) {
      state = {}; // storage off or a hand-edited value: the defaults
    }
    return {
      sync: state.sync === true,
      spike: state.spike === true,
      log: state.log && typeof state.log === "object" ? state.log : {},
    };
  }

  function writeState(kind, state) {
    try {
      localStorage.setItem(STORE_PREFIX + kind, JSON.stringify(state));
    } catch (e) {
      /* storage full or off: the toggle still holds until the page is left */
    }
  }

  // --- y-range without the spike ----------------------------------------------------------

  function quantile(sorted, q) {
    const at = (sorted.length - 1) * q;
    const low = Math.floor(at);
    const high = Math.ceil(at);
    return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
  }

  // The y-range of the shown lines within the x-range, leaving out the first points.
  function robustRange(u, dataMin, dataMax, log) {
    const values = [];
    for (let i = 1; i < u.series.length; i++) {
      if (!u.series[i].show) continue;
      const ys = u.data[i];
      let count = 0;
      for (const y of ys) if (y != null) count++;
      const skip = Math.max(1, Math.round(count * SKIP_SHARE));
      const [from, to] = u.series[i].idxs || [0, ys.length - 1];
      let seen = 0;
      for (let k = 0; k < ys.length; k++) {
        const y = ys[k];
        if (y == null) continue;
        seen++;
        if (seen > skip && k >= from && k <= to && Number.isFinite(y) && (!log || y > 0)) {
          values.push(y);
        }
      }
    }
    if (!values.length) return [dataMin, dataMax];
    values.sort((a, b) => a - b);
    let low = quantile(values, TAIL);
    let high = quantile(values, 1 - TAIL);
    if (log) {
      const span = Math.max(high / low, 1.01);
      return [low / Math.pow(span, PAD), high * Math.pow(span, PAD)];
    }
    const pad = (high - low) * PAD || Math.abs(high) * PAD || 1;
    return [low - pad, high + pad];
  }

  // Before uPlot is built: the log scale and the spike-free range are construction options.
  function configure(opts, card) {
    const page = pageOf(card);
    const state = readState(page.kind);
    const log = state.log[card.dataset.chartKey] === true;
    const y = Object.assign({}, (opts.scales && opts.scales.y) || {});
    if (log) Object.assign(y, { distr: 3, log: 10 });
    if (state.spike) y.range = (u, min, max) => robustRange(u, min, max, log);
    opts.scales = Object.assign({}, opts.scales, { y: y });
    // uPlot's cursor sync would zoom every chart with a drag on one: only the x-range toggle
    // shares a zoom here, so the cursor sync passes on the pointer but not the drag.
    if (opts.cursor && opts.cursor.sync) {
      opts.cursor.sync.filters = { pub: (type) => !ZOOM_EVENTS.has(type) };
    }
    card.dataset.logScale = String(log);
    // A zoom is kept across a rebuild only while the x axis stays the same.
    const axis = opts.series[0].label;
    if (card.__zoomAxis !== axis) card.__zoom = null;
    card.__zoomAxis = axis;
  }

  // --- zoom and the synchronised x-range -------------------------------------------------

  function fullX(u) {
    const xs = u.data[0];
    return xs.length ? { min: xs[0], max: xs[xs.length - 1] } : null;
  }

  function peers(u) {
    const key = u.cursor.sync && u.cursor.sync.key;
    return key == null ? [] : uPlot.sync(key).plots.filter((p) => p !== u);
  }

  // The chart the reader is dragging on: its next x-range change is a zoom to share.
  let readerChart = null;
  // uPlot ends a drag on the document's mouseup; this runs after its handler.
  document.addEventListener("mouseup", () => setTimeout(() => (readerChart = null), 0));

  // Sets u's x-range as the reader asked (null: the whole data), and the peers' when synced.
  function zoomTo(u, range, state) {
    for (const chart of [u].concat(state.sync ? peers(u) : [])) {
      const whole = fullX(chart);
      if (!whole) continue;
      chart.setScale("x", range || whole);
      keepZoom(chart, range);
    }
  }

  // The card keeps the x-range the reader chose, for new data and rebuilds.
  function keepZoom(u, range) {
    const card = u.root.closest(".chart-card");
    card.__zoom = range ? { min: range.min, max: range.max } : null;
    card.dataset.zoomed = String(Boolean(range));
  }

  // --- downloads --------------------------------------------------------------------------

  function fileName(card, ext) {
    const name = (card.dataset.chartKey || "chart").replace(/[^\w.-]+/g, "_");
    return `${name}.${ext}`;
  }

  function save(href, name) {
    const link = document.createElement("a");
    link.href = href;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function lineSeries(u) {
    // charts.js hides each line's raw twin from the legend; the shown lines are the others.
    const rows = u.root.querySelectorAll(".u-legend .u-series");
    const out = [];
    for (let i = 1; i < u.series.length; i++) {
      if (u.series[i].show && !(rows[i] && rows[i].classList.contains("raw-series"))) out.push(i);
    }
    return out;
  }

  function csvCell(text) {
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  // x and one column per shown line, the values as drawn (smoothed when smoothing is on).
  function downloadCsv(u, card) {
    const columns = lineSeries(u);
    const header = [u.series[0].label].concat(columns.map((i) => u.series[i].label));
    const lines = [header.map(csvCell).join(",")];
    const xs = u.data[0];
    for (let k = 0; k < xs.length; k++) {
      const cells = [String(xs[k])];
      for (const i of columns) cells.push(u.data[i][k] == null ? "" : String(u.data[i][k]));
      lines.push(cells.join(","));
    }
    const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    save(url, fileName(card, "csv"));
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // The plot's canvas with the title above and the shown lines' legend below, on white.
  function downloadPng(u, card) {
    const ratio = window.devicePixelRatio || 1;
    const plot = u.ctx.canvas;
    const font = 13 * ratio;
    const head = Math.round(28 * ratio);
    const row = Math.round(20 * ratio);
    const entries = lineSeries(u);
    const out = document.createElement("canvas");
    out.width = plot.width;
    out.height = plot.height + head + row * (entries.length + 1);
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.fillStyle = "#1f2430";
    ctx.textBaseline = "middle";
    ctx.font = `600 ${font * 1.1}px sans-serif`;
    const title = card.querySelector(".chart-title");
    ctx.fillText(title ? title.textContent : "", 8 * ratio, head / 2);
    ctx.drawImage(plot, 0, head);
    ctx.font = `${font}px sans-serif`;
    entries.forEach((i, n) => {
      const y = head + plot.height + row * (n + 1);
      ctx.fillStyle = u.series[i].stroke();
      ctx.fillRect(8 * ratio, y - 2 * ratio, 18 * ratio, 4 * ratio);
      ctx.fillStyle = "#1f2430";
      ctx.fillText(u.series[i].label, 32 * ratio, y);
    });
    out.toBlob((blob) => {
      const url = URL.createObjectURL(blob);
      save(url, fileName(card, "png"));
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    }, "image/png");
  }

  // --- full screen ------------------------------------------------------------------------

  function isFull(card) {
    return document.fullscreenElement === card || card.classList.contains("chart-full");
  }

  // A full-screen chart takes the height its card leaves under the title, tools and legend.
  function height(card, usual) {
    if (!isFull(card)) return usual;
    const plot = card.querySelector(".chart-plot");
    const legend = plot.querySelector(".u-legend");
    const above = plot.getBoundingClientRect().top - card.getBoundingClientRect().top;
    const below = (legend ? legend.offsetHeight : 0) + 24;
    return Math.max(200, Math.floor(card.clientHeight - above - below));
  }

  function markFull(card) {
    const full = isFull(card);
    card.dataset.full = String(full);
    const tool = card.querySelector('[data-tool="full"]');
    if (tool) tool.textContent = full ? "Exit full screen" : "Full screen";
  }

  function fitCard(card) {
    const plot = card.querySelector(".chart-plot");
    const chart = plot && plot.__chart;
    if (!chart) return;
    chart.setSize({ width: Math.max(plot.clientWidth, 200), height: height(card, 240) });
  }

  function toggleFull(card) {
    if (isFull(card)) {
      if (document.fullscreenElement === card) document.exitFullscreen();
      else {
        card.classList.remove("chart-full");
        markFull(card);
        fitCard(card);
      }
      return;
    }
    // The Fullscreen API where the browser allows it, else a modal at the viewport's size.
    const modal = () => {
      card.classList.add("chart-full");
      markFull(card);
      fitCard(card);
    };
    if (card.requestFullscreen) card.requestFullscreen().catch(modal);
    else modal();
  }

  document.addEventListener("fullscreenchange", () => {
    document.querySelectorAll(".chart-card").forEach((card) => {
      markFull(card);
      requestAnimationFrame(() => fitCard(card));
    });
  });
  window.addEventListener("resize", () => {
    document.querySelectorAll(".chart-card.chart-full, .chart-card:fullscreen").forEach(fitCard);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".chart-card.chart-full").forEach((card) => toggleFull(card));
  });

  // --- the controls -----------------------------------------------------------------------

  function button(label, name, title) {
    const el = document.createElement("button");
    el.type = "button";
    el.className = "btn btn-small chart-tool";
    el.dataset.tool = name;
    el.textContent = label;
    el.title = title;
    return el;
  }

  function cardTools(card) {
    let bar = card.querySelector(".chart-tools");
    if (bar) return bar;
    bar = document.createElement("div");
    bar.className = "chart-tools";
    bar.append(
      button("Log", "log", "Logarithmic y scale"),
      button("Reset zoom", "reset", "Show the whole x-range (or double click the chart)"),
      button("PNG", "png", "Download the chart as a PNG image"),
      button("CSV", "csv", "Download the shown lines as CSV"),
      button("Full screen", "full", "Show this chart on the whole screen (Esc leaves)")
    );
    card.querySelector(".chart-title").after(bar);
    bar.addEventListener("click", (event) => {
      const tool = event.target.closest("[data-tool]");
      const chart = card.querySelector(".chart-plot").__chart;
      if (!tool || !chart) return;
      const page = pageOf(card);
      const state = readState(page.kind);
      const which = tool.dataset.tool;
      if (which === "log") {
        if (state.log[card.dataset.chartKey]) delete state.log[card.dataset.chartKey];
        else state.log[card.dataset.chartKey] = true;
        writeState(page.kind, state);
        card.__remake();
      } else if (which === "reset") zoomTo(chart, null, state);
      else if (which === "png") downloadPng(chart, card);
      else if (which === "csv") downloadCsv(chart, card);
      else if (which === "full") toggleFull(card);
    });
    return bar;
  }

  function pageToggle(controls, name, label, checked, onChange) {
    const field = document.createElement("label");
    field.className = "field-inline";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = name;
    box.checked = checked;
    box.addEventListener("change", () => onChange(box.checked));
    field.append(box, " " + label);
    controls.appendChild(field);
  }

  function pageTools(page) {
    const controls = page.root && page.root.querySelector(".chart-controls");
    if (!controls || controls.querySelector('input[name="sync"]')) return;
    const state = readState(page.kind);
    const remakeAll = () => page.root.querySelectorAll(".chart-card").forEach((c) => c.__remake());
    pageToggle(controls, "sync", "Same x-range", state.sync, (on) => {
      const now = readState(page.kind);
      now.sync = on;
      writeState(page.kind, now);
    });
    pageToggle(controls, "spike", "Ignore first-iteration spike", state.spike, (on) => {
      const now = readState(page.kind);
      now.spike = on;
      writeState(page.kind, now);
      remakeAll();
    });
  }

  // After uPlot is built: the controls, and hooks that keep the zoom and sync it.
  function attach(chart, card, remake) {
    const page = pageOf(card);
    card.__remake = remake;
    cardTools(card).querySelector('[data-tool="log"]').setAttribute(
      "aria-pressed", card.dataset.logScale
    );
    pageTools(page);

    // A drag or a double click is the reader's; other scale changes (new data) are not.
    chart.over.addEventListener("mousedown", () => (readerChart = chart));
    chart.over.addEventListener("dblclick", () => {
      readerChart = chart;
      setTimeout(() => (readerChart = null), 0);
    }, true);
    chart.hooks.setScale = (chart.hooks.setScale || []).concat((u, key) => {
      if (key !== "x" || readerChart !== u) return;
      readerChart = null;
      const whole = fullX(u);
      const reset = whole && u.scales.x.min <= whole.min && u.scales.x.max >= whole.max;
      zoomTo(u, reset ? null : { min: u.scales.x.min, max: u.scales.x.max }, readState(page.kind));
    });
    // New points (a live task) keep the reader's zoom.
    chart.hooks.setData = (chart.hooks.setData || []).concat((u) => {
      if (card.__zoom) u.setScale("x", card.__zoom);
    });
    if (card.__zoom) chart.setScale("x", card.__zoom);
    card.dataset.zoomed = String(Boolean(card.__zoom));
    markFull(card);
  }

  window.TunelabChartTools = { configure: configure, attach: attach, height: height };
})();
