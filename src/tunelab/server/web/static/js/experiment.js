// The experiment page's own tabs: edit-in-place rows, following the task when it changes
// (here or elsewhere), and the Console tab's live tail.
(function () {
  "use strict";

  // Tabs that show outputs and are re-read whole when only the outputs changed.
  const OUTPUT_TABS = ["plots", "artifacts", "info"];
  const FINAL = ["draft", "completed", "failed", "stopped", "published"];
  const POLL_MS = 1500;
  const MAX_LINES = 50000; // older lines leave the page beyond this; the URL ?after= keeps them

  function experiment() {
    return document.querySelector("section.experiment[data-task-id]");
  }

  function currentTab() {
    const parts = location.pathname.split("/");
    return parts[3] || "";
  }

  function taskStatus() {
    const badge = document.getElementById("task-status");
    return badge ? badge.dataset.status : "";
  }

  // --- reloading a non-live tab when the task changed --------------------------------------

  // A form the user has typed into is not thrown away; its save will answer the 409 if the
  // task can no longer be edited.
  function hasDirtyForm() {
    return !!document.querySelector("form.edit-form[data-dirty]");
  }

  function reread(part) {
    return htmx.ajax("GET", location.pathname + location.search, {
      target: part, select: part, swap: "outerHTML",
    });
  }

  function isTailing() {
    const box = document.getElementById("console");
    return !!box && box.dataset.live === "true";
  }

  // The status changed (or an action here changed the task): a live tab keeps its content
  // and refreshes the header (name, tags, actions); a console that is not tailing yet, and
  // every other tab, is read again whole.
  function reloadTab() {
    const box = experiment();
    if (!box || hasDirtyForm()) return;
    const tab = currentTab();
    if (tab === "scalars" || (tab === "console" && isTailing())) {
      // The new header's badge polls from the new status: when an action here changed
      // it, say so, or the charts and the tail would never hear of it.
      const before = taskStatus();
      reread("header.experiment-head").then(() => {
        if (taskStatus() !== before) {
          document.body.dispatchEvent(new CustomEvent("task-status-changed"));
        }
      });
      return;
    }
    reread("section.experiment");
  }

  function outputsChanged() {
    if (!experiment() || hasDirtyForm() || !OUTPUT_TABS.includes(currentTab())) return;
    reread("section.experiment");
  }

  function concernsThisTask(event) {
    const box = experiment();
    if (!box) return false;
    const ids = event.detail && event.detail.ids;
    return !Array.isArray(ids) || ids.includes(box.dataset.taskId);
  }

  // --- row editors (hyperparameters, user properties) --------------------------------------

  function valueInput(type, index, label) {
    const name = "p-" + index + "-value";
    if (type === "bool") {
      const wrap = document.createDocumentFragment();
      const off = document.createElement("input");
      off.type = "hidden"; off.name = name; off.value = "false";
      const on = document.createElement("input");
      on.type = "checkbox"; on.className = "toggle"; on.name = name; on.value = "true";
      on.setAttribute("role", "switch");
      on.setAttribute("aria-label", label);
      wrap.append(off, on);
      return wrap;
    }
    const input = document.createElement("input");
    input.name = name;
    input.setAttribute("aria-label", label);
    if (type === "int" || type === "float") {
      input.type = "number"; input.step = type === "int" ? "1" : "any"; input.required = true;
    } else {
      input.type = "text";
    }
    return input;
  }

  function addRow(button) {
    const form = button.closest("form");
    const body = form.querySelector("tbody.param-rows");
    const template = form.querySelector("template.param-row-template");
    const index = Number(body.dataset.nextIndex || "0");
    body.dataset.nextIndex = String(index + 1);
    const html = template.innerHTML.split("__i__").join(String(index));
    body.insertAdjacentHTML("beforeend", html);
    const row = body.lastElementChild;
    row.querySelector("input[type=text]").focus();
    form.dataset.dirty = "1";
  }

  function changeType(select) {
    const row = select.closest("tr");
    const cell = row.querySelector("td.param-value");
    const index = select.name.split("-")[1];
    const old = cell.querySelector("input:not([type=hidden]), textarea");
    const label = old ? old.getAttribute("aria-label") : "value";
    cell.replaceChildren(valueInput(select.value, index, label));
  }

  document.addEventListener("click", (event) => {
    const add = event.target.closest("button.row-add");
    if (add) { addRow(add); return; }
    const del = event.target.closest("button.row-delete");
    if (del) {
      const form = del.closest("form");
      const row = del.closest("tr");
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      form.dataset.dirty = "1";
      // Keep the keyboard in the table rather than lost at the top of the page.
      const target = next ? next.querySelector("input:not([type=hidden]), button") : form.querySelector("button.row-add");
      if (target) target.focus();
    }
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches("select.param-type")) changeType(event.target);
  });

  document.addEventListener("input", (event) => {
    const form = event.target.closest && event.target.closest("form.edit-form");
    if (form) form.dataset.dirty = "1";
  });

  // --- the console's live tail ------------------------------------------------------------

  function pad(n) { return String(n).padStart(2, "0"); }

  function stamp(ts) {
    const d = new Date(ts * 1000);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function lineElement(line) {
    const div = document.createElement("div");
    div.className = "line line-" + line.stream;
    div.dataset.seq = String(line.seq);
    const ts = document.createElement("span");
    ts.className = "ts"; ts.textContent = stamp(line.ts);
    const text = document.createElement("span");
    text.className = "text"; text.textContent = line.text;
    div.append(ts, " ", text);
    return div;
  }

  function startTail(box) {
    if (box.dataset.tailing) return;
    box.dataset.tailing = "1";
    let busy = false;
    let timer = null;

    async function fetchNew() {
      if (busy || !box.isConnected) return;
      busy = true;
      try {
        // Catch up in pages until nothing new is left.
        for (;;) {
          const params = new URLSearchParams({ after: box.dataset.after, limit: "1000" });
          if (box.dataset.search) params.set("search", box.dataset.search);
          const response = await fetch("/api/v1/tasks/" + box.dataset.taskId + "/console?" + params);
          if (!response.ok) return;
          const page = await response.json();
          if (!page.lines.length) return;
          const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
          const frag = document.createDocumentFragment();
          page.lines.forEach((line) => frag.appendChild(lineElement(line)));
          box.appendChild(frag);
          box.dataset.after = String(page.next);
          while (box.childElementCount > MAX_LINES) box.firstElementChild.remove();
          const empty = document.querySelector(".console-empty");
          if (empty) empty.remove();
          if (atBottom) box.scrollTop = box.scrollHeight;
          if (page.lines.length < 1000) return;
        }
      } catch (err) {
        // The next tick tries again; a server that went away is said by the status badge.
      } finally {
        busy = false;
      }
    }

    function tick() {
      fetchNew().then(() => {
        if (!box.isConnected) return;
        if (FINAL.includes(taskStatus())) {
          box.dataset.live = "false";
          const state = document.getElementById("console-state");
          if (state) state.textContent = "";
          return;
        }
        timer = setTimeout(tick, POLL_MS);
      });
    }

    // The badge says the status changed: read once more now (the last lines), then stop if final.
    document.body.addEventListener("task-status-changed", () => {
      if (timer) clearTimeout(timer);
      tick();
    });
    box.scrollTop = box.scrollHeight;
    timer = setTimeout(tick, POLL_MS);
  }

  function init(root) {
    const box = (root.querySelector && root.querySelector("#console[data-live=true]")) ||
      (root.id === "console" && root.dataset.live === "true" ? root : null);
    if (box) startTail(box);
    const still = root.querySelector && root.querySelector("#console");
    if (still && !box) still.scrollTop = still.scrollHeight;
  }

  // Registered as the (deferred) script runs: before htmx's first htmx:load on the body.
  htmx.onLoad(init);
  document.body.addEventListener("task-status-changed", reloadTab);
  document.body.addEventListener("task-outputs-changed", outputsChanged);
  document.body.addEventListener("tasks-changed", (event) => {
    if (concernsThisTask(event)) reloadTab();
  });
})();
