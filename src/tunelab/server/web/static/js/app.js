// Tunelab's shared page behaviour: modals, toasts, and the events pages refresh on.
// Each page area has its own script (table.js, actions.js, charts.js, ...); they use
// window.Tunelab from here.
(function () {
  "use strict";

  const Tunelab = (window.Tunelab = window.Tunelab || {});

  // A toast at the bottom right; errors stay until clicked, others fade after a while.
  Tunelab.toast = function (message, kind) {
    const box = document.getElementById("toasts");
    const div = document.createElement("div");
    div.className = "toast toast-" + (kind || "ok");
    div.setAttribute("role", kind === "error" ? "alert" : "status");
    div.textContent = message;
    box.appendChild(div);
    armToast(div);
  };

  function armToast(div) {
    if (div.dataset.armed) return;
    div.dataset.armed = "1";
    div.addEventListener("click", () => div.remove());
    if (!div.classList.contains("toast-error")) setTimeout(() => div.remove(), 6000);
  }

  // Loads a fragment (a modal's form) into the dialog and opens it.
  Tunelab.openModal = function (url) {
    return htmx.ajax("GET", url, { target: "#modal", swap: "innerHTML" });
  };

  Tunelab.closeModal = function () {
    const dialog = document.getElementById("modal");
    if (dialog.open) dialog.close();
    dialog.innerHTML = "";
  };

  // Ids of the tasks checked in a table (the bulk bar, Compare).
  Tunelab.selectedIds = function () {
    return Array.from(document.querySelectorAll("input.row-select:checked")).map((c) => c.value);
  };

  // CSRF: every htmx request carries the page's token (server/csrf.py).
  document.addEventListener("htmx:configRequest", (event) => {
    const csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) event.detail.headers["X-CSRF-Token"] = csrf.content;
  });

  // Only the pages' own answers are swapped in: they carry X-Tunelab-Page. Anything else
  // (a user's HTML file reached through a crafted URL) could hold htmx attributes that act
  // with the viewer's session, so it is dropped, whatever its status or content type.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.xhr.getResponseHeader("X-Tunelab-Page")) return;
    event.detail.shouldSwap = false;
    event.detail.isError = false;
    if (event.detail.xhr.status !== 204) {
      Tunelab.toast("The server's answer was not a page of Tunelab; nothing was shown.", "error");
    }
  });

  // Forms marked data-reset-on-success empty themselves once the server took them.
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (event.detail.successful && form.matches && form.matches("form[data-reset-on-success]")) {
      form.reset();
    }
  });

  // Forms marked data-no-submit only feed htmx requests; Enter must not navigate.
  document.addEventListener("submit", (event) => {
    if (event.target.matches("form[data-no-submit]")) event.preventDefault();
  });

  // "Go back" on an error page: the page before, or the dashboard when there is none.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-go-back]");
    if (link && history.length > 1) {
      event.preventDefault();
      history.back();
    }
  });

  // A new API key's Copy button: select the key and put it on the clipboard.
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest(".new-key-copy");
    if (!button) return;
    const field = button.closest(".new-key").querySelector(".new-key-value");
    field.select();
    (navigator.clipboard ? navigator.clipboard.writeText(field.value) : Promise.reject())
      .then(() => Tunelab.toast("Copied the key."),
        () => Tunelab.toast("Press Ctrl+C to copy the selected key.", "warn"));
  });

  document.addEventListener("DOMContentLoaded", () => {
    const dialog = document.getElementById("modal");

    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.detail.target === dialog) {
        if (dialog.innerHTML.trim()) {
          if (!dialog.open) dialog.showModal();
          const first = dialog.querySelector("[autofocus], input, select, textarea, button");
          if (first) first.focus();
        } else if (dialog.open) {
          dialog.close();
        }
      }
      document.querySelectorAll("#toasts .toast").forEach(armToast);
    });

    // A response may ask to close the modal ("close-modal") and to say something ("toast").
    document.body.addEventListener("close-modal", () => Tunelab.closeModal());
    document.body.addEventListener("toast", (event) => {
      const d = event.detail || {};
      Tunelab.toast(d.message || d.value || "", d.kind);
    });

    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) Tunelab.closeModal(); // a click on the backdrop
      if (event.target.closest("[data-close-modal]")) Tunelab.closeModal();
    });
    dialog.addEventListener("close", () => { dialog.innerHTML = ""; });

    // A request that could not reach the server at all.
    document.body.addEventListener("htmx:sendError", () => {
      Tunelab.toast("The server could not be reached; try again.", "error");
    });
  });
})();
