// The CI setup wizard (templates/repository/ci_page.html): the GitHub Actions / GitLab CI
// tabs (the chosen one stays chosen when htmx writes the files again) and the copy buttons.
(function () {
  "use strict";

  let chosen = "github";

  function show(root) {
    if (!root) return;
    root.querySelectorAll(".ci-tab").forEach((tab) => {
      tab.setAttribute("aria-selected", String(tab.dataset.ciTab === chosen));
    });
    root.querySelectorAll(".ci-file").forEach((file) => {
      file.hidden = file.dataset.ciFile !== chosen;
    });
  }

  async function copy(button) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.textContent;
    let done = false;
    try {
      await navigator.clipboard.writeText(text);
      done = true;
    } catch (err) {
      // No clipboard API (a page not served over https): copy a selection instead.
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      done = document.execCommand("copy");
      area.remove();
    }
    button.textContent = done ? "Copied" : "Select the text and copy it";
    button.dataset.copied = String(done);
  }

  document.addEventListener("click", (event) => {
    const tab = event.target.closest(".ci-tab");
    if (tab) {
      chosen = tab.dataset.ciTab;
      show(tab.closest(".ci-yaml"));
      return;
    }
    const button = event.target.closest(".ci-copy");
    if (button) copy(button);
  });

  // The cloud's fields matter only for a cloud runner: shown with it alone.
  function cloudFields() {
    const form = document.getElementById("ci-form");
    if (!form) return;
    const runner = form.querySelector("input[name=runner]:checked");
    const fields = form.querySelector(".ci-cloud-fields");
    if (fields) fields.hidden = !runner || runner.value !== "cloud";
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches("#ci-form input[name=runner]")) cloudFields();
  });
  document.addEventListener("DOMContentLoaded", cloudFields);
  document.addEventListener("htmx:afterSwap", () => show(document.getElementById("ci-yaml")));
})();
