// modelyard web UI: the little that htmx does not do. Pages read without it.
"use strict";
(function () {
  // Live sections (jobs, deployments) register themselves here and run on page load and
  // after htmx swaps in new content.
  const starters = [];
  window.modelyard = { onLoad: (fn) => starters.push(fn) };
  function start(root) { for (const fn of starters) fn(root || document); }
  document.addEventListener("DOMContentLoaded", () => start(document));
  document.addEventListener("htmx:load", (event) => { if (event.target !== document.body) start(event.target); });
})();
