// The Run form (templates/git_run/page.html): "Show all input parameters (including hidden)"
// shows the rows marked data-hidden; choosing a file for a data file uploads it at once to
// the API's upload route (the raw body, with the page's CSRF token) and leaves the upload's
// id in the form, so the form itself posts only fields. Submitting waits for uploads. The
// Script and Cloud tabs switch their panels.
(function () {
  "use strict";

  function form() { return document.getElementById("git-run-form"); }

  function setBusy(running) {
    const root = form();
    if (!root) return;
    root.dataset.uploading = String(running);
    root.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = running > 0; });
  }

  function size(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KiB";
    return (bytes / 1024 / 1024).toFixed(1) + " MiB";
  }

  async function upload(input) {
    const root = form();
    const row = input.closest(".data-file");
    const id = row.querySelector(".data-upload-id");
    const state = row.querySelector(".data-upload-state");
    id.value = "";
    const file = input.files && input.files[0];
    if (!file) { state.textContent = ""; return; }
    const csrf = document.querySelector('meta[name="csrf-token"]');
    const url = root.dataset.uploadUrl + "?name=" + encodeURIComponent(file.name);
    state.textContent = "Uploading…";
    setBusy(Number(root.dataset.uploading || 0) + 1);
    try {
      const answer = await fetch(url, {
        method: "PUT", body: file, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf ? csrf.content : "", "Content-Type": "application/octet-stream" },
      });
      const data = await answer.json();
      if (!answer.ok) {
        state.textContent = "Not uploaded: " + ((data.error && data.error.message) || answer.status);
        return;
      }
      id.value = data.upload;
      row.querySelector(".data-artifact").value = "";
      state.textContent = "Uploaded " + data.name + " (" + size(data.size) + ", sha256 " +
        data.sha256.slice(0, 12) + "…)";
      row.dataset.uploaded = "true";
    } catch (error) {
      state.textContent = "Not uploaded: " + error;
    } finally {
      setBusy(Number(root.dataset.uploading || 1) - 1);
    }
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLElement) || !target.closest("#git-run-form")) return;
    if (target.id === "git-run-show-hidden") {
      form().querySelectorAll("[data-hidden]").forEach((row) => {
        row.hidden = !target.checked;
      });
    } else if (target.classList.contains("data-upload")) {
      upload(target);
    } else if (target.id === "git-run-branch") {
      document.getElementById("git-run-target-new").checked = true;
    }
  });

  // The Script and Cloud tabs: the chosen tab's panel shows, the other's hides (both post).
  document.addEventListener("click", (event) => {
    const tab = event.target instanceof Element ? event.target.closest("#git-run-form [role=tab]") : null;
    if (!tab) return;
    tab.closest("[role=tablist]").querySelectorAll("[role=tab]").forEach((other) => {
      const chosen = other === tab;
      other.setAttribute("aria-selected", String(chosen));
      document.getElementById(other.getAttribute("aria-controls")).hidden = !chosen;
    });
  });

  document.addEventListener("input", (event) => {
    if (event.target instanceof HTMLElement && event.target.id === "git-run-branch") {
      document.getElementById("git-run-target-new").checked = true;
    }
  });
})();
