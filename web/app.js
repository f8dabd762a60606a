/*
 * web/app.js — behaviour of the pixseek search page. Takes a query image
 * from the file picker, drag and drop or the clipboard, POSTs it to
 * /api/search as multipart/form-data (field `image`, `topk`), and shows the
 * results as a grid of /api/thumbnail/<id> cards. "Similar" on a card runs
 * a new search with that result's thumbnail. No dependencies, no build step.
 */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const drop = $("drop"), fileInput = $("file"), preview = $("preview"), dropText = $("drop-text");
  const topkInput = $("topk"), chooseBtn = $("choose");
  const statusEl = $("status"), errorEl = $("error"), grid = $("grid"), statsEl = $("stats");

  let query = null;        /* the current query image (Blob) */
  let previewUrl = null;   /* object URL of the preview */
  let inflight = null;     /* AbortController of the running search */
  let debounce = 0;

  function showError(msg) {
    errorEl.textContent = msg;
    errorEl.hidden = !msg;
  }

  function fileName(path) {
    const i = path.lastIndexOf("/");
    return i >= 0 ? path.slice(i + 1) : path;
  }

  /* The server's JSON error message, or a fallback with the status. */
  async function errorMessage(resp) {
    try {
      const body = await resp.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON */ }
    return "request failed: HTTP " + resp.status;
  }

  function topk() {
    const v = parseInt(topkInput.value, 10);
    if (!Number.isFinite(v)) return 12;
    return Math.min(1000, Math.max(1, v));
  }

  async function loadStats() {
    try {
      const resp = await fetch("/api/stats");
      if (!resp.ok) throw new Error(await errorMessage(resp));
      const s = await resp.json();
      const n = Number(s.images);
      statsEl.textContent = n.toLocaleString() + (n === 1 ? " image" : " images") +
        " indexed · " + s.embedder + " (" + s.dim + "-d, " + s.metric + ")";
    } catch (e) {
      statsEl.textContent = "Index statistics unavailable: " + e.message;
    }
  }

  function setQuery(blob) {
    if (!blob) return;
    if (blob.type && !blob.type.startsWith("image/")) {
      showError("That is not an image (" + blob.type + ").");
      return;
    }
    query = blob;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(blob);
    preview.src = previewUrl;
    preview.hidden = false;
    dropText.hidden = true;
    search();
  }

  function card(r) {
    const li = document.createElement("li");
    li.className = "card";

    const a = document.createElement("a");
    a.href = r.thumbnail;
    a.target = "_blank";
    a.rel = "noopener";
    a.title = r.path;
    const img = document.createElement("img");
    img.src = r.thumbnail;
    img.alt = fileName(r.path);
    img.loading = "lazy";
    img.decoding = "async";
    a.appendChild(img);
    li.appendChild(a);

    const meta = document.createElement("div");
    meta.className = "meta";
    const sim = document.createElement("span");
    sim.className = "sim";
    sim.textContent = (Math.max(0, r.similarity) * 100).toFixed(1) + "%";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = fileName(r.path);
    name.title = r.path + " · " + r.width + "×" + r.height + " " + r.format;
    const again = document.createElement("button");
    again.type = "button";
    again.textContent = "Similar";
    again.setAttribute("aria-label", "Search for images similar to " + fileName(r.path));
    again.addEventListener("click", () => searchByThumbnail(r.thumbnail));
    meta.append(sim, name, again);
    li.appendChild(meta);
    return li;
  }

  async function searchByThumbnail(url) {
    showError("");
    try {
      const resp = await fetch(url);
      if (!resp.ok) throw new Error(await errorMessage(resp));
      setQuery(await resp.blob());
      window.scrollTo({ top: 0, behavior: "smooth" });
    } catch (e) {
      showError(e.message);
    }
  }

  async function search() {
    if (!query) return;
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    showError("");
    statusEl.textContent = "Searching…";
    const form = new FormData();
    form.append("image", query, query.name || "query");
    form.append("topk", String(topk()));
    try {
      const resp = await fetch("/api/search", { method: "POST", body: form, signal: ctl.signal });
      if (!resp.ok) throw new Error(await errorMessage(resp));
      const data = await resp.json();
      grid.replaceChildren(...data.results.map(card));
      const n = data.results.length;
      statusEl.textContent = (n === 0 ? "No matches" : n + (n === 1 ? " match" : " matches")) +
        " in " + Math.round(data.took_ms) + " ms";
    } catch (e) {
      if (e.name === "AbortError") return;
      statusEl.textContent = "";
      grid.replaceChildren();
      showError(e.message);
    } finally {
      if (inflight === ctl) inflight = null;
    }
  }

  /* ---- input: picker, keyboard, drag and drop, paste ---- */

  const openPicker = () => fileInput.click();
  chooseBtn.addEventListener("click", openPicker);
  drop.addEventListener("click", openPicker);
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      openPicker();
    }
  });
  fileInput.addEventListener("change", () => {
    if (fileInput.files && fileInput.files[0]) setQuery(fileInput.files[0]);
    fileInput.value = "";
  });

  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "dragend"].forEach((t) => drop.addEventListener(t, () => {
    drop.classList.remove("over");
  }));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (f) setQuery(f);
    else showError("Drop an image file.");
  });
  /* A drop that misses the zone must not navigate away from the page. */
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  document.addEventListener("paste", (e) => {
    const items = (e.clipboardData && e.clipboardData.items) || [];
    for (const it of items) {
      if (it.kind === "file" && it.type.startsWith("image/")) {
        e.preventDefault();
        setQuery(it.getAsFile());
        return;
      }
    }
  });

  topkInput.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(search, 300);
  });

  loadStats();
})();
