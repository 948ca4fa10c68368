// The model page: search and copy of the network configuration, the Edit toggles of the
// Network and Labels tabs, and adding and deleting label rows before Save.
(function () {
  "use strict";

  // Marks each occurrence of the search text in the configuration (text nodes and <mark>
  // elements only: the configuration is the user's text, never parsed as HTML).
  function highlight(pre, needle) {
    const text = pre.textContent;
    pre.textContent = "";
    let count = 0;
    if (!needle) {
      pre.textContent = text;
      return 0;
    }
    const hay = text.toLowerCase();
    const want = needle.toLowerCase();
    let at = 0;
    for (;;) {
      const found = hay.indexOf(want, at);
      if (found < 0) break;
      pre.appendChild(document.createTextNode(text.slice(at, found)));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(found, found + want.length);
      pre.appendChild(mark);
      count += 1;
      at = found + want.length;
    }
    pre.appendChild(document.createTextNode(text.slice(at)));
    const first = pre.querySelector("mark");
    if (first) first.scrollIntoView({ block: "nearest" });
    return count;
  }

  document.addEventListener("input", (event) => {
    const box = event.target;
    if (!box.matches || !box.matches("input.config-search")) return;
    const panel = box.closest(".model-network");
    const pre = panel.querySelector("pre.config-text");
    const count = highlight(pre, box.value);
    const said = panel.querySelector(".config-matches");
    said.textContent = box.value ? count + (count === 1 ? " match" : " matches") : "";
  });

  function toggle(panel, formSelector, viewSelector, editing) {
    const form = panel.querySelector(formSelector);
    if (form) form.hidden = !editing;
    panel.querySelectorAll(viewSelector).forEach((el) => (el.hidden = editing));
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button");
    if (!button) return;
    const network = button.closest(".model-network");
    const labels = button.closest(".model-labels");
    if (network && button.matches(".config-copy")) {
      const text = network.querySelector("pre.config-text").textContent;
      navigator.clipboard.writeText(text).then(
        () => window.Tunelab.toast("Copied the configuration."),
        () => window.Tunelab.toast("Could not copy to the clipboard.", "error")
      );
    } else if (network && button.matches(".config-edit")) {
      toggle(network, "form.config-form", "pre.config-text, p.empty", true);
      network.querySelector("textarea").focus();
    } else if (network && button.matches(".config-cancel")) {
      network.querySelector("form.config-form").reset();
      toggle(network, "form.config-form", "pre.config-text, p.empty", false);
    } else if (labels && button.matches(".labels-edit")) {
      toggle(labels, "form.labels-form", ".labels-view", true);
    } else if (labels && button.matches(".labels-cancel")) {
      // Back to what the server holds: the rows as the page was rendered.
      htmx.ajax("GET", window.location.pathname, { target: "#model-tab", select: "#model-tab", swap: "outerHTML" });
    } else if (labels && button.matches(".label-add")) {
      const template = labels.querySelector("template.label-row-template");
      const row = template.content.firstElementChild.cloneNode(true);
      labels.querySelector("tbody.label-rows").appendChild(row);
      row.querySelector("input").focus();
    } else if (labels && button.matches(".label-remove")) {
      button.closest("tr").remove();
    }
  });
})();
