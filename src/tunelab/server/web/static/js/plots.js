// The Plots tab: histograms (bars) and scatter plots drawn with uPlot from each card's
// data-plot JSON; the iteration selector's swapped-in card keeps the keyboard focus.
//
// Every card gets the reader's tools (chart_tools.js): the charts all of them, with the CSV of
// the plot's own numbers; tables, confusion matrices and images a PNG (drawn here on a canvas),
// a CSV of their cells as stored (read from the API, not the page's rounded text) and full
// screen.
(function () {
  "use strict";

  const COLORS = ["#2f6fdf", "#e0802b", "#2e9e5b", "#c8362b", "#7c3aed", "#0e9aa7", "#b7791f"];
  const HEIGHT = 260;
  // Browsers refuse canvases much taller than this: a long table's PNG shows its first rows.
  const MAX_CANVAS = 16000;
  const charts = new Set();
  let refocus = null; // the id of the card whose selector the user just changed

  const tools = () => window.TunelabChartTools;

  function color(i) { return COLORS[i % COLORS.length]; }

  function fmt(v) {
    if (v == null) return "";
    return Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-4)
      ? v.toExponential(3) : String(+v.toPrecision(6));
  }

  function axis(label, extra) {
    return Object.assign({ label: label || undefined, stroke: "#5d6677",
      grid: { stroke: "#eceff3" }, ticks: { stroke: "#dde1e8" } }, extra || {});
  }

  // Bars: group g of G sits beside the others around each bin, so the x values interleave
  // (bin i, group g at i + offset); each group's series has nulls at the other groups' x.
  function histogram(d, name) {
    const groups = d.values.length, bins = d.values[0].length;
    const width = 0.8 / groups;
    const xs = [], ys = d.values.map(() => []);
    for (let i = 0; i < bins; i++) {
      for (let g = 0; g < groups; g++) {
        xs.push(i + (g - (groups - 1) / 2) * width);
        ys.forEach((col, h) => col.push(h === g ? d.values[g][i] : null));
      }
    }
    const step = Math.max(1, Math.ceil(bins / 20));
    const label = (i) => (d.xlabels ? d.xlabels[i] : String(i));
    const bars = uPlot.paths.bars({ size: [groups > 1 ? 0.9 : 0.8, Infinity], align: 0 });
    const series = [{ label: d.xaxis || "bin", value: (u, x) => (x == null ? "" : label(Math.round(x))) }];
    d.values.forEach((_, g) => series.push({
      label: d.labels ? d.labels[g] : (d.yaxis || name),
      stroke: color(g), fill: color(g) + "b0", width: 1, paths: bars, points: { show: false },
      value: (u, v) => fmt(v),
    }));
    return {
      data: [xs, ...ys],
      series,
      scales: {
        // The data's own extent (the first and last bars' middles) widens to the bins' edges;
        // any other range is a zoom, kept as asked.
        x: {
          time: false,
          range: (u, min, max) => (min === xs[0] && max === xs[xs.length - 1]
            ? [-0.5, bins - 0.5] : [min, max]),
        },
        // Bars grow from 0; on a log scale (which leaves out zero counts) from a power of ten
        // under the smallest count, so that a count of 1 still shows.
        y: {
          range: (u, min, max) => (u.scales.y.distr === 3
            ? (min > 0 ? uPlot.rangeLog(min / 2, max, 10, true) : [1, 10])
            : [Math.min(0, min), max > 0 ? max * 1.05 : 1]),
        },
      },
      axes: [
        axis(d.xaxis, {
          splits: () => Array.from({ length: Math.ceil(bins / step) }, (_, k) => k * step),
          values: (u, splits) => splits.map((i) => label(i)),
        }),
        axis(d.yaxis, { values: (u, splits) => splits.map(fmt) }),
      ],
      // A row per bin: its name and the count of each shown group.
      csv: (u) => {
        const shown = d.values.map((_, g) => g).filter((g) => u.series[g + 1].show);
        const rows = [[series[0].label].concat(shown.map((g) => series[g + 1].label))];
        for (let i = 0; i < bins; i++) rows.push([label(i)].concat(shown.map((g) => d.values[g][i])));
        return rows;
      },
    };
  }

  // Points sorted by x (uPlot needs ascending x); a label per point shows in the legend.
  function scatter(d, name) {
    const order = d.x.map((_, i) => i).sort((a, b) => d.x[a] - d.x[b]);
    const xs = order.map((i) => d.x[i]), ys = order.map((i) => d.y[i]);
    const labels = d.labels ? order.map((i) => d.labels[i]) : null;
    const lines = d.mode !== "markers", markers = d.mode !== "lines";
    return {
      data: [xs, ys],
      series: [
        { label: d.xaxis || "x", value: (u, v) => fmt(v) },
        {
          label: d.yaxis || name, stroke: color(0), width: lines ? 2 : 0,
          paths: lines ? undefined : () => null,
          points: { show: markers, size: 6, fill: color(0), stroke: color(0) },
          value: (u, v, si, idx) =>
            (idx == null ? "" : (labels ? labels[idx] + ": " : "") + fmt(v)),
        },
      ],
      scales: { x: { time: false } },
      axes: [
        axis(d.xaxis, { values: (u, splits) => splits.map(fmt) }),
        axis(d.yaxis, { values: (u, splits) => splits.map(fmt) }),
      ],
      // The points as reported (x, then y while its series is shown), with their labels.
      csv: (u) => {
        const shown = u.series[1].show;
        const head = [u.series[0].label].concat(shown ? [u.series[1].label] : []);
        const rows = [head.concat(shown && d.labels ? ["label"] : [])];
        d.x.forEach((x, i) => rows.push([x].concat(
          shown ? [d.y[i]] : [], shown && d.labels ? [d.labels[i]] : []
        )));
        return rows;
      },
    };
  }

  // Builds the card's chart (again, for a log scale: a construction option of uPlot).
  function draw(el) {
    const card = el.closest(".plot-card");
    const d = JSON.parse(el.dataset.plot);
    const spec = el.dataset.kind === "histogram" ? histogram(d, el.dataset.name)
      : scatter(d, el.dataset.name);
    const opts = Object.assign({ width: el.clientWidth || 480, height: chartHeight(card),
      legend: { live: true }, cursor: { drag: { x: true, y: false } } }, spec);
    delete opts.data;
    delete opts.csv;
    if (tools()) tools().configure(opts, card);
    if (el.__chart) {
      el.__chart.destroy();
      charts.delete(el.__chart);
    }
    const chart = new uPlot(opts, spec.data, el);
    el.__chart = chart;
    charts.add(chart);
    if (tools()) tools().attach(chart, card, () => draw(el), { height: HEIGHT, csv: spec.csv });
  }

  function chartHeight(card) {
    return tools() ? tools().height(card, HEIGHT) : HEIGHT;
  }

  function resize() {
    for (const chart of charts) {
      if (!chart.root.isConnected) { chart.destroy(); charts.delete(chart); continue; }
      const width = chart.root.parentElement.clientWidth;
      const height = chartHeight(chart.root.closest(".plot-card"));
      if (width && (width !== chart.width || height !== chart.height)) {
        chart.setSize({ width, height });
      }
    }
  }

  // --- tables, matrices and images: PNG and CSV ------------------------------------------

  function isPainted(color) {
    return color && color !== "transparent" && !/^rgba\(.*,\s*0\)$/.test(color);
  }

  // The table as the page shows it, cell by cell: backgrounds, bottom borders and text.
  // Rows past what a canvas can hold are left out.
  function tableCanvas(table) {
    const ratio = window.devicePixelRatio || 1;
    const box = table.getBoundingClientRect();
    const canvas = document.createElement("canvas");
    canvas.width = Math.ceil(box.width * ratio);
    canvas.height = Math.min(Math.ceil(box.height * ratio), MAX_CANVAS);
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, box.width, box.height);
    ctx.textBaseline = "middle";
    for (const cell of table.querySelectorAll("caption, th, td")) {
      const r = cell.getBoundingClientRect();
      const x = r.left - box.left, y = r.top - box.top;
      if (y * ratio > canvas.height) break;
      const style = getComputedStyle(cell);
      if (isPainted(style.backgroundColor)) {
        ctx.fillStyle = style.backgroundColor;
        ctx.fillRect(x, y, r.width, r.height);
      }
      const border = parseFloat(style.borderBottomWidth);
      if (border > 0 && isPainted(style.borderBottomColor)) {
        ctx.fillStyle = style.borderBottomColor;
        ctx.fillRect(x, y + r.height - border, r.width, border);
      }
      // A header that only names its column for screen readers stays blank, as on the page.
      const text = cell.querySelector(".plots-sr-only") ? "" : cell.innerText.trim();
      if (!text) continue;
      ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      ctx.fillStyle = style.color;
      const pad = parseFloat(style.paddingLeft) || 0;
      const align = /center/.test(style.textAlign) ? "center"
        : /right|end/.test(style.textAlign) ? "right" : "left";
      ctx.textAlign = align;
      const at = align === "center" ? x + r.width / 2 : align === "right" ? x + r.width - pad : x + pad;
      ctx.fillText(text.split("\n")[0], at, y + r.height / 2, Math.max(r.width - 2 * pad, 1));
    }
    return canvas;
  }

  function imageCanvas(img) {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0);
    return canvas;
  }

  // The plot's data as stored: the page shows numbers rounded to six digits.
  async function storedData(card) {
    const query = new URLSearchParams({ title: card.dataset.title, series: card.dataset.series,
      iteration: card.dataset.iteration });
    const response = await fetch(
      `/api/v1/tasks/${encodeURIComponent(card.dataset.taskId)}/plots?${query}`
    );
    const found = response.ok ? (await response.json()).plots : [];
    if (!found.length) throw new Error(`Could not read the plot (${response.status})`);
    return found[0].data;
  }

  function cellText(value) {
    return typeof value === "boolean" ? String(value) : value;
  }

  // A matrix: a header of column names, then a row per row, its name first.
  function matrixRows(d) {
    const columns = d.matrix[0].length;
    const names = (labels, n) => Array.from({ length: n }, (_, i) => (labels ? labels[i] : i));
    const rows = [[d.yaxis || ""].concat(names(d.xlabels, columns))];
    const rowNames = names(d.ylabels, d.matrix.length);
    d.matrix.forEach((row, i) => rows.push([rowNames[i]].concat(row)));
    return rows;
  }

  function tableRows(d) {
    return [d.columns].concat(d.rows.map((row) => row.map(cellText)));
  }

  function figure(card) {
    const img = card.querySelector("img.plot-image");
    const table = card.querySelector("table");
    if (img) {
      tools().attachFigure(card, { png: () => imageCanvas(img) });
    } else if (table) {
      const rows = card.matches(".plot-card-confusion_matrix") ? matrixRows : tableRows;
      tools().attachFigure(card, {
        png: () => tableCanvas(table),
        csv: () => storedData(card).then(rows),
      });
    }
  }

  function setUp(card) {
    if (card.__ready) return;
    card.__ready = true;
    card.dataset.chartKey = card.dataset.title + " / " + card.dataset.series;
    const el = card.querySelector(".plot-chart");
    if (el) draw(el);
    else if (tools()) figure(card);
  }

  function init(root) {
    if (!root.querySelectorAll) return;
    const found = root.matches && root.matches(".plot-card") ? [root] : [];
    found.concat(Array.from(root.querySelectorAll(".plot-card"))).forEach(setUp);
    if (refocus && root.id === refocus) {
      const select = root.querySelector(".plot-iteration select");
      if (select) select.focus();
      refocus = null;
    }
  }

  document.body.addEventListener("change", (event) => {
    const card = event.target.closest && event.target.closest(".plot-card");
    if (card && event.target.matches(".plot-iteration select")) refocus = card.id;
  });
  let timer = null;
  window.addEventListener("resize", () => {
    clearTimeout(timer);
    timer = setTimeout(resize, 100);
  });
  htmx.onLoad(init);
})();
