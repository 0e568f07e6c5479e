// modelyard web UI: what htmx does not do. Every page reads without this file.
//
// Live jobs: the list page follows GET /api/jobs/events and the job page follows
// GET /api/jobs/{id}/events (Server-Sent Events, `event: job`, data = the job as JSON).
// A progress report moves the bar in place; a change of status (or a job the list has not
// shown yet) re-fetches that job's server-rendered row or panel, so the markup and the
// buttons a user may press come from one place: the templates.
"use strict";
(function () {
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

  function percent(fraction) {
    return Math.round(fraction * 1000) / 10 + "%";
  }

  function duration(seconds) {
    seconds = Math.max(0, seconds);
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.floor(seconds % 60) + " s";
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  }

  function progressText(job) {
    const p = job.progress || {};
    const parts = [];
    if (p.fraction !== null && p.fraction !== undefined) parts.push(percent(p.fraction));
    if (p.phase) parts.push(p.phase);
    if (p.message) parts.push(p.message);
    if (p.eta_seconds !== null && p.eta_seconds !== undefined && job.status === "running") {
      parts.push("ETA " + duration(p.eta_seconds));
    }
    return parts.join(" · ");
  }

  // Move one job's bar and text (textContent only: job messages are user data).
  function applyProgress(root, job) {
    const bar = root.querySelector('[data-field="fraction"]');
    const fraction = job.progress ? job.progress.fraction : null;
    if (bar && fraction !== null && fraction !== undefined) {
      bar.value = fraction;
      bar.textContent = Math.round(fraction * 100) + "%";
    }
    const text = root.querySelector('[data-field="text"]');
    if (text) text.textContent = progressText(job);
  }

  function changedState(el, job) {
    return el.dataset.status !== job.status || el.dataset.cancel !== String(!!job.cancel_requested);
  }

  // Replace `el` with the server's fresh rendering of it.
  function refresh(el, url) {
    if (el.dataset.refreshing) return;
    el.dataset.refreshing = "1";
    if (window.htmx) {
      window.htmx.ajax("GET", url, { target: el, swap: "outerHTML" })
        .catch(() => { delete el.dataset.refreshing; });
      return;
    }
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        const t = document.createElement("template");
        t.innerHTML = html.trim();
        if (t.content.firstElementChild) el.replaceWith(t.content.firstElementChild);
      })
      .catch(() => { delete el.dataset.refreshing; });
  }

  // A table row can only be parsed inside a table: fetch it into a placeholder row.
  function insertRow(tbody, jobId) {
    const empty = tbody.querySelector(".empty-row");
    if (empty) empty.remove();
    const placeholder = document.createElement("tr");
    placeholder.id = "job-" + jobId;
    placeholder.dataset.status = "";
    tbody.prepend(placeholder);
    refresh(placeholder, "/jobs/" + jobId + "/row");
  }

  function setLive(on) {
    for (const el of document.querySelectorAll("[data-live-indicator]")) {
      el.classList.toggle("on", on);
      el.textContent = on ? "live" : "reconnecting…";
    }
  }

  function connect(url, onJob) {
    if (!window.EventSource) return null;
    const source = new EventSource(url);
    source.addEventListener("open", () => setLive(true));
    source.addEventListener("error", () => setLive(false));
    source.addEventListener("job", (event) => {
      let job;
      try { job = JSON.parse(event.data); } catch (e) { return; }
      onJob(job, source);
    });
    return source;
  }

  function followList(section) {
    connect(section.dataset.stream, (job) => {
      const row = document.getElementById("job-" + job.id);
      if (row) {
        if (changedState(row, job)) refresh(row, "/jobs/" + job.id + "/row");
        else applyProgress(row, job);
        return;
      }
      const table = section.querySelector("#job-table");
      if (table && table.dataset.liveInserts === "true") {
        const tbody = table.querySelector("tbody");
        if (tbody) insertRow(tbody, job.id);
      }
    });
  }

  function followJob(section) {
    connect(section.dataset.stream, (job, source) => {
      const panel = section.querySelector("#job-panel");
      if (!panel) return;
      if (changedState(panel, job)) refresh(panel, "/jobs/" + job.id);
      else applyProgress(panel, job);
      if (TERMINAL.has(job.status)) {
        // The server ends the stream; stop EventSource from reconnecting to it.
        source.close();
        for (const el of document.querySelectorAll("[data-live-indicator]")) {
          el.classList.remove("on");
          el.textContent = "finished";
        }
      }
    });
  }

  window.modelyard = { progressText: progressText, applyProgress: applyProgress };

  document.addEventListener("DOMContentLoaded", () => {
    for (const section of document.querySelectorAll("[data-job-list]")) followList(section);
    for (const section of document.querySelectorAll("[data-job-detail]")) followJob(section);
    if (window.modelyardCharts) window.modelyardCharts(document);
  });
})();
