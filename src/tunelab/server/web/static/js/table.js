// The experiments table: select-all, selection kept across refreshes, the open filter
// menu kept open across a re-render, the column picker's search box.
(function () {
  "use strict";

  let keptSelection = null; // ids checked before the rows part was swapped
  let openMenus = []; // ids of filter <details> open before the table was swapped
  let settingAll = false; // the select-all box is checking every row
  let openDirection = null; // the column whose direction menu was open before a rows refresh

  function rowBoxes(root) {
    return Array.from((root || document).querySelectorAll("#exp-rows input.row-select"));
  }

  function syncSelectAll() {
    const all = document.querySelector("#exp-rows input.select-all");
    if (!all) return;
    const boxes = rowBoxes();
    const checked = boxes.filter((b) => b.checked).length;
    all.checked = boxes.length > 0 && checked === boxes.length;
    all.indeterminate = checked > 0 && checked < boxes.length;
    boxes.forEach((b) => b.closest("tr").classList.toggle("selected", b.checked));
  }

  function changed(box) {
    box.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    // A filter changed (the search box fetches on its own, as you type): fetch the table.
    const filters = target.closest && target.closest("form.table-filters");
    if (filters && target.id !== "table-q") htmx.trigger(filters, "filters-changed");
    if (target.matches("#exp-rows input.select-all")) {
      const want = target.checked;
      // Each row's change event reaches the handler below: sync once, at the end.
      settingAll = true;
      rowBoxes().forEach((b) => {
        if (b.checked !== want) {
          b.checked = want;
          changed(b);
        }
      });
      settingAll = false;
    }
    if (settingAll) return;
    if (target.matches("#exp-rows input.row-select, #exp-rows input.select-all")) syncSelectAll();
  });

  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (!target) return;
    if (target.id === "exp-rows") {
      keptSelection = rowBoxes().filter((b) => b.checked).map((b) => b.value);
      // The rows' refresh redraws the header too: a direction menu left open stays open.
      const open = target.querySelector("th[data-col] details.col-direction[open]");
      openDirection = open ? open.closest("th").dataset.col : null;
    }
    if (target.id === "exp-table") {
      openMenus = Array.from(target.querySelectorAll("details.filter-menu[open]")).map((d) => d.id);
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (!target) return;
    if (target.id === "exp-rows" && keptSelection && keptSelection.length) {
      const kept = new Set(keptSelection);
      rowBoxes().forEach((b) => {
        if (kept.has(b.value)) {
          b.checked = true;
          changed(b);
        }
      });
    }
    keptSelection = null;
    if (target.id === "exp-rows" && openDirection) {
      const th = Array.from(target.querySelectorAll("th[data-col]")).find((t) => t.dataset.col === openDirection);
      const menu = th && th.querySelector("details.col-direction");
      if (menu) menu.open = true;
    }
    openDirection = null;
    if (target.id === "exp-table") {
      openMenus.forEach((id) => {
        const menu = document.getElementById(id);
        if (menu) menu.open = true;
      });
      openMenus = [];
    }
    syncSelectAll();
  });

  // Escape closes an open filter menu or the column picker; a click elsewhere too.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    document.querySelectorAll("#exp-table details[open]").forEach((d) => {
      d.open = false;
      d.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", (event) => {
    document.querySelectorAll("#exp-table details[open], details.col-direction[open]").forEach((d) => {
      if (!d.contains(event.target)) d.open = false;
    });
  });

  // A metric's direction menu (a table column's, Compare's) opens over the page at its arrow:
  // inside the table's scrolling box it would be clipped. Toggle does not bubble: capture.
  const placeDirectionMenu = (menu) => {
    const arrow = menu.querySelector("summary").getBoundingClientRect();
    const options = menu.querySelector(".direction-options");
    options.style.top = arrow.bottom + 4 + "px";
    options.style.left = Math.max(4, Math.min(arrow.left, document.documentElement.clientWidth - options.offsetWidth - 8)) + "px";
  };
  document.addEventListener("toggle", (event) => {
    const menu = event.target;
    if (!menu.matches || !menu.matches("details.col-direction") || !menu.open) return;
    placeDirectionMenu(menu);
  }, true);
  // A scroll (the page's, or the table's box) moves the arrow: the open menu follows it
  // rather than closing under the pointer.
  window.addEventListener("scroll", () => {
    document.querySelectorAll("details.col-direction[open]").forEach(placeDirectionMenu);
  }, true);

  // The column picker's search box filters its list as you type.
  document.addEventListener("input", (event) => {
    if (!event.target.matches(".col-filter")) return;
    const needle = event.target.value.trim().toLowerCase();
    const list = event.target.closest(".col-picker-list");
    list.querySelectorAll("li[data-name]").forEach((li) => {
      li.hidden = needle !== "" && !li.dataset.name.toLowerCase().includes(needle);
    });
  });
})();
