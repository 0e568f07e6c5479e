// Deployment charts: uPlot fed by GET /api/deployments/{id}/metrics, kept live by the page's
// `deployment:<id>` channel (the shared event connection; `interval` events, data = {ts_ms,
// predicted_smax, ...}).
//
// The first load asks for the series the charts draw and no more points than the charts are
// wide (`points`): the server buckets them and keeps each bucket's min and max, drawn as a
// band around the average line. Each interval event carries the deployment's own series and
// triggers a small fetch of the target's series since the last point seen.
//
// What the charts must not do is mislead: a stretch without data is a gap, not a straight
// line; every chart of the page spans the same time range and follows one cursor; a chart
// whose values span orders of magnitude uses a log scale and says so; the legend shows each
// series' latest value (or the one under the cursor); and an interval whose prediction was
// below the rate the target actually achieved (the model is wrong, whatever the capacity)
// gets a red marker.
"use strict";
(function () {
  const PALETTE = ["#1f5fbf", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0b7285", "#e67700", "#5c940d"];
  const SAFE_NAME = /^[A-Za-z0-9_.:-]{1,120}$/; // pushed targets name their own series
  const CPU = ["cpu_process_cores", "cpu_foreground_cores", "cpu_flush_cores", "cpu_compaction_cores", "cpu_available_cores"];
  const OWN = ["predicted_smax", "predicted_smax_p10", "predicted_smax_p90", "below_sustained", "actual_smax", "lower_bound_smax", "achieved_ops_per_sec", "offered_ops_per_sec", "error_pct", "censored_violation_pct"];
  const TARGET = CPU.concat(["ops_per_sec*", "latency_*"]);
  const WANTED = OWN.concat(TARGET);
  const LABELS = {
    predicted_smax: "predicted S_max",
    predicted_smax_p10: "p10",
    predicted_smax_p90: "p90",
    actual_smax: "actual S_max",
    lower_bound_smax: "S_max lower bound",
    achieved_ops_per_sec: "achieved",
    offered_ops_per_sec: "offered",
    error_pct: "error %",
    censored_violation_pct: "bound violation %",
  };
  const CHARTS = {
    smax: (own) => ["predicted_smax", "predicted_smax_p10", "predicted_smax_p90", "actual_smax", "lower_bound_smax", "achieved_ops_per_sec", "offered_ops_per_sec"]
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
  const LOG_RATIO = 100; // a chart whose values span more than this uses a log scale
  const HEIGHT = 220;
  const wholeFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const smallFormat = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 4, useGrouping: false });

  // The same figures as the server's `number` filter (web/_render.py).
  function format(value) {
    if (value === null || value === undefined || !isFinite(value)) return "–";
    if (Math.abs(value) >= 100) return wholeFormat.format(Math.round(value));
    if (value === 0 || Math.abs(value) >= 1e-4) return smallFormat.format(value);
    return value.toExponential(3).replace(/e([+-])(\d)$/, "e$10$2");
  }

  function rangeSeconds(range) {
    const m = /^-(\d+)([smhd])$/.exec(range || "-15m");
    return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]] : 900;
  }

  function cssVar(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }

  function formatStat(value, kind) {
    if (value === null || value === undefined || !isFinite(value)) return "–";
    if (kind === "x") return value.toFixed(2) + "×";
    if (kind === "pct") return (value >= 0 ? "+" : "") + value.toFixed(1) + "%";
    return format(value) + " ops/s";
  }

  function alpha(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  function start(root) {
    const metricsUrl = root.dataset.metrics;
    const channel = root.dataset.channel;
    const span = rangeSeconds(root.dataset.range);
    const data = { own: new Map(), target: new Map() }; // name -> Map(ts seconds -> [avg, min, max])
    const plots = {}; // chart key -> {plot, signature, legend, picked}
    const sync = window.uPlot.sync("deployment-" + root.dataset.id);
    let stepSeconds = 1;
    let lastTargetMs = 0;
    let lastOwnMs = 0;
    let fetching = false;
    let refetch = false;

    function put(source, name, tsMs, avg, lo, hi, bucketMs) {
      if (!SAFE_NAME.test(name) || avg === null || !isFinite(avg)) return;
      let series = data[source].get(name);
      if (!series) data[source].set(name, (series = new Map()));
      series.set(tsMs / 1000, [avg, isFinite(lo) ? lo : avg, isFinite(hi) ? hi : avg]);
      // a bucket covers [t, t + step): what follows it starts after its end
      const end = tsMs + Math.max(0, (bucketMs || 0) - 1);
      if (source === "target") lastTargetMs = Math.max(lastTargetMs, end);
      else lastOwnMs = Math.max(lastOwnMs, end);
    }

    function merge(result) {
      if (result.step_ms) stepSeconds = Math.max(stepSeconds, result.step_ms / 1000);
      for (const [source, key] of [["own", "series"], ["target", "target_series"]]) {
        const all = result[key] || {};
        for (const name of Object.keys(all)) {
          const cols = all[name];
          const lo = cols.min || cols.avg;
          const hi = cols.max || cols.avg;
          for (let i = 0; i < cols.t.length; i++) put(source, name, cols.t[i], cols.avg[i], lo[i], hi[i], result.step_ms);
        }
      }
      // The last bucket may end after the moment the server answered (a 3 s bucket loaded
      // 1 s into it): what came later was not loaded, so the live channel resumes from there
      // (on the server's clock), or an interval arriving in that bucket's remainder is lost.
      if (typeof result.to_ms === "number") {
        if (result.series && lastOwnMs > result.to_ms) lastOwnMs = result.to_ms;
        if (result.target_series && lastTargetMs > result.to_ms) lastTargetMs = result.to_ms;
      }
    }

    function trim(oldest) {
      for (const source of ["own", "target"]) {
        for (const series of data[source].values()) {
          for (const ts of series.keys()) { if (ts < oldest) series.delete(ts); else break; }
        }
      }
    }

    // Sorted times of the picked series, with a null row inside every gap longer than three
    // usual spacings, so the lines break there instead of bridging the missing stretch.
    function timeline(picked) {
      const stamps = new Set();
      for (const [source, name] of picked) for (const ts of data[source].get(name).keys()) stamps.add(ts);
      const xs = [...stamps].sort((a, b) => a - b);
      const gaps = [];
      for (let i = 1; i < xs.length; i++) gaps.push(xs[i] - xs[i - 1]);
      const usual = gaps.length ? gaps.slice().sort((a, b) => a - b)[Math.floor(gaps.length / 2)] : stepSeconds;
      const limit = 3 * Math.max(usual, stepSeconds, 1);
      const out = [];
      for (let i = 0; i < xs.length; i++) {
        if (i && xs[i] - xs[i - 1] > limit) out.push(xs[i - 1] + limit / 3);
        out.push(xs[i]);
      }
      return out;
    }

    function columnsFor(key, picked, xs, log) {
      const columns = [xs];
      const clean = (v) => (v === null || (log && v <= 0) ? null : v);
      for (const [source, name] of picked) {
        const series = data[source].get(name);
        const avg = [], lo = [], hi = [];
        for (const ts of xs) {
          const p = series.get(ts);
          avg.push(p ? clean(p[0]) : null);
          lo.push(p ? clean(p[1]) : null);
          hi.push(p ? clean(p[2]) : null);
        }
        columns.push(avg, lo, hi);
      }
      if (key === "smax") columns.push(belowAchieved(xs));
      return columns;
    }

    // Where the prediction is below the rate the target sustained (the engine's flag over its
    // window, or else the interval's achieved rate): the predicted value, else null.
    function belowAchieved(xs) {
      const predicted = data.own.get("predicted_smax");
      const achieved = data.own.get("achieved_ops_per_sec");
      const flagged = data.own.get("below_sustained");
      return xs.map((ts) => {
        const p = predicted && predicted.get(ts);
        const f = flagged && flagged.get(ts);
        if (f) return p && f[0] > 0 ? p[0] : null;
        const a = achieved && achieved.get(ts);
        return p && a && p[0] < a[0] ? p[0] : null;
      });
    }

    function spansDecades(picked) {
      let lo = Infinity, hi = 0;
      for (const [source, name] of picked) {
        for (const p of data[source].get(name).values()) {
          if (p[1] > 0) lo = Math.min(lo, p[1]);
          hi = Math.max(hi, p[2]);
        }
      }
      return lo < Infinity && hi / lo > LOG_RATIO;
    }

    function legendFor(figure, picked) {
      let list = figure.querySelector(".legend");
      if (!list) {
        list = document.createElement("ul");
        list.className = "legend";
        figure.appendChild(list);
      }
      list.replaceChildren();
      const items = picked.map(([, name], i) => {
        const li = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = PALETTE[i % PALETTE.length];
        const label = document.createElement("span");
        label.textContent = LABELS[name] || name;
        const value = document.createElement("strong");
        value.className = "value";
        li.append(swatch, label, " ", value);
        list.appendChild(li);
        return value;
      });
      return items;
    }

    function showLegend(entry, idx) {
      const columns = entry.plot.data;
      entry.legend.forEach((el, i) => {
        const avg = columns[1 + 3 * i];
        let v = null;
        if (idx === null || idx === undefined) {
          for (let j = avg.length - 1; j >= 0 && v === null; j--) v = avg[j];
        } else {
          v = avg[idx];
        }
        el.textContent = format(v);
      });
    }

    function build(key, figure, range) {
      const picked = CHARTS[key](data.own, data.target);
      const box = figure.querySelector(".plot");
      figure.classList.toggle("has-data", picked.length > 0);
      if (!picked.length) {
        if (plots[key]) { plots[key].plot.destroy(); delete plots[key]; }
        return;
      }
      const log = spansDecades(picked);
      const signature = picked.map((p) => p.join(":")).join("|") + (log ? "|log" : "");
      const xs = timeline(picked);
      const columns = columnsFor(key, picked, xs, log);
      const note = figure.querySelector(".scale-note");
      if (note) note.hidden = !log;
      let entry = plots[key];
      if (entry && entry.signature === signature) {
        entry.plot.setData(columns);
      } else {
        if (entry) entry.plot.destroy();
        const axis = { stroke: cssVar("--muted", "#5b6475"), grid: { stroke: cssVar("--line", "#dde1e8"), width: 1 }, ticks: { stroke: cssVar("--line", "#dde1e8") } };
        const series = [{}];
        const bands = [];
        picked.forEach(([, name], i) => {
          const color = PALETTE[i % PALETTE.length];
          const base = series.length;
          series.push({
            label: LABELS[name] || name,
            stroke: color,
            width: name === "predicted_smax" || name === "actual_smax" ? 2 : 1.5,
            dash: name === "lower_bound_smax" || name === "offered_ops_per_sec" ? [6, 4]
              : name.startsWith("predicted_smax_p") ? [2, 3] : undefined,
            spanGaps: false,
            points: { show: false },
          });
          series.push({ label: (LABELS[name] || name) + " min", stroke: "transparent", width: 0, spanGaps: false, points: { show: false } });
          series.push({ label: (LABELS[name] || name) + " max", stroke: "transparent", width: 0, spanGaps: false, points: { show: false } });
          bands.push({ series: [base + 2, base + 1], fill: alpha(color, 0.14) });
        });
        if (key === "smax") {
          series.push({
            label: "prediction below sustained",
            stroke: "#c92a2a",
            fill: "#c92a2a",
            width: 0,
            paths: () => null,
            points: { show: true, size: 8, fill: "#c92a2a", stroke: "#c92a2a" },
          });
        }
        const options = {
          width: Math.max(200, box.clientWidth || figure.clientWidth || 400),
          height: HEIGHT,
          legend: { show: false },
          cursor: { sync: { key: sync.key }, points: { show: false } },
          scales: {
            x: { time: true, range: () => [range.from, range.to] },
            y: log ? { distr: 3 } : { range: (u, lo, hi) => [Math.min(0, lo), hi > 0 ? hi * 1.05 : 1] },
          },
          axes: [axis, { ...axis, size: 64, values: (u, ticks) => ticks.map((v) => format(v)) }],
          series: series,
          bands: bands,
          hooks: { setCursor: [(u) => showLegend(plots[key], u.cursor.idx)] },
        };
        entry = plots[key] = { signature: signature, picked: picked };
        entry.legend = legendFor(figure, picked);
        entry.plot = new window.uPlot(options, columns, box);
        sync.sub(entry.plot);
      }
      showLegend(entry, null);
    }

    function redraw() {
      const to = Date.now() / 1000;
      const range = { from: to - span, to: to };
      trim(range.from);
      for (const figure of root.querySelectorAll("[data-chart]")) build(figure.dataset.chart, figure, range);
      flagBelowAchieved();
    }

    function flagBelowAchieved() {
      const flag = document.querySelector("[data-below-achieved]");
      if (!flag) return;
      const predicted = data.own.get("predicted_smax");
      const achieved = data.own.get("achieved_ops_per_sec");
      if (!predicted || !achieved || !predicted.size) return;
      const last = [...predicted.keys()].pop();
      const flagged = data.own.get("below_sustained");
      const f = flagged && flagged.get(last);
      const a = achieved.get(last);
      flag.hidden = f ? !(f[0] > 0) : !(a && predicted.get(last)[0] < a[0]);
    }

    function query(names, extra) {
      return metricsUrl + "?" + names.map((n) => "name=" + encodeURIComponent(n)).join("&") + "&" + extra;
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
      // the target's series only: the deployment's own come with the interval events
      return load(query(TARGET, "step=raw&digits=4&from=" + encodeURIComponent(((since + 1) / 1000).toFixed(3))));
    }

    function updateStats(event) {
      for (const [series, stat] of Object.entries(STATS)) {
        const el = document.querySelector('[data-stat="' + stat + '"]');
        if (el && event[series] !== undefined) el.textContent = formatStat(event[series], el.dataset.format);
      }
    }

    function follow() {
      if (!channel || !window.modelyard || !window.modelyard.events) return;
      const newest = lastOwnMs || loadedAt - 1; // the channel resumes after what was loaded
      window.modelyard.events.subscribe(channel, (message) => {
        if (message.event !== "interval" || !message.data) return;
        const event = message.data;
        if (typeof event.ts_ms !== "number") return;
        for (const [name, value] of Object.entries(event)) {
          if (name !== "ts_ms" && typeof value === "number") put("own", name, event.ts_ms, value, value, value);
        }
        updateStats(event);
        redraw();
        loadSince(); // the target's series of the same interval
      }, newest);
    }

    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        for (const figure of root.querySelectorAll("[data-chart]")) {
          const entry = plots[figure.dataset.chart];
          const box = figure.querySelector(".plot");
          if (entry && box.clientWidth) entry.plot.setSize({ width: box.clientWidth, height: HEIGHT });
        }
      }, 150);
    });

    const loadedAt = Date.now();
    const first = root.querySelector(".plot");
    // a bucket per two pixels, values to four digits: all a 220 px chart can show
    const points = Math.max(60, Math.min(600, Math.round(((first && first.clientWidth) || 600) / 2)));
    load(query(WANTED, "from=" + encodeURIComponent(root.dataset.range || "-15m") + "&points=" + points + "&digits=4&field=avg&field=min&field=max")).then(follow);
    root.modelyardData = data; // for tests and the curious: what the charts hold
  }

  window.modelyardCharts = function (doc) {
    if (!window.uPlot) return;
    for (const root of doc.querySelectorAll("[data-deployment-charts]")) start(root);
  };
})();
