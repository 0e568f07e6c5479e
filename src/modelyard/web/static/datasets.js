// Dataset upload with a progress bar. The form works without this file (a plain multipart
// POST); here the same form goes through XMLHttpRequest, whose upload events say how many
// bytes have left the browser. The CSRF token travels in a header so the server can check
// it before reading the body. On success the server answers 204 with HX-Redirect (the new
// dataset's page); on failure its message (an HTML fragment of text, escaped by the server)
// is put in the page's #flash region.
"use strict";
(function () {
  function formatBytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
  }

  function showError(message) {
    const flash = document.getElementById("flash");
    if (!flash) return;
    const p = document.createElement("p");
    p.className = "flash flash-error";
    p.setAttribute("role", "alert");
    p.textContent = message;
    flash.replaceChildren(p);
  }

  function errorText(xhr) {
    // The server's error fragment: take its text, never its markup.
    const t = document.createElement("template");
    t.innerHTML = xhr.responseText || "";
    const text = (t.content.textContent || "").trim();
    return text || "The upload failed (HTTP " + xhr.status + ").";
  }

  function attach(form) {
    const box = form.querySelector("[data-upload-progress]");
    const bar = form.querySelector("[data-upload-bar]");
    const text = form.querySelector("[data-upload-text]");
    const button = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", (event) => {
      if (!window.XMLHttpRequest || !window.FormData) return; // the plain POST then
      event.preventDefault();
      const data = new FormData(form);
      const token = data.get("csrf_token") || "";
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRF-Token", token);
      xhr.setRequestHeader("HX-Request", "true");
      box.hidden = false;
      button.disabled = true;
      const flash = document.getElementById("flash");
      if (flash) flash.replaceChildren();
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        bar.value = e.loaded / e.total;
        bar.textContent = Math.round((100 * e.loaded) / e.total) + "%";
        text.textContent = formatBytes(e.loaded) + " of " + formatBytes(e.total) + " sent";
      });
      xhr.upload.addEventListener("load", () => {
        bar.value = 1;
        text.textContent = "Sent; checking and converting the file…";
      });
      xhr.addEventListener("load", () => {
        const target = xhr.getResponseHeader("HX-Redirect");
        if (xhr.status < 400 && target && target.startsWith("/")) {
          text.textContent = "Done.";
          window.location.assign(target);
          return;
        }
        button.disabled = false;
        box.hidden = true;
        showError(errorText(xhr));
      });
      xhr.addEventListener("error", () => {
        button.disabled = false;
        box.hidden = true;
        showError("The connection broke during the upload; nothing was stored. Try again.");
      });
      xhr.send(data);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("[data-dataset-upload]")) attach(form);
  });
})();
