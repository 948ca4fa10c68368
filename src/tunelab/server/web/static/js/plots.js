// The Plots tab: histograms (bars) and scatter plots drawn with uPlot from each card's
// data-plot JSON; the iteration selector's swapped-in card keeps the keyboard focus.
(function () {
  "use strict";

  const COLORS = ["#2f6fdf", "#e0802b", "#2e9e5b", "#c8362b", "#7c3aed", "#0e9aa7", "#b7791f"];
  const HEIGHT = 260;
  const charts = new Set();
  let refocus = null; // the id of the card whose selector the user just changed

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
        x: { time: false, range: [-0.5, bins - 0.5] },
        y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1] },
      },
      axes: [
        axis(d.xaxis, {
          splits: () => Array.from({ length: Math.ceil(bins / step) }, (_, k) => k * step),
          values: (u, splits) => splits.map((i) => label(i)),
        }),
        axis(d.yaxis, { values: (u, splits) => splits.map(fmt) }),
      ],
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
    };
  }

  function draw(el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "1";
    const d = JSON.parse(el.dataset.plot);
    const spec = el.dataset.kind === "histogram" ? histogram(d, el.dataset.name)
      : scatter(d, el.dataset.name);
    const opts = Object.assign({ width: el.clientWidth || 480, height: HEIGHT,
      legend: { live: true }, cursor: { drag: { x: true, y: false } } }, spec);
    delete opts.data;
    charts.add(new uPlot(opts, spec.data, el));
  }

  function resize() {
    for (const chart of charts) {
      if (!chart.root.isConnected) { chart.destroy(); charts.delete(chart); continue; }
      const width = chart.root.parentElement.clientWidth;
      if (width && width !== chart.width) chart.setSize({ width, height: HEIGHT });
    }
  }

  function init(root) {
    if (!root.querySelectorAll) return;
    const found = root.matches && root.matches(".plot-chart") ? [root] : [];
    found.concat(Array.from(root.querySelectorAll(".plot-chart"))).forEach(draw);
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
