// The Debug Samples tab: each series' slider shows the sample at the chosen iteration, the
// global slider moves every series to its newest sample at or before one iteration, and an
// image opens full size in a dialog with previous/next through its series' iterations.
// A sample's body is rebuilt from the card's data-steps (iteration, kind, URL of each).
(function () {
  "use strict";

  function steps(card) { return JSON.parse(card.dataset.steps || "[]"); }

  function element(tag, attrs) {
    const node = document.createElement(tag);
    Object.entries(attrs).forEach(([key, value]) => { node.setAttribute(key, value); });
    return node;
  }

  function body(card, step) {
    const name = card.dataset.title + " / " + card.dataset.series;
    if (step.external) {
      const link = element("a", { class: "sample-link", href: step.url, rel: "noopener noreferrer",
        target: "_blank" });
      link.textContent = step.url;
      return link;
    }
    if (step.kind === "image") {
      const open = element("button", { type: "button", class: "sample-open",
        "aria-label": "Open " + card.dataset.series + " full size" });
      open.append(element("img", { class: "sample-image", src: step.url, alt: name }));
      return open;
    }
    if (step.kind === "audio" || step.kind === "video") {
      return element(step.kind, { class: "sample-" + step.kind, controls: "", preload: "metadata",
        src: step.url });
    }
    if (step.kind === "html") {
      // No allow-same-origin: the page runs in an opaque origin, away from the server's.
      return element("iframe", { class: "sample-html", sandbox: "allow-scripts allow-popups",
        referrerpolicy: "no-referrer", src: step.url, title: name });
    }
    const link = element("a", { class: "sample-download", href: step.url, download: "" });
    link.textContent = "Download";
    return link;
  }

  // Show step ``index`` of the card's series.
  function show(card, index) {
    const all = steps(card);
    const step = all[index];
    if (!step) return;
    const holder = card.querySelector(".sample-body");
    const current = holder.querySelector("img.sample-image, audio, video, iframe");
    if (current && current.getAttribute("src") === step.url) return;
    if (current && current.tagName.toLowerCase() === (step.kind === "image" ? "img" : step.kind)
        && !step.external) {
      current.setAttribute("src", step.url); // same kind: the element stays, its file changes
    } else {
      holder.replaceChildren(body(card, step));
    }
    card.querySelector(".sample-iteration").textContent = String(step.iteration);
    const slider = card.querySelector(".sample-slider");
    if (slider) slider.value = String(index);
  }

  // The newest step at or before ``iteration`` (the first one when all come after).
  function indexAt(card, iteration) {
    let found = 0;
    steps(card).forEach((step, i) => { if (step.iteration <= iteration) found = i; });
    return found;
  }

  function viewer() { return document.querySelector("dialog.sample-viewer"); }

  function openViewer(card) {
    const dialog = viewer();
    if (!dialog) return;
    dialog.dataset.card = card.id;
    dialog.dataset.index = card.querySelector(".sample-slider")?.value
      || String(steps(card).length - 1);
    paintViewer();
    if (!dialog.open) dialog.showModal();
  }

  function paintViewer() {
    const dialog = viewer();
    const card = document.getElementById(dialog.dataset.card);
    if (!card) return;
    const all = steps(card);
    const index = Number(dialog.dataset.index);
    const step = all[index];
    dialog.querySelector(".sample-viewer-name").textContent =
      card.dataset.title + " / " + card.dataset.series;
    dialog.querySelector(".sample-viewer-at").textContent = "iteration " + step.iteration;
    dialog.querySelector(".sample-viewer-image").setAttribute("src", step.url);
    dialog.querySelector(".sample-prev").disabled = index <= 0;
    dialog.querySelector(".sample-next").disabled = index >= all.length - 1;
  }

  function stepViewer(by) {
    const dialog = viewer();
    const card = document.getElementById(dialog.dataset.card);
    const index = Number(dialog.dataset.index) + by;
    if (!card || index < 0 || index >= steps(card).length) return;
    dialog.dataset.index = String(index);
    paintViewer();
  }

  document.addEventListener("input", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.classList.contains("sample-slider")) {
      show(target.closest(".sample-card"), Number(target.value));
    } else if (target.classList.contains("samples-global-slider")) {
      const iterations = JSON.parse(target.dataset.iterations);
      const iteration = iterations[Number(target.value)];
      const out = target.parentElement.querySelector(".samples-global-at");
      if (out) out.textContent = String(iteration);
      document.querySelectorAll(".sample-card").forEach((card) => {
        show(card, indexAt(card, iteration));
      });
    }
  });

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const open = target.closest(".sample-open");
    if (open) { openViewer(open.closest(".sample-card")); return; }
    if (target.closest(".sample-prev")) stepViewer(-1);
    else if (target.closest(".sample-next")) stepViewer(1);
    else if (target.closest(".sample-close")) viewer()?.close();
  });

  document.addEventListener("keydown", (event) => {
    const dialog = viewer();
    if (!dialog || !dialog.open) return;
    if (event.key === "ArrowLeft") stepViewer(-1);
    else if (event.key === "ArrowRight") stepViewer(1);
  });

  // The compare page's selectors show the chosen title/series/iteration at once.
  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target instanceof HTMLSelectElement && target.closest("form.samples-compare-form")) {
      // Another title or series: shown at its own newest iteration, not the one chosen before.
      const iteration = target.form.querySelector("select[name=iteration]");
      if (iteration && target !== iteration) iteration.disabled = true;
      target.form.requestSubmit();
    }
  });
})();
