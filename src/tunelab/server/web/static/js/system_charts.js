// The System section of the Scalars tab: the run's system metrics (titles ":monitor:machine"
// and ":monitor:gpu", series named as ClearML names them: cpu_usage, gpu_0_utilization...,
// see tunelab/domain/system_metrics.py) regrouped into charts of one unit each: "CPU usage
// (%)", "Memory (GB)", "GPU 0 memory (GB)"... charts.js draws them in a collapsible
// <details> after the user's charts; its open/closed state is kept in localStorage.
(function () {
  "use strict";

  const PREFIX = ":monitor:";
  const STORE_KEY = "tunelab.charts.system";

  // series -> [chart title, line label]; order of the list is the order of the charts.
  const MACHINE = [
    ["cpu_usage", "CPU usage (%)", "CPU"],
    ["cpu_temperature", "CPU temperature (°C)", "hottest core"],
    ["memory_used_gb", "Memory (GB)", "used by the run"],
    ["memory_free_gb", "Memory (GB)", "free"],
    ["disk_free_percent", "Disk free (%)", "free"],
    ["io_read_mbs", "Disk I/O (MB/s)", "read"],
    ["io_write_mbs", "Disk I/O (MB/s)", "write"],
    ["network_rx_mbs", "Network (MB/s)", "received"],
    ["network_tx_mbs", "Network (MB/s)", "sent"],
  ];
  const GPU = [
    ["utilization", "utilization and memory (%)", "utilization"],
    ["mem_usage", "utilization and memory (%)", "memory used"],
    ["mem_used_gb", "memory (GB)", "used"],
    ["mem_free_gb", "memory (GB)", "free"],
    ["temperature", "temperature (°C)", "temperature"],
    ["power_draw", "power (W)", "power"],
  ];
  const GPU_SERIES = /^gpu_(\d+)_(.+)$/;

  function isSystem(metric) {
    return metric.startsWith(PREFIX);
  }

  // {title, label, order} of a system series; one ClearML spells differently (several nodes
  // on one task, say) keeps its own names, after the known ones.
  function place(metric, variant) {
    const known = MACHINE.findIndex((entry) => entry[0] === variant);
    if (known >= 0) {
      const [, title, label] = MACHINE[known];
      return { title, label, order: [0, 0, titleRank(MACHINE, title)], rank: known };
    }
    const gpu = GPU_SERIES.exec(variant);
    const reading = gpu && GPU.find((entry) => entry[0] === gpu[2]);
    if (reading) {
      const index = Number(gpu[1]);
      return {
        title: `GPU ${index} ${reading[1]}`,
        label: reading[2],
        order: [1, index, titleRank(GPU, reading[1])],
        rank: GPU.indexOf(reading),
      };
    }
    const title = metric.slice(PREFIX.length) || metric;
    return { title, label: variant, order: [2, 0, 0], rank: 0 };
  }

  function titleRank(table, title) {
    return table.findIndex((entry) => entry[1] === title);
  }

  function compareOrder(a, b) {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return 0;
  }

  // Chart specs (as charts.js's ChartGrid takes them) of the system metrics in `metrics`
  // (metric -> variant -> line); `makeSpec(key, title, lines)` fills in the rest.
  function specs(metrics, makeSpec) {
    const charts = new Map(); // title -> {order, lines}
    for (const [metric, variants] of metrics) {
      if (!isSystem(metric)) continue;
      for (const [variant, line] of variants) {
        const where = place(metric, variant);
        if (!charts.has(where.title)) charts.set(where.title, { order: where.order, lines: [] });
        const shown = Object.assign({}, line, { label: where.label, rank: where.rank });
        charts.get(where.title).lines.push(shown);
      }
    }
    return [...charts.entries()]
      .sort((a, b) => compareOrder(a[1].order, b[1].order) || (a[0] < b[0] ? -1 : 1))
      .map(([title, chart]) => {
        const lines = chart.lines.sort((a, b) => a.rank - b.rank || (a.label < b.label ? -1 : 1));
        return makeSpec("system:" + title, title, lines);
      });
  }

  // The section's <details>: open unless the reader closed it (remembered on every page).
  function bindSection(details) {
    let open = true;
    try {
      open = localStorage.getItem(STORE_KEY) !== "closed";
    } catch (e) {
      open = true; // storage off: open, as by default
    }
    details.open = open;
    details.addEventListener("toggle", () => {
      try {
        localStorage.setItem(STORE_KEY, details.open ? "open" : "closed");
      } catch (e) {
        /* storage full or off: the state holds until the page is left */
      }
    });
  }

  window.TunelabSystemCharts = { isSystem: isSystem, specs: specs, bindSection: bindSection };
})();
