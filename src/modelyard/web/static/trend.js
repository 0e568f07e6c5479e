// Metric trend on a model page: a uPlot line chart of one metric across versions, one line
// per dataset. The server renders the data into the figure's data-trend attribute (JSON:
// {metric, direction, versions: [1, 2, ...], series: [{name, values: [...]}]}, null where a
// version has no value on that dataset); picking another metric swaps the section through
// htmx, and the new figure is drawn when htmx loads it.
"use strict";
(function () {
  const PALETTE = ["#1f5fbf", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0b7285", "#e67700", "#5c940d"];
  const numberFormat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });

  function cssVar(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }

  function draw(figure) {
    if (figure.dataset.drawn || !window.uPlot) return;
    let trend;
    try { trend = JSON.parse(figure.dataset.trend); } catch (e) { return; }
    const target = figure.querySelector(".trend-plot");
    if (!target || !trend.versions || !trend.versions.length) return;
    figure.dataset.drawn = "1";
    figure.modelyardTrend = trend; // for tests and the console
    const fg = cssVar("--fg", "#1d2330");
    const line = cssVar("--line", "#dde1e8");
    const axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line } };
    const opts = {
      width: Math.max(320, target.clientWidth || figure.clientWidth || 640),
      height: 260,
      scales: { x: { time: false } },
      axes: [
        { ...axis, label: "version", incrs: [1, 2, 5, 10, 20, 50, 100], values: (u, ticks) => ticks.map((t) => "v" + t) },
        { ...axis, label: trend.metric, size: 70, values: (u, ticks) => ticks.map((t) => numberFormat.format(t)) },
      ],
      series: [{ label: "version", value: (u, v) => (v === null || v === undefined ? "–" : "v" + v) }].concat(
        trend.series.map((s, i) => ({
          label: s.name,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: true,
          points: { show: true, size: 7 },
          value: (u, v) => (v === null || v === undefined ? "–" : numberFormat.format(v)),
        })),
      ),
    };
    const data = [trend.versions].concat(trend.series.map((s) => s.values));
    const plot = new window.uPlot(opts, data, target);
    figure.modelyardPlot = plot;
    if (window.ResizeObserver) {
      new ResizeObserver(() => {
        const width = Math.max(320, target.clientWidth);
        if (Math.abs(width - plot.width) > 4) plot.setSize({ width: width, height: 260 });
      }).observe(target);
    }
  }

  function drawAll(root) {
    for (const figure of root.querySelectorAll("[data-trend-chart]")) draw(figure);
  }

  document.addEventListener("DOMContentLoaded", () => drawAll(document));
  document.addEventListener("htmx:load", (event) => drawAll(event.target.parentNode || document));
})();
