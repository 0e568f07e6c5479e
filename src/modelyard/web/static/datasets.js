// Dataset upload with a progress bar, in resumable chunks (a broken upload of the same file
// resumes from the page; leaving mid-upload asks first). The form works without this file
// (a plain multipart POST to /datasets/upload, streamed to disk by the server). With it, the
// file goes through the datasets API's resumable uploads, authenticated by the page session:
//
//   POST /api/datasets/uploads {filename, size, name, ...}  -> {id, received, chunk_bytes}
//   PUT  /api/datasets/uploads/{id}?offset=N  (one slice of the file; XHR, for its progress)
//   POST /api/datasets/uploads/{id}/complete                 -> the dataset
//
// A chunk that fails on the network or with a 5xx is retried from where the server says the
// upload stands (GET /api/datasets/uploads/{id}), a few times with a growing pause; a refusal
// (4xx) ends the upload, deletes its bytes, and shows the server's message in the form, by
// the button, with what was typed kept. While the server checks and converts the file
// (complete), the bar follows the conversion: the upload's `converted` bytes, polled.
"use strict";
(function () {
  const MAX_CHUNK = 4 << 20; // small enough to resume cheaply, large enough to be quick
  const RETRIES = 5;

  function formatBytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
  }

  const POLL_MS = 300;

  function showError(form, message) {
    const slot = form.querySelector("[data-upload-error]");
    if (!slot) return;
    slot.textContent = message; // text only: the message may quote a file name
    slot.hidden = false;
    slot.scrollIntoView({ block: "nearest" }); // by the button, not off-screen
  }

  function clearError(form) {
    const slot = form.querySelector("[data-upload-error]");
    if (slot) { slot.hidden = true; slot.textContent = ""; }
  }

  class UploadError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function problem(response) {
    let detail = "";
    try {
      const body = await response.json();
      detail = body.detail || body.title || "";
    } catch (e) { /* not JSON */ }
    return new UploadError(detail || "The upload failed (HTTP " + response.status + ").", response.status);
  }

  async function api(method, url, body) {
    const response = await fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw await problem(response);
    return response.status === 204 ? null : response.json();
  }

  // One chunk through XMLHttpRequest: fetch() cannot report upload progress.
  function putChunk(id, offset, blob, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", "/api/datasets/uploads/" + id + "?offset=" + offset);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
      xhr.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
        else reject(new UploadError((body && (body.detail || body.title)) || "HTTP " + xhr.status, xhr.status));
      });
      xhr.addEventListener("error", () => reject(new UploadError("The connection broke.", 0)));
      xhr.send(blob);
    });
  }

  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  async function upload(form, file, ui) {
    const data = new FormData(form);
    const request = { filename: file.name, size: file.size };
    for (const key of ["name", "description", "format"]) {
      const value = String(data.get(key) || "").trim();
      if (value) request[key] = value;
    }
    // A broken upload of this same file resumes where the server's copy ends.
    const key = "modelyard-upload:" + file.name + ":" + file.size + ":" + file.lastModified;
    let state = null;
    const kept = window.localStorage ? localStorage.getItem(key) : null;
    if (kept) {
      try {
        state = await api("GET", "/api/datasets/uploads/" + encodeURIComponent(kept));
        ui.note("Resuming the earlier upload at " + formatBytes(state.received) + "…");
      } catch (error) {
        state = null;
      }
    }
    if (!state) {
      state = await api("POST", "/api/datasets/uploads", request);
      if (window.localStorage) localStorage.setItem(key, String(state.id));
    }
    const id = state.id;
    const chunk = Math.max(1, Math.min(state.chunk_bytes || MAX_CHUNK, MAX_CHUNK));
    let offset = state.received;
    let failures = 0;
    try {
      while (offset < file.size) {
        const end = Math.min(offset + chunk, file.size);
        const start = offset;
        try {
          const state = await putChunk(id, start, file.slice(start, end), (loaded) => ui.sent(start + loaded, file.size));
          offset = state.received;
          failures = 0;
        } catch (error) {
          const retriable = error.status === 0 || error.status === 409 || error.status >= 500;
          if (!retriable || ++failures > RETRIES) throw error;
          ui.note("Connection trouble; resuming (attempt " + (failures + 1) + ")…");
          await sleep(500 * failures);
          offset = (await api("GET", "/api/datasets/uploads/" + id)).received;
        }
      }
      ui.converting(0, file.size);
      let completing = true;
      const follow = (async () => {
        while (completing) {
          await sleep(POLL_MS);
          if (!completing) break;
          try {
            const now = await api("GET", "/api/datasets/uploads/" + id);
            if (completing && now.status === "completing" && now.converted != null) {
              ui.converting(now.converted, now.received);
            }
          } catch (error) { break; } // the upload is gone: complete has answered
        }
      })();
      let dataset;
      try {
        dataset = await api("POST", "/api/datasets/uploads/" + id + "/complete", {});
      } finally {
        completing = false;
        await follow;
      }
      if (window.localStorage) localStorage.removeItem(key);
      return dataset;
    } catch (error) {
      if (!error.status || error.status >= 500) {
        // the connection or the server: keep what arrived, for a resume with the same file
        error.message += " Choose the same file and upload again to resume.";
        throw error;
      }
      // the file itself was refused: give the server its disk back
      if (window.localStorage) localStorage.removeItem(key);
      fetch("/api/datasets/uploads/" + id, { method: "DELETE", credentials: "same-origin" }).catch(() => {});
      throw error;
    }
  }

  function attach(form) {
    const box = form.querySelector("[data-upload-progress]");
    const bar = form.querySelector("[data-upload-bar]");
    const text = form.querySelector("[data-upload-text]");
    const button = form.querySelector('button[type="submit"]');
    const input = form.querySelector('input[type="file"]');
    const ui = {
      sent(loaded, total) {
        bar.value = total ? loaded / total : 1;
        bar.textContent = Math.round(100 * bar.value) + "%";
        text.textContent = formatBytes(loaded) + " of " + formatBytes(total) + " sent";
      },
      note(message) { text.textContent = message; },
      converting(done, total) {
        const fraction = total ? Math.min(1, done / total) : 0;
        bar.value = fraction;
        bar.textContent = Math.round(100 * fraction) + "%";
        bar.setAttribute("aria-label", "Conversion progress");
        text.textContent = "Sent; checking and converting to Parquet: " + Math.round(100 * fraction) + "%";
      },
    };
    form.addEventListener("submit", (event) => {
      const file = input && input.files && input.files[0];
      if (!file || !window.fetch || !window.XMLHttpRequest) return; // the plain form
      event.preventDefault();
      if (!file.size) {
        showError(form, "The file " + file.name + " is empty (0 bytes); choose a file with a header and rows.");
        input.focus();
        return;
      }
      clearError(form);
      box.hidden = false;
      bar.setAttribute("aria-label", "Upload progress");
      button.disabled = true;
      form.dataset.uploading = "1"; // leaving the page now asks first (app.js)
      ui.sent(0, file.size);
      upload(form, file, ui).then(
        (dataset) => {
          delete form.dataset.uploading;
          bar.value = 1;
          text.textContent = "Done.";
          window.location.assign("/datasets/" + encodeURIComponent(dataset.id));
        },
        (error) => {
          delete form.dataset.uploading;
          button.disabled = false;
          box.hidden = true;
          showError(form, error.message || "The upload failed.");
        },
      );
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("[data-dataset-upload]")) attach(form);
  });
})();
