// Deployment charts: uPlot fed by GET /api/deployments/{id}/metrics, then kept live by
// GET /api/deployments/{id}/events (`event: interval`, data = {ts_ms, predicted_smax, ...}).
//
// The interval events carry the deployment's own series (predicted and actual S_max,
// achieved and offered rate, headroom, error); each one also triggers a small fetch of the
// target's series since the last point seen (throughput, latency, CPU).
"use strict";
(function () {
  const PALETTE = ["#1f5fbf", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0b7285", "#e67700", "#5c940d"];
  const SAFE_NAME = /^[A-Za-z0-9_.:-]{1,120}$/; // pushed targets name their own series
  const CPU = ["cpu_process_cores", "cpu_foreground_cores", "cpu_flush_cores", "cpu_compaction_cores", "cpu_available_cores"];
  const LABELS = {
    predicted_smax: "predicted S_max",
    actual_smax: "actual S_max",
    lower_bound_smax: "S_max lower bound",
    achieved_ops_per_sec: "achieved",
    offered_ops_per_sec: "offered",
    error_pct: "error %",
    censored_violation_pct: "bound violation %",
  };
  // Which series each chart shows: [source, name] pairs, picked from what the data holds.
  const CHARTS = {
    smax: (own) => ["predicted_smax", "actual_smax", "lower_bound_smax", "achieved_ops_per_sec", "offered_ops_per_sec"]
      .filter((n) => own.has(n)).map((n) => ["own", n]),
    qps: (own, target) => [...target.keys()].filter((n) => n === "ops_per_sec" || n.startsWith("ops_per_sec.")).sort()
      .map((n) => ["target", n]).concat(own.has("offered_ops_per_sec") ? [["own", "offered_ops_per_sec"]] : []),
    latency: (own, target) => [...target.keys()].filter((n) => n.startsWith("latency_")).sort().map((n) => ["target", n]),
    cpu: (own, target) => CPU.filter((n) => target.has(n)).map((n) => ["target", n]),
    error: (own) => ["error_pct", "censored_violation_pct"].filter((n) => own.has(n)).map((n) => ["own", n]),
  };
  const STATS = {
    predicted_smax: "predicted", actual_smax: "actual", achieved_ops_per_sec: "achieved",
    offered_ops_per_sec: "offered", headroom: "headroom", error_pct: "error_pct",
  };
  const numberFormat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });

  function rangeSeconds(range) {
    const m = /^-(\d+)([smhd])$/.exec(range || "-15m");
    return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]] : 900;
  }

  function cssVar(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }

  function formatStat(value, format) {
    if (value === null || value === undefined || !isFinite(value)) return "–";
    if (format === "x") return value.toFixed(2) + "×";
    if (format === "pct") return (value >= 0 ? "+" : "") + value.toFixed(1) + "%";
    return numberFormat.format(value);
  }

  function start(root) {
    const metricsUrl = root.dataset.metrics;
    const streamUrl = root.dataset.stream;
    const span = rangeSeconds(root.dataset.range);
    const data = { own: new Map(), target: new Map() }; // name -> Map(ts seconds -> value)
    const plots = {}; // chart key -> {plot, signature}
    let lastTargetMs = 0;
    let lastOwnMs = 0;
    let fetching = false;
    let refetch = false;

    function put(source, name, tsMs, value) {
      if (!SAFE_NAME.test(name) || value === null || !isFinite(value)) return;
      let series = data[source].get(name);
      if (!series) data[source].set(name, (series = new Map()));
      series.set(tsMs / 1000, value);
      if (source === "target") lastTargetMs = Math.max(lastTargetMs, tsMs);
      else lastOwnMs = Math.max(lastOwnMs, tsMs);
    }

    function merge(result) {
      for (const [source, key] of [["own", "series"], ["target", "target_series"]]) {
        const all = result[key] || {};
        for (const name of Object.keys(all)) {
          const cols = all[name];
          for (let i = 0; i < cols.t.length; i++) put(source, name, cols.t[i], cols.avg[i]);
        }
      }
    }

    function trim() {
      const oldest = Date.now() / 1000 - span;
      for (const source of ["own", "target"]) {
        for (const series of data[source].values()) {
          for (const ts of series.keys()) { if (ts < oldest) series.delete(ts); else break; }
        }
      }
    }

    function build(key, figure) {
      const picked = CHARTS[key](data.own, data.target);
      const box = figure.querySelector(".plot");
      figure.classList.toggle("has-data", picked.length > 0);
      const signature = picked.map((p) => p.join(":")).join("|");
      if (!picked.length) {
        if (plots[key]) { plots[key].plot.destroy(); delete plots[key]; }
        return;
      }
      const stamps = new Set();
      for (const [source, name] of picked) for (const ts of data[source].get(name).keys()) stamps.add(ts);
      const xs = [...stamps].sort((a, b) => a - b);
      const columns = [xs];
      for (const [source, name] of picked) {
        const series = data[source].get(name);
        columns.push(xs.map((ts) => (series.has(ts) ? series.get(ts) : null)));
      }
      const current = plots[key];
      if (current && current.signature === signature) {
        current.plot.setData(columns);
        return;
      }
      if (current) current.plot.destroy();
      const axis = { stroke: cssVar("--muted", "#5b6475"), grid: { stroke: cssVar("--line", "#dde1e8"), width: 1 }, ticks: { stroke: cssVar("--line", "#dde1e8") } };
      const options = {
        width: Math.max(280, box.clientWidth || figure.clientWidth || 400),
        height: 220,
        scales: { x: { time: true } },
        axes: [axis, { ...axis, size: 64, values: (u, ticks) => ticks.map((v) => numberFormat.format(v)) }],
        series: [{}].concat(picked.map(([source, name], i) => ({
          label: LABELS[name] || name,
          stroke: PALETTE[i % PALETTE.length],
          width: name === "predicted_smax" || name === "actual_smax" ? 2 : 1.5,
          dash: name === "lower_bound_smax" || name === "offered_ops_per_sec" ? [6, 4] : undefined,
          spanGaps: true,
          points: { show: false },
          value: (u, v) => (v === null || v === undefined ? "–" : numberFormat.format(v)),
        }))),
        legend: { live: true },
      };
      plots[key] = { plot: new window.uPlot(options, columns, box), signature: signature };
    }

    function redraw() {
      trim();
      for (const figure of root.querySelectorAll("[data-chart]")) build(figure.dataset.chart, figure);
    }

    function load(url) {
      if (fetching) { refetch = true; return Promise.resolve(); }
      fetching = true;
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error("metrics: HTTP " + r.status))))
        .then((result) => { merge(result); redraw(); })
        .catch(() => {})
        .finally(() => {
          fetching = false;
          if (refetch) { refetch = false; loadSince(); }
        });
    }

    function loadSince() {
      const since = Math.max(lastTargetMs, Date.now() - span * 1000);
      return load(metricsUrl + "?step=raw&from=" + encodeURIComponent(((since + 1) / 1000).toFixed(3)));
    }

    function updateStats(event) {
      for (const [series, stat] of Object.entries(STATS)) {
        const el = document.querySelector('[data-stat="' + stat + '"]');
        if (el) el.textContent = formatStat(event[series], el.dataset.format);
      }
    }

    function follow() {
      if (!streamUrl || !window.EventSource) return;
      const source = new EventSource(streamUrl);
      const live = document.querySelectorAll("[data-live-indicator]");
      const setLive = (on) => live.forEach((el) => { el.classList.toggle("on", on); el.textContent = on ? "live" : "reconnecting…"; });
      source.addEventListener("open", () => setLive(true));
      source.addEventListener("error", () => setLive(false));
      source.addEventListener("interval", (message) => {
        let event;
        try { event = JSON.parse(message.data); } catch (e) { return; }
        if (typeof event.ts_ms !== "number") return;
        for (const [name, value] of Object.entries(event)) {
          if (name !== "ts_ms" && typeof value === "number") put("own", name, event.ts_ms, value);
        }
        updateStats(event);
        redraw();
        loadSince(); // the target's series of the same interval
      });
    }

    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        for (const figure of root.querySelectorAll("[data-chart]")) {
          const entry = plots[figure.dataset.chart];
          const box = figure.querySelector(".plot");
          if (entry && box.clientWidth) entry.plot.setSize({ width: box.clientWidth, height: 220 });
        }
      }, 150);
    });

    load(metricsUrl + "?from=" + encodeURIComponent(root.dataset.range || "-15m")).then(follow);
    root.modelyardData = data; // for tests and the curious: what the charts hold
  }

  window.modelyardCharts = function (doc) {
    if (!window.uPlot) return;
    for (const root of doc.querySelectorAll("[data-deployment-charts]")) start(root);
  };
})();
