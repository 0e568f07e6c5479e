// modelyard web UI: what htmx does not do. Every page reads without this file.
//
// Live jobs: the list page follows the `jobs` channel and the job page `job:<id>` of the one
// event connection the browser's tabs share (see `hub` below and static/events-worker.js);
// they carry GET /api/jobs/events and GET /api/jobs/{id}/events (`job`, data = the job).
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

  function setLive(text, on) {
    for (const el of document.querySelectorAll("[data-live-indicator]")) {
      if (el.dataset.finished) continue;
      el.classList.toggle("on", on);
      el.textContent = text;
    }
  }

  // The page's side of the one event connection per browser (static/events-worker.js):
  // subscribe(channel, onMessage) for the channels this page follows. Without SharedWorker
  // (some mobile browsers) the page opens the same multiplexed stream itself, and closes it
  // while it is hidden.
  const hub = (function () {
    const handlers = new Map(); // channel -> Set(callback)
    const since = {}; // channel -> the event id this page's data ends at
    let port = null;
    let source = null;

    function channels() { return [...handlers.keys()].sort(); }
    function visible() { return document.visibilityState !== "hidden"; }

    function deliver(message) {
      const set = handlers.get(message.channel);
      if (set) for (const callback of set) callback(message);
    }

    function status(live) {
      setLive(live ? "live" : (visible() ? "reconnecting…" : "paused"), live);
    }

    function sync() {
      if (port) {
        port.postMessage({ type: "hello", channels: channels(), visible: visible(), since: since });
        return;
      }
      if (source) { source.close(); source = null; }
      if (!visible() || !handlers.size || !window.EventSource) return;
      const query = channels().map((c) => "channel=" + encodeURIComponent(c));
      const last = channels().filter((c) => since[c]).map((c) => c + "~" + since[c]).join("|");
      if (last) query.push("last=" + encodeURIComponent(last));
      source = new EventSource("/api/events?" + query.join("&"));
      source.onopen = () => status(true);
      source.onerror = () => status(false);
      source.onmessage = (event) => {
        for (const part of (event.lastEventId || "").split("|")) {
          const cut = part.indexOf("~");
          if (cut > 0) since[part.slice(0, cut)] = part.slice(cut + 1);
        }
        try { deliver(JSON.parse(event.data)); } catch (e) { /* not ours */ }
      };
    }

    function start() {
      const meta = document.querySelector('meta[name="modelyard-events-worker"]');
      if (window.SharedWorker && meta) {
        try {
          const worker = new SharedWorker(meta.content, { name: "modelyard-events" });
          port = worker.port;
          port.onmessage = (event) => {
            const data = event.data || {};
            if (data.type === "event") deliver(data.message);
            else if (data.type === "status") status(!!data.live);
          };
          port.start();
          setInterval(sync, 30_000); // the worker drops tabs it has not heard from
        } catch (e) {
          port = null;
        }
      }
      document.addEventListener("visibilitychange", sync);
      window.addEventListener("pagehide", () => {
        if (port) port.postMessage({ type: "bye" });
        else if (source) { source.close(); source = null; }
      });
      window.addEventListener("pageshow", (event) => { if (event.persisted) sync(); });
    }

    return {
      // `from`: the event id this page's data already covers (the channel resumes after it)
      subscribe(channel, callback, from) {
        if (!port && !source && !handlers.size) start();
        if (from && !since[channel]) since[channel] = String(from);
        if (!handlers.has(channel)) handlers.set(channel, new Set());
        handlers.get(channel).add(callback);
        sync();
        return () => {
          const set = handlers.get(channel);
          if (set) { set.delete(callback); if (!set.size) handlers.delete(channel); }
          sync();
        };
      },
    };
  })();

  function connect(channel, onJob) {
    let stop = null;
    stop = hub.subscribe(channel, (message) => {
      if (message.event === "job" && message.data) onJob(message.data, () => stop && stop());
      else if (message.event === "error") setLive("live updates off", false);
    });
  }

  function followList(section) {
    connect(section.dataset.channel, (job) => {
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
    connect(section.dataset.channel, (job, stop) => {
      const panel = section.querySelector("#job-panel");
      if (!panel) return;
      if (changedState(panel, job)) refresh(panel, "/jobs/" + job.id);
      else applyProgress(panel, job);
      if (TERMINAL.has(job.status)) {
        stop(); // the server ends this channel; follow it no further
        for (const el of document.querySelectorAll("[data-live-indicator]")) {
          el.classList.remove("on");
          el.dataset.finished = "1";
          el.textContent = "finished";
        }
      }
    });
  }

  window.modelyard = { progressText: progressText, applyProgress: applyProgress, events: hub };

  // A column picker follows its dataset picker: only the chosen dataset's columns are
  // offered, its likely target column chosen (without this script every dataset's columns
  // show, grouped by dataset, and the server checks the pair).
  function followDataset(select) {
    const source = document.getElementById(select.dataset.columnsOf);
    if (!source) return;
    const apply = () => {
      let chosen = null;
      for (const group of select.querySelectorAll("optgroup")) {
        const mine = group.dataset.dataset === source.value;
        group.hidden = !mine;
        group.disabled = !mine;
        if (mine) {
          chosen = [...group.querySelectorAll("option")].find((o) => o.value === group.dataset.preferred)
            || group.querySelector("option");
        }
      }
      if (chosen && (!select.selectedOptions[0] || select.selectedOptions[0].parentElement.disabled)) chosen.selected = true;
    };
    source.addEventListener("change", () => { select.value = ""; apply(); });
    apply();
  }

  // Sortable tables: a click on a column head sorts by it (again: the other way), by each
  // cell's data-sort or text, numbers as numbers. The server's order is the first one.
  function sortable(table) {
    const heads = table.tHead ? [...table.tHead.rows[0].cells] : [];
    heads.forEach((th, index) => {
      if (!th.textContent.trim() || th.querySelector(".sr-only")) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent.trim();
      th.replaceChildren(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", () => {
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach((h) => h.setAttribute("aria-sort", "none"));
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const key = (row) => {
          const cell = row.cells[index];
          const raw = cell ? (cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim()) : "";
          const number = Number(raw.replace(/[,%×\s]|ops\/s/g, ""));
          return raw !== "" && isFinite(number) ? number : raw.toLowerCase();
        };
        for (const body of table.tBodies) {
          const rows = [...body.rows];
          rows.sort((a, b) => {
            const x = key(a), y = key(b);
            const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
            return ascending ? order : -order;
          });
          body.append(...rows);
        }
      });
    });
  }

  // Leaving a page with an unsent form that was changed (or an upload under way) asks first.
  function guard(form) {
    let dirty = false;
    form.addEventListener("input", () => { dirty = true; });
    form.addEventListener("submit", () => { dirty = false; });
    window.addEventListener("beforeunload", (event) => {
      if (dirty || document.querySelector("[data-uploading]")) { event.preventDefault(); event.returnValue = ""; }
    });
  }

  // The service worker keeps the static assets and an offline page (static/sw.js).
  function registerServiceWorker() {
    const meta = document.querySelector('meta[name="modelyard-service-worker"]');
    if (meta && navigator.serviceWorker && window.isSecureContext) {
      navigator.serviceWorker.register(meta.content, { scope: "/" }).catch(() => {});
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    registerServiceWorker();
    for (const select of document.querySelectorAll("select[data-columns-of]")) followDataset(select);
    for (const table of document.querySelectorAll("table[data-sortable]")) sortable(table);
    for (const form of document.querySelectorAll("form[data-guard]")) guard(form);
    for (const section of document.querySelectorAll("[data-job-list]")) followList(section);
    for (const section of document.querySelectorAll("[data-job-detail]")) followJob(section);
    if (window.modelyardCharts) window.modelyardCharts(document);
  });
})();
