// plotly figures (surfaces, 3D scatter plots, line plots, figures from plotly or matplotlib):
// every .plotly-chart element is drawn with plotly.js from its data-plot JSON. plotly.js is
// large (~5 MB), so it is loaded only when a page holds such a figure: a script tag from the
// server's own static files, added once, when the first figure appears (a page load or an
// htmx swap).
(function () {
  "use strict";

  const HEIGHT = 360;
  let loading = null;

  function plotly(src) {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!loading) {
      loading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = src;
        script.onload = () => resolve(window.Plotly);
        script.onerror = () => {
          loading = null;
          script.remove();
          reject(new Error("could not load plotly.js"));
        };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  // The stored figure, sized to its box: the card decides the width, the figure its height.
  function figure(el) {
    const fig = JSON.parse(el.dataset.plot);
    const layout = Object.assign({}, fig.layout || {});
    layout.autosize = true;
    delete layout.width;
    if (el.closest(".chart-full") || document.fullscreenElement === el.closest(".plot-card")) {
      delete layout.height;
    } else if (!layout.height) {
      layout.height = HEIGHT;
    }
    if (!layout.margin) layout.margin = { t: layout.title ? 50 : 30, r: 20, b: 50, l: 60 };
    return { data: fig.data || [], layout };
  }

  function draw(el) {
    if (el.__plotly) return;
    el.__plotly = true;
    plotly(el.dataset.plotlySrc).then((Plotly) => {
      const fig = figure(el);
      return Plotly.newPlot(el, fig.data, fig.layout, {
        responsive: true, displaylogo: false, showLink: false, showSendToCloud: false,
      });
    }).then(() => {
      el.dataset.drawn = "true";
    }).catch((err) => {
      el.classList.add("plotly-failed");
      el.textContent = "This figure could not be drawn: " + err.message;
    });
  }

  function init(root) {
    if (!root.querySelectorAll) return;
    const found = root.matches && root.matches(".plotly-chart") ? [root] : [];
    found.concat(Array.from(root.querySelectorAll(".plotly-chart"))).forEach(draw);
  }

  // A figure whose card went full screen (or back) takes the new box's size.
  document.addEventListener("fullscreenchange", () => {
    if (!window.Plotly) return;
    document.querySelectorAll(".plotly-chart[data-drawn]").forEach((el) => {
      window.Plotly.relayout(el, figure(el).layout);
    });
  });
  htmx.onLoad(init);
})();
