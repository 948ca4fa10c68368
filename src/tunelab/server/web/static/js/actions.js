// Lifecycle actions in the browser: the context menu of an experiment (right click on a
// table row, or its menu button), the bulk bar above a table, the clone modal's project
// picker, and keeping keyboard focus across the queue pages' live refreshes.
(function () {
  "use strict";

  const Tunelab = (window.Tunelab = window.Tunelab || {});

  const LABELS = {
    clone: "Clone", reset: "Reset", enqueue: "Enqueue", dequeue: "Dequeue", stop: "Stop",
    publish: "Publish", archive: "Archive", unarchive: "Unarchive", delete: "Delete",
  };
  const ORDER = Object.keys(LABELS);
  // These ask something first, in a modal; the others are done at once.
  const ASKS = new Set(["clone", "reset", "enqueue", "delete"]);

  function actionsOf(el) {
    const listed = (el.dataset.actions || "").split(/\s+/);
    return ORDER.filter((a) => listed.includes(a)); // only known ones, in menu order
  }

  // Runs an action on one task: a modal for those that ask, a POST for the others. The
  // answer's HX-Trigger refreshes the page and shows a toast; a refusal comes as a toast.
  Tunelab.runAction = function (taskId, action) {
    const url = "/experiments/" + encodeURIComponent(taskId) + "/" + action;
    if (ASKS.has(action)) return Tunelab.openModal(url);
    return htmx.ajax("POST", url, { swap: "none" });
  };

  // --- the context menu -------------------------------------------------------------------

  let menu = null;
  let invoker = null;

  function closeMenu(restoreFocus) {
    if (!menu) return;
    menu.remove();
    menu = null;
    if (invoker) {
      invoker.removeAttribute("aria-expanded");
      if (restoreFocus && document.body.contains(invoker)) invoker.focus();
    }
    invoker = null;
  }

  function openMenu(source, focusEl, x, y) {
    closeMenu(false);
    const taskId = source.dataset.taskId;
    const name = source.dataset.taskName || taskId;
    menu = document.createElement("div");
    menu.className = "action-menu";
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-label", "Actions for " + name);
    for (const action of actionsOf(source)) {
      const item = document.createElement("button");
      item.type = "button";
      item.className = "action-menu-item action-" + action;
      item.setAttribute("role", "menuitem");
      item.tabIndex = -1;
      item.dataset.action = action;
      item.textContent = LABELS[action];
      item.addEventListener("click", () => {
        closeMenu(true);
        Tunelab.runAction(taskId, action);
      });
      menu.appendChild(item);
    }
    if (!menu.children.length) {
      const none = document.createElement("div");
      none.className = "action-menu-empty muted";
      none.textContent = "No actions";
      menu.appendChild(none);
    }
    menu.addEventListener("keydown", onMenuKey);
    document.body.appendChild(menu);
    // Kept inside the window, flipped up or left near an edge.
    const box = menu.getBoundingClientRect();
    const left = Math.max(4, Math.min(x, window.innerWidth - box.width - 4));
    const top = y + box.height > window.innerHeight - 4 ? Math.max(4, y - box.height) : y;
    menu.style.left = left + "px";
    menu.style.top = top + "px";
    invoker = focusEl;
    if (invoker) invoker.setAttribute("aria-expanded", "true");
    const first = menu.querySelector("[role=menuitem]");
    if (first) first.focus();
  }

  function onMenuKey(event) {
    const items = Array.from(menu.querySelectorAll("[role=menuitem]"));
    const at = items.indexOf(document.activeElement);
    let next = null;
    switch (event.key) {
      case "ArrowDown": next = items[(at + 1) % items.length]; break;
      case "ArrowUp": next = items[(at - 1 + items.length) % items.length]; break;
      case "Home": next = items[0]; break;
      case "End": next = items[items.length - 1]; break;
      case "Enter":
      case " ":
        if (at >= 0) items[at].click();
        break;
      case "Escape": closeMenu(true); break;
      case "Tab": closeMenu(true); break;
      default: return;
    }
    event.preventDefault();
    event.stopPropagation(); // an Escape here closes the menu, not an open dialog
    if (next) next.focus();
  }

  // The element whose data-* describe the task: the row, or the header's menu button.
  function sourceOf(el) {
    return el.closest("[data-task-id][data-actions]");
  }

  document.addEventListener("contextmenu", (event) => {
    const row = event.target.closest("tr.task-row");
    if (!row || event.target.closest("input, textarea, select")) return;
    event.preventDefault();
    const button = row.querySelector(".row-menu") || row;
    let x = event.clientX;
    let y = event.clientY;
    if (!x && !y) { // opened from the keyboard (the menu key, Shift+F10)
      const rect = (document.activeElement && row.contains(document.activeElement)
        ? document.activeElement : row).getBoundingClientRect();
      x = rect.left;
      y = rect.bottom;
    }
    openMenu(row, button, x, y);
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".row-menu, .task-menu-button");
    if (button) {
      const source = button.matches("[data-task-id]") ? button : sourceOf(button);
      if (!source) return;
      event.preventDefault();
      if (menu && invoker === button) { closeMenu(true); return; }
      const rect = button.getBoundingClientRect();
      openMenu(source, button, rect.left, rect.bottom + 2);
      return;
    }
    if (menu && !menu.contains(event.target)) closeMenu(false);
  });

  // A press anywhere outside closes it (before a click lands elsewhere).
  document.addEventListener("mousedown", (event) => {
    if (menu && !menu.contains(event.target) && !event.target.closest(".row-menu, .task-menu-button")) {
      closeMenu(false);
    }
  }, true);
  window.addEventListener("resize", () => closeMenu(false));
  window.addEventListener("scroll", () => closeMenu(false), true);
  document.addEventListener("htmx:beforeSwap", (event) => {
    // The row it was opened for may be about to be replaced.
    if (menu && invoker && event.detail.target && event.detail.target.contains(invoker)) closeMenu(false);
  });

  // --- the bulk bar -----------------------------------------------------------------------

  function checkedRows() {
    return Array.from(document.querySelectorAll("input.row-select:checked"));
  }

  Tunelab.updateBulkBar = function () {
    const checked = checkedRows();
    const allowed = new Set();
    for (const box of checked) {
      const row = box.closest("[data-actions]");
      if (row) actionsOf(row).forEach((a) => allowed.add(a));
    }
    document.querySelectorAll("[data-bulk-bar]").forEach((bar) => {
      bar.classList.toggle("has-selection", checked.length > 0);
      const count = bar.querySelector("[data-bulk-count]");
      if (count) count.textContent = String(checked.length);
      bar.querySelectorAll("[data-bulk-action]").forEach((button) => {
        const action = button.dataset.bulkAction;
        button.disabled = !allowed.has(action);
        button.title = !button.disabled ? ""
          : checked.length ? "No selected experiment's status allows " + LABELS[action]
          : "Select experiments first";
      });
      // Tags change in every status: any selection will do.
      bar.querySelectorAll("[data-bulk-any]").forEach((button) => {
        button.disabled = checked.length === 0;
      });
      const compare = bar.querySelector("[data-bulk-compare]");
      if (compare) compare.disabled = checked.length < 2;
    });
  };

  // After every other handler (a "select all" box sets the others first).
  function laterUpdate() { setTimeout(Tunelab.updateBulkBar, 0); }
  document.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox]")) laterUpdate();
  });
  document.addEventListener("htmx:afterSettle", laterUpdate);
  document.addEventListener("DOMContentLoaded", laterUpdate);

  document.addEventListener("click", (event) => {
    const bar = event.target.closest("[data-bulk-bar]");
    if (!bar) return;
    const ids = Tunelab.selectedIds();
    const compare = event.target.closest("[data-bulk-compare]");
    if (compare && ids.length >= 2) {
      window.location.href = "/compare?ids=" + ids.map(encodeURIComponent).join(",");
      return;
    }
    const asks = event.target.closest("[data-bulk-asks]");
    if (asks && ids.length) {
      const query = new URLSearchParams({ action: asks.dataset.bulkAction, ids: ids.join(",") });
      Tunelab.openModal("/experiments/bulk?" + query.toString());
    }
  });

  // The bulk form posts the checked ids, whatever the checkboxes are named.
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt && event.detail.elt.id === "bulk-form") {
      event.detail.parameters.ids = Tunelab.selectedIds();
    }
  });

  // --- the clone modal's project picker ---------------------------------------------------

  function pickerOf(el) {
    const picker = el.closest(".project-picker");
    return picker && {
      input: picker.querySelector("input[name=project]"),
      options: picker.querySelector(".picker-options"),
      hint: picker.querySelector(".picker-hint"),
    };
  }

  document.addEventListener("click", (event) => {
    const option = event.target.closest(".picker-option");
    if (!option) return;
    const picker = pickerOf(option);
    if (!picker) return;
    const name = option.dataset.project;
    picker.input.value = name;
    picker.options.innerHTML = "";
    picker.hint.textContent = option.dataset.new
      ? "A new project, " + name + ", is created with the clone."
      : "The clone goes in " + name + ".";
    picker.input.focus();
  });

  document.addEventListener("keydown", (event) => {
    const inPicker = event.target.closest && event.target.closest(".project-picker");
    if (!inPicker) return;
    const picker = pickerOf(event.target);
    const options = Array.from(picker.options.querySelectorAll(".picker-option"));
    const at = options.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && !options.length && event.target === picker.input) {
      // The list is not open yet: its hx-trigger fetches it (once).
      htmx.trigger(picker.input, "picker-open");
      return;
    }
    if (event.key === "ArrowDown" && options.length) {
      options[Math.min(at + 1, options.length - 1)].focus();
    } else if (event.key === "ArrowUp" && at >= 0) {
      (at === 0 ? picker.input : options[at - 1]).focus();
    } else if (event.key === "Escape" && (options.length || at >= 0)) {
      picker.options.innerHTML = ""; // closes the list, not the dialog
      picker.input.focus();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  });

  // --- focus across live refreshes --------------------------------------------------------

  // A polled list is replaced every few seconds; the control that had focus gets it back
  // (found again by its data-focus-key), so the keyboard is never thrown to the page top.
  let focusKey = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const active = document.activeElement;
    focusKey = active && active.dataset && active.dataset.focusKey && event.detail.target.contains(active)
      ? active.dataset.focusKey : focusKey;
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!focusKey) return;
    const key = focusKey;
    focusKey = null;
    if (document.activeElement && document.activeElement !== document.body) return;
    const again = document.querySelector('[data-focus-key="' + CSS.escape(key) + '"]');
    if (!again) return;
    if (!again.disabled) { again.focus(); return; }
    const row = again.closest("tr");
    const other = row && row.querySelector("button:not([disabled])");
    if (other) other.focus();
  });
})();
