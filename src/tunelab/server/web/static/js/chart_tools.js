// What a reader does with a chart: per chart a log scale, reset of a drag-zoom, PNG and CSV
// downloads and full screen; per page an x-range kept the same on every chart and a y-range
// that ignores a first-iterations spike. A legend entry hides its series on click (uPlot's
// own legend; styled in charts.css).
//
// The charts are charts.js's scalar cards (.chart-card: the Scalars tab, Compare) and
// plots.js's plot cards (.plot-card: the Plots tab). A plot drawn with uPlot gets every tool;
// a table, matrix or image gets the PNG, CSV and full-screen ones (attachFigure).
//
// The toggles are kept in localStorage per kind of page (the Scalars tab, Compare, Plots), so
// a log scale chosen for "loss" holds on every experiment's tab.
//
// charts.js and plots.js call three hooks: configure(opts, card) before they build a uPlot,
// attach(chart, card, remake, how) after, and height(card, usual) when they resize one.
(function () {
  "use strict";

  const CARDS = ".chart-card, .plot-card";
  const USUAL_HEIGHT = 240;

  const STORE_PREFIX = "tunelab.charts.";
  // The spike toggle leaves out each line's first points (1%, at least one) and then the
  // lowest and highest 1% of what is left.
  const SKIP_SHARE = 0.01;
  const TAIL = 0.01;
  const PAD = 0.05;
  const ZOOM_EVENTS = new Set(["mousedown", "mouseup", "dblclick"]);

  // --- toggles kept per page kind ---------------------------------------------------------

  function pageOf(card) {
    if (card.matches(".plot-card")) return { root: null, kind: "plots" };
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
    const bind = Object.assign({}, opts.cursor && opts.cursor.bind, {
      mouseup: byReader,
      dblclick: byReader,
    });
    opts.cursor = Object.assign({}, opts.cursor, { bind: bind });
    card.dataset.logScale = String(log);
    // A zoom is kept across a rebuild only while the x axis stays the same.
    const axis = opts.series[0].label;
    if (card.__zoomAxis !== axis) card.__zoom = null;
    card.__zoomAxis = axis;
  }

  // --- zoom and the synchronised x-range -------------------------------------------------

  // The whole x-range is the data's: a chart that shows more (plots.js's histogram bins)
  // widens it in its x scale's range function.
  function fullX(u) {
    const xs = u.data[0];
    return xs.length ? { min: xs[0], max: xs[xs.length - 1] } : null;
  }

  function peers(u) {
    const key = u.cursor.sync && u.cursor.sync.key;
    return key == null ? [] : uPlot.sync(key).plots.filter((p) => p !== u);
  }

  // The chart whose x-range the reader is changing (a drag's end, a double click): its
  // next x-range change is a zoom to share. uPlot applies the change in a microtask queued
  // by its handler, so a microtask queued after the handler ends the reader's turn. No
  // timer: a busy page runs timers late, and a late one could end the next drag's turn.
  let readerChart = null;

  // uPlot's cursor.bind: wraps its mouseup and dblclick handlers.
  function byReader(u, target, handler) {
    return (event) => {
      readerChart = u;
      const result = handler(event);
      queueMicrotask(() => {
        if (readerChart === u) readerChart = null;
      });
      return result;
    };
  }

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
    const card = u.root.closest(CARDS);
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

  function csvCell(value) {
    const text = value == null ? "" : String(value);
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  // x and one column per shown line, the values as drawn (smoothed when smoothing is on).
  function chartRows(u) {
    const columns = lineSeries(u);
    const rows = [[u.series[0].label].concat(columns.map((i) => u.series[i].label))];
    const xs = u.data[0];
    for (let k = 0; k < xs.length; k++) rows.push([xs[k]].concat(columns.map((i) => u.data[i][k])));
    return rows;
  }

  // `rows`: an array of rows (arrays of cells), or a promise of one (a plot read from the API).
  function downloadCsv(card, rows) {
    Promise.resolve(rows)
      .then((found) => {
        const text = found.map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
        const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
        save(url, fileName(card, "csv"));
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      })
      .catch((error) => Tunelab.toast(error.message, "error"));
  }

  function titleOf(card) {
    const title = card.querySelector(".chart-title");
    return title ? title.textContent : card.dataset.chartKey || "";
  }

  // `picture` (a chart's canvas, or a table or image drawn on one) with the card's title above
  // and the legend's entries ({label, color}) below, on white.
  function downloadPng(card, picture, entries) {
    const ratio = window.devicePixelRatio || 1;
    const font = 13 * ratio;
    const head = Math.round(28 * ratio);
    const row = Math.round(20 * ratio);
    const out = document.createElement("canvas");
    const title = titleOf(card);
    const measure = out.getContext("2d");
    measure.font = `600 ${font * 1.1}px sans-serif`;
    // A narrow picture (a small image) still shows the whole title.
    out.width = Math.max(picture.width, Math.ceil(measure.measureText(title).width + 16 * ratio));
    out.height = picture.height + head + row * (entries.length + 1);
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.fillStyle = "#1f2430";
    ctx.textBaseline = "middle";
    ctx.font = `600 ${font * 1.1}px sans-serif`;
    ctx.fillText(title, 8 * ratio, head / 2);
    ctx.drawImage(picture, 0, head);
    ctx.font = `${font}px sans-serif`;
    entries.forEach((entry, n) => {
      const y = head + picture.height + row * (n + 1);
      ctx.fillStyle = entry.color;
      ctx.fillRect(8 * ratio, y - 2 * ratio, 18 * ratio, 4 * ratio);
      ctx.fillStyle = "#1f2430";
      ctx.fillText(entry.label, 32 * ratio, y);
    });
    out.toBlob((blob) => {
      const url = URL.createObjectURL(blob);
      save(url, fileName(card, "png"));
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    }, "image/png");
  }

  function legendOf(u) {
    return lineSeries(u).map((i) => ({ label: u.series[i].label, color: u.series[i].stroke() }));
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
    const usual = card.__usualHeight || USUAL_HEIGHT;
    chart.setSize({ width: Math.max(plot.clientWidth, 200), height: height(card, usual) });
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
    document.querySelectorAll(CARDS).forEach((card) => {
      markFull(card);
      requestAnimationFrame(() => fitCard(card));
    });
  });
  window.addEventListener("resize", () => {
    document.querySelectorAll(".chart-full, :fullscreen").forEach((card) => {
      if (card.matches(CARDS)) fitCard(card);
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".chart-full").forEach((card) => toggleFull(card));
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

  const BUTTONS = {
    log: ["Log", "Logarithmic y scale"],
    reset: ["Reset zoom", "Show the whole x-range (or double click the chart)"],
    png: ["PNG", "Download the chart as a PNG image"],
    csv: ["CSV", "Download the shown data as CSV"],
    full: ["Full screen", "Show this chart on the whole screen (Esc leaves)"],
  };

  // The card's row of buttons (`names` of BUTTONS); a click runs card.__actions[name], which
  // attach sets anew for each uPlot the card is given.
  function cardTools(card, names) {
    let bar = card.querySelector(".chart-tools");
    if (bar) return bar;
    bar = document.createElement("div");
    bar.className = "chart-tools";
    bar.append(...names.map((name) => button(BUTTONS[name][0], name, BUTTONS[name][1])));
    card.querySelector(".chart-title, .plot-head").after(bar);
    bar.addEventListener("click", (event) => {
      const tool = event.target.closest("[data-tool]");
      const action = tool && card.__actions && card.__actions[tool.dataset.tool];
      if (action) action();
    });
    return bar;
  }

  function toggleLog(card, page) {
    const state = readState(page.kind);
    if (state.log[card.dataset.chartKey]) delete state.log[card.dataset.chartKey];
    else state.log[card.dataset.chartKey] = true;
    writeState(page.kind, state);
    card.__remake();
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

  // After uPlot is built: the controls, and hooks that keep the zoom and sync it. `how`
  // (plots.js): {height: the chart's usual height, csv: (u) => rows of its data}.
  function attach(chart, card, remake, how) {
    const page = pageOf(card);
    const rows = (how && how.csv) || chartRows;
    card.__remake = remake;
    card.__usualHeight = (how && how.height) || USUAL_HEIGHT;
    card.__actions = {
      log: () => toggleLog(card, page),
      reset: () => zoomTo(chart, null, readState(page.kind)),
      png: () => downloadPng(card, chart.ctx.canvas, legendOf(chart)),
      csv: () => downloadCsv(card, rows(chart)),
      full: () => toggleFull(card),
    };
    cardTools(card, ["log", "reset", "png", "csv", "full"])
      .querySelector('[data-tool="log"]')
      .setAttribute("aria-pressed", card.dataset.logScale);
    pageTools(page);

    // A drag or a double click is the reader's (byReader); other scale changes (new data)
    // are not.
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

  // A plot that is not a uPlot chart (a table, a matrix, an image): `how.png()` draws it on a
  // canvas, `how.csv()` (none for an image) gives its rows or a promise of them.
  function attachFigure(card, how) {
    card.__actions = {
      png: () => downloadPng(card, how.png(), []),
      csv: how.csv && (() => downloadCsv(card, how.csv())),
      full: () => toggleFull(card),
    };
    cardTools(card, how.csv ? ["png", "csv", "full"] : ["png", "full"]);
    markFull(card);
  }

  window.TunelabChartTools = {
    configure: configure,
    attach: attach,
    attachFigure: attachFigure,
    height: height,
  };
})();
