/*
 * web/app.js — behaviour of the pixseek web UI. No dependencies, no build
 * step. Three views chosen by the URL hash (#search, #index, #duplicates)
 * and a details dialog:
 *
 *   search      query by file picker, drag and drop or paste (POST
 *               /api/search multipart) or by a stored image ("more like
 *               this": JSON {id}); minimum similarity, top-k, page size and
 *               the filter (Milvus expression; Enter applies, errors under
 *               it) map to the API's similarity, topk, page, page_size, filter.
 *   index       collection statistics (GET /api/stats); start indexing a
 *               folder (POST /api/ingest {dir}), poll GET /api/ingest for
 *               progress and per-file errors, POST /api/ingest/cancel.
 *   duplicates  GET /api/duplicates?threshold= as groups side by side.
 *   details     bigger image, metadata with EXIF date/camera and tags (GET
 *               /api/images/ID), tags edited in place (POST
 *               /api/images/ID/tags), "more like this", "open original"
 *               (/api/images/ID/original), remove (DELETE /api/images/ID).
 *
 * Every API error is shown with the server's own message. Writes send the
 * API token from the Index view when one is set (servers run with --token).
 */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  /* ---- small helpers ------------------------------------------------------ */

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function baseName(path) {
    const i = String(path).lastIndexOf("/");
    return i >= 0 ? path.slice(i + 1) : String(path);
  }

  function fmtBytes(n) {
    n = Number(n);
    if (!Number.isFinite(n) || n < 0) return "–";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let u = 0;
    while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
    return (u === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[u];
  }

  function fmtDate(secs) {
    if (!secs) return "–";
    const d = new Date(secs * 1000);
    return Number.isNaN(d.getTime()) ? "–" : d.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
    });
  }

  function fmtDuration(s) {
    if (!Number.isFinite(s) || s < 0) return "–";
    if (s < 60) return Math.round(s) + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min " + Math.round(s % 60) + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function fmtDay(secs) {
    if (!secs) return "–";
    const d = new Date(secs * 1000);
    if (Number.isNaN(d.getTime())) return "–";
    const two = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate());
  }

  function dirName(path) {
    const i = String(path).lastIndexOf("/");
    return i > 0 ? path.slice(0, i) : "/";
  }

  /* A folder shown right-to-left (cut at its start); the <bdi> keeps the
   * slashes of the path in their left-to-right order. */
  function folderLine(path) {
    const s = el("span", "sub folder");
    const b = el("bdi", "", dirName(path));
    b.dir = "ltr";
    s.appendChild(b);
    s.title = path;
    return s;
  }

  const fmtSim = (x) => Number(x).toFixed(3);
  /* A distance within rounding of zero (e.g. -1e-7 from float error) prints as 0.0000, not -0.0000. */
  const fmtDist = (x) => {
    const text = Number(x).toFixed(4);
    return /^-0\.0+$/.test(text) ? text.slice(1) : text;
  };
  const plural = (n, one, many) => n.toLocaleString() + " " + (n === 1 ? one : many);

  function showError(node, msg) {
    node.textContent = msg || "";
    node.hidden = !msg;
  }

  /* ---- API ------------------------------------------------------------------- */

  const TOKEN_KEY = "pixseek-token";
  const tokenInput = $("token");
  try { tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { /* no storage */ }
  tokenInput.addEventListener("change", () => {
    try { sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim()); } catch (e) { /* ignore */ }
  });

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  /* fetch + JSON with the server's error message on failure. opts: method,
   * json (object body), form (FormData), signal. */
  async function api(path, opts) {
    opts = opts || {};
    const init = { method: opts.method || "GET", headers: {}, signal: opts.signal };
    if (opts.json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.json);
    } else if (opts.form) {
      init.body = opts.form;
    }
    const token = tokenInput.value.trim();
    if (token && init.method !== "GET") init.headers.Authorization = "Bearer " + token;
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError("Cannot reach the pixseek server (is it still running?)", 0);
    }
    let body = null;
    try { body = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) {
      let msg = body && body.error && body.error.message
        ? body.error.message : "request failed: HTTP " + resp.status;
      if (resp.status === 401) msg += " — enter the API token under Index → API token.";
      throw new ApiError(msg, resp.status);
    }
    return body;
  }

  /* ---- views --------------------------------------------------------------- */

  const VIEWS = ["search", "index", "duplicates"];
  let view = "";

  function showView(name) {
    if (!VIEWS.includes(name)) name = "search";
    if (name === view) return;
    if (view) window.scrollTo(0, 0);       /* a new view starts at its top */
    view = name;
    for (const v of VIEWS) $("view-" + v).hidden = v !== name;
    for (const a of document.querySelectorAll(".tabs a")) {
      if (a.dataset.view === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    if (name === "index") { loadStats(); pollIngest(); }
    if (name === "duplicates") maybeAutoDups();
  }

  function goView(name) {
    if (location.hash !== "#" + name) location.hash = name;
    else showView(name);
  }

  window.addEventListener("hashchange", () => showView(location.hash.slice(1)));

  /* ---- statistics ---------------------------------------------------------- */

  let stats = null;

  async function loadStats() {
    try {
      stats = await api("/api/stats");
      const n = Number(stats.images);
      $("stats-line").textContent = plural(n, "image", "images") + " · " + stats.embedder;
      $("st-images").textContent = n.toLocaleString();
      $("st-model").textContent = stats.embedder;
      $("st-dim").textContent = String(stats.dim);
      $("st-metric").textContent = stats.metric;
      $("st-memory").textContent = fmtBytes(stats.index_bytes);
      $("st-kernel").textContent = stats.kernel;
      showError($("stats-error"), "");
    } catch (e) {
      $("stats-line").textContent = "Statistics unavailable";
      showError($("stats-error"), "Statistics unavailable: " + e.message);
    }
  }

  /* ---- search -------------------------------------------------------------- */

  const drop = $("drop"), fileInput = $("file"), preview = $("preview");
  const minSim = $("min-sim"), topkInput = $("topk"), pageSizeSel = $("page-size");
  const grid = $("grid"), searchStatus = $("search-status"), searchError = $("search-error");
  const filterInput = $("filter"), filterError = $("filter-error");

  /* the query: {kind: "image", blob, name} or {kind: "id", id, name} */
  let query = null;
  let previewUrl = null;
  let page = 1;
  let results = [];         /* the page shown */
  let inflight = null;      /* AbortController of the running search */
  let debounce = 0;

  function topk() {
    const v = parseInt(topkInput.value, 10);
    return Number.isFinite(v) ? Math.min(1000, Math.max(1, v)) : 48;
  }
  const pageSize = () => parseInt(pageSizeSel.value, 10) || 24;

  function setPreview(src, name) {
    if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
    preview.src = src;
    preview.alt = "Query: " + name;
    preview.hidden = false;
    $("drop-text").hidden = true;
    const q = $("query-name");
    q.textContent = name;
    q.hidden = false;
  }

  function searchImage(blob, name) {
    if (!blob) return;
    name = name || blob.name || "pasted image";
    query = { kind: "image", blob, name };
    const url = URL.createObjectURL(blob);
    setPreview(url, name);
    previewUrl = url;
    page = 1;
    goView("search");
    search();
  }

  function searchById(id, name) {
    query = { kind: "id", id, name: name || "image #" + id };
    setPreview("/api/thumbnail/" + id, "More like " + query.name);
    page = 1;
    goView("search");
    search();
    window.scrollTo({ top: 0 });
  }

  async function search() {
    if (!query) return;
    clearTimeout(debounce);
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    showError(searchError, "");
    showFilterError("");
    searchStatus.textContent = "Searching…";
    grid.setAttribute("aria-busy", "true");
    const params = {
      topk: topk(),
      similarity: Number(minSim.value).toFixed(2),
      page,
      page_size: pageSize(),
    };
    const filter = filterInput.value.trim();
    if (filter) params.filter = filter;
    try {
      let data;
      if (query.kind === "id") {
        data = await api("/api/search", { method: "POST", json: { id: query.id, ...params }, signal: ctl.signal });
      } else {
        const form = new FormData();
        form.append("image", query.blob, query.name);
        for (const [k, v] of Object.entries(params)) form.append(k, String(v));
        data = await api("/api/search", { method: "POST", form, signal: ctl.signal });
      }
      if (data.results.length === 0 && data.total > 0 && page > 1) {
        page = Math.max(1, Math.ceil(data.total / pageSize()));
        return search();
      }
      renderResults(data);
    } catch (e) {
      if (e.name === "AbortError") return;
      results = [];
      grid.replaceChildren();
      $("pager").hidden = true;
      searchStatus.textContent = "";
      /* the server words filter errors "bad filter: <what> at position N" */
      if (e.status === 400 && /^bad filter: /.test(e.message)) {
        showFilterError(e.message.slice(12));
        searchStatus.textContent = "Fix the filter, then press Enter.";
      }
      else showError(searchError, e.message);
    } finally {
      if (inflight === ctl) {
        inflight = null;
        grid.removeAttribute("aria-busy");
      }
    }
  }

  function renderResults(data) {
    results = data.results;
    const total = Number(data.total);
    const size = Number(data.page_size) || pageSize();
    const pages = Math.max(1, Math.ceil(total / size));
    const first = (data.page - 1) * size;
    data.filter = filterInput.value.trim();
    grid.replaceChildren(...results.map((r, i) => resultCard(r, i)));
    if (total === 0) {
      const why = [];
      if (Number(minSim.value) > 0) why.push("similarity ≥ " + Number(minSim.value).toFixed(2));
      if (data.filter) why.push("the filter");
      searchStatus.textContent = "No matches" + (why.length ? " with " + why.join(" and ") +
        ". Lower the minimum similarity or change the filter." : ".");
    } else {
      searchStatus.textContent = plural(total, "match", "matches") +
        (total >= topk() ? " (top-k limit)" : "") +
        (pages > 1 ? " · showing " + (first + 1) + "–" + (first + results.length) : "") +
        " · " + Math.round(Number(data.took_ms)) + " ms";
    }
    $("pager").hidden = pages <= 1;
    $("page-info").textContent = "Page " + data.page + " of " + pages;
    $("prev-page").disabled = data.page <= 1;
    $("next-page").disabled = data.page >= pages;
  }

  function resultCard(r, index) {
    const li = el("li", "card");
    li.dataset.id = r.id;
    li.dataset.similarity = r.similarity;
    li.dataset.distance = r.distance;
    const b = el("button", "card-open");
    b.type = "button";
    b.setAttribute("aria-label", baseName(r.path) + ", similarity " + fmtSim(r.similarity) +
      ". Open details");
    const fig = el("span", "thumb");
    const img = el("img");
    img.src = r.thumbnail_url || r.thumbnail;
    img.alt = "";
    img.loading = "lazy";
    img.decoding = "async";
    const badge = el("span", "sim", fmtSim(r.similarity));
    badge.title = "similarity (1 = identical)";
    fig.append(img, badge);
    const meta = el("span", "card-meta");
    const name = el("span", "name", baseName(r.path));
    name.title = r.path;
    /* the EXIF date the photo was taken when known, else the file's mtime */
    const day = r.date ? r.date.slice(0, 10) : fmtDay(r.mtime);
    const last = el("span", "sub", "dist " + fmtDist(r.distance) + " · " + day);
    last.title = "distance " + fmtDist(r.distance) + (r.date ? " · taken " + r.date : "") +
      " · modified " + fmtDate(r.mtime);
    meta.append(
      name,
      el("span", "sub", r.width + "×" + r.height + " · " + String(r.format).toUpperCase() +
        " · " + fmtBytes(r.size)),
      last);
    b.append(fig, meta);
    b.addEventListener("click", () => openDetails(results, index, b));
    li.appendChild(b);
    return li;
  }

  $("prev-page").addEventListener("click", () => { if (page > 1) { page--; search(); } });
  $("next-page").addEventListener("click", () => { page++; search(); });

  function researchSoon() {
    page = 1;
    clearTimeout(debounce);
    if (query) debounce = setTimeout(search, 250);
  }
  minSim.addEventListener("input", () => {
    $("min-sim-out").textContent = Number(minSim.value).toFixed(2);
    researchSoon();
  });
  topkInput.addEventListener("input", researchSoon);

  /* filter: applied with Enter (or the field's clear button); errors shown under it */
  function showFilterError(msg) {
    showError(filterError, msg);
    if (msg) filterInput.setAttribute("aria-invalid", "true");
    else filterInput.removeAttribute("aria-invalid");
  }
  function applyFilter() {
    page = 1;
    if (query) search();
    else {
      showFilterError("");
      searchStatus.textContent = "Choose a query image: the filter applies to its search.";
    }
  }
  filterInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); applyFilter(); }
  });
  filterInput.addEventListener("search", applyFilter); /* the clear (×) button */
  for (const b of document.querySelectorAll("#filter-help .example")) {
    b.addEventListener("click", () => {
      filterInput.value = b.textContent;
      filterInput.focus();
      applyFilter();
    });
  }
  topkInput.addEventListener("keydown", (e) => { if (e.key === "Enter") { page = 1; search(); } });
  pageSizeSel.addEventListener("change", () => { page = 1; search(); });

  /* input: picker, keyboard, drag and drop, paste */
  const openPicker = () => fileInput.click();
  $("choose").addEventListener("click", openPicker);
  drop.addEventListener("click", openPicker);
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openPicker(); }
  });
  fileInput.addEventListener("change", () => {
    const f = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (f) searchImage(f, f.name);
  });

  /* The whole window accepts a dropped file; the drop zone lights up. */
  let dragDepth = 0;
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
  window.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    dragDepth++;
    document.body.classList.add("dragging");
  });
  window.addEventListener("dragleave", () => {
    if (--dragDepth <= 0) { dragDepth = 0; document.body.classList.remove("dragging"); }
  });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    e.preventDefault();
    dragDepth = 0;
    document.body.classList.remove("dragging");
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (f) searchImage(f, f.name);
    else { goView("search"); showError(searchError, "Drop an image file (not a link or text)."); }
  });

  document.addEventListener("paste", (e) => {
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA") && t.type !== "range") return;
    const items = (e.clipboardData && e.clipboardData.items) || [];
    for (const it of items) {
      if (it.kind === "file") {
        e.preventDefault();
        searchImage(it.getAsFile(), "pasted image");
        return;
      }
    }
  });

  /* ---- details dialog ----------------------------------------------------------- */

  const dlg = $("details");
  let detailList = [], detailIndex = 0, detailOpener = null, detailItem = null, detailSeq = 0;

  function metaRow(dl, label, value) {
    dl.append(el("dt", "", label), el("dd", "", value));
  }

  /* list: items with at least {id, path}; search results also carry the metadata. */
  function openDetails(list, index, opener) {
    detailList = list;
    detailOpener = opener || document.activeElement;
    showDetails(index);
    if (!dlg.open) dlg.showModal();
    $("details-close").focus();
  }

  async function showDetails(index) {
    detailIndex = index;
    const item = detailList[index];
    detailItem = item;
    const seq = ++detailSeq;
    showError($("details-error"), "");
    $("details-title").textContent = baseName(item.path);
    const score = [];
    if (item.similarity !== undefined) score.push("Similarity " + fmtSim(item.similarity));
    if (item.distance !== undefined) score.push("distance " + fmtDist(item.distance));
    $("details-score").textContent = score.join(" · ");
    $("details-nav-hint").hidden = detailList.length < 2;

    const img = $("details-img");
    img.src = "/api/thumbnail/" + item.id;
    img.alt = baseName(item.path);
    const open = $("details-open");
    open.href = "/api/images/" + item.id + "/original";
    showError($("tag-error"), "");
    renderTags(null);
    /* search results carry the metadata; the full record adds the tags */
    renderMeta(item.width === undefined ? { path: item.path, id: item.id } : item);
    let meta;
    try {
      meta = Object.assign({}, await api("/api/images/" + item.id), { path: item.path });
    } catch (e) {
      if (seq === detailSeq) showError($("details-error"), e.message);
      return;
    }
    if (seq !== detailSeq) return;
    renderMeta(meta);
    renderTags(meta.tags || {});
    const hasFile = meta.format && meta.format !== "vector";
    open.hidden = !hasFile;
    /* Show the original once it has loaded, if the browser can display it. */
    if (hasFile && ["jpeg", "png", "gif", "webp", "bmp", "avif"].includes(meta.format)) {
      const full = new Image();
      full.onload = () => { if (seq === detailSeq) img.src = full.src; };
      full.src = open.href;
    }
  }

  function renderMeta(m) {
    const dl = $("details-meta");
    dl.replaceChildren();
    metaRow(dl, "Path", m.path);
    if (m.width !== undefined) {
      metaRow(dl, "Dimensions", m.width + " × " + m.height);
      metaRow(dl, "Format", String(m.format).toUpperCase());
      metaRow(dl, "File size", fmtBytes(m.size));
      metaRow(dl, "Modified", fmtDate(m.mtime));
    }
    if (m.date) metaRow(dl, "Taken", m.date);
    if (m.camera) metaRow(dl, "Camera", m.camera);
    if (m.original_stored) metaRow(dl, "Original", "kept in the data directory");
    metaRow(dl, "Image id", String(m.id));
    if (m.hash) metaRow(dl, "Content hash", m.hash);
  }

  /* tags: shown as chips with a remove button; the form sets key=value */
  function renderTags(tags) {
    const ul = $("details-tags");
    ul.replaceChildren();
    $("tag-form").hidden = tags === null;
    if (tags === null) return;
    const keys = Object.keys(tags).sort();
    if (keys.length === 0) ul.append(el("li", "tag-none", "No tags yet."));
    for (const k of keys) {
      const li = el("li", "tag");
      li.dataset.key = k;
      li.append(el("span", "tag-text", k + " = " + tags[k]));
      const x = el("button", "tag-remove", "×");
      x.type = "button";
      x.setAttribute("aria-label", "Remove tag " + k);
      x.addEventListener("click", () => saveTags({ [k]: null }, $("tag-input")));
      li.append(x);
      ul.append(li);
    }
  }
  async function saveTags(tags, focusAfter) {
    const it = detailItem, seq = detailSeq;
    showError($("tag-error"), "");
    try {
      const r = await api("/api/images/" + it.id + "/tags", { method: "POST", json: { tags } });
      if (seq !== detailSeq) return false;
      renderTags(r.tags);
      if (focusAfter) focusAfter.focus();
      return true;
    } catch (e) {
      if (seq === detailSeq) showError($("tag-error"), e.message);
      return false;
    }
  }
  $("tag-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("tag-input");
    const text = input.value.trim();
    const eq = text.indexOf("=");
    if (eq <= 0) {
      showError($("tag-error"), "Write the tag as key=value (key= removes it).");
      return;
    }
    if (await saveTags({ [text.slice(0, eq).trim()]: text.slice(eq + 1).trim() }, input)) input.value = "";
  });

  dlg.addEventListener("keydown", (e) => {
    if (e.target && e.target.tagName === "INPUT") return;
    if (e.key === "ArrowRight" && detailIndex + 1 < detailList.length) showDetails(detailIndex + 1);
    else if (e.key === "ArrowLeft" && detailIndex > 0) showDetails(detailIndex - 1);
  });
  dlg.addEventListener("close", () => {
    detailSeq++;
    if (detailOpener && document.contains(detailOpener)) detailOpener.focus();
  });
  /* a click on the backdrop (outside the dialog's box) closes it */
  dlg.addEventListener("click", (e) => { if (e.target === dlg) dlg.close(); });
  $("details-close").addEventListener("click", () => dlg.close());
  $("details-more").addEventListener("click", () => {
    const it = detailItem;
    detailOpener = null;
    dlg.close();
    searchById(it.id, baseName(it.path));
    drop.focus();
  });
  $("details-delete").addEventListener("click", async () => {
    const it = detailItem;
    if (!window.confirm("Remove " + baseName(it.path) + " from the index? The file itself is not deleted.")) return;
    try {
      await api("/api/images/" + it.id, { method: "DELETE" });
    } catch (e) {
      showError($("details-error"), e.message);
      return;
    }
    detailOpener = null;
    dlg.close();
    loadStats();
    if (view === "duplicates") runDups();
    else search();
  });

  /* ---- indexing ------------------------------------------------------------------- */

  let pollTimer = 0;

  const RUNNING = ["running", "cancelling"];
  const STATE_LABEL = {
    running: "Indexing", cancelling: "Cancelling", done: "Done",
    cancelled: "Cancelled", failed: "Failed", idle: "Idle",
  };

  function renderJob(job) {
    const box = $("ingest-job");
    if (!job || !job.job) { box.hidden = true; return; }
    box.hidden = false;
    const running = RUNNING.includes(job.state);
    const state = $("ingest-state");
    state.textContent = STATE_LABEL[job.state] || job.state;
    state.dataset.state = job.state;
    $("ingest-dir-shown").textContent = job.dir || "";
    $("ingest-cancel").hidden = !running;
    $("ingest-cancel").disabled = job.state === "cancelling";
    $("ingest-start").disabled = running;

    const bar = $("ingest-bar");
    if (job.total > 0) {
      bar.max = job.total;
      bar.value = job.current;
    } else if (running) {
      bar.removeAttribute("value");        /* still listing files: indeterminate */
    } else {
      bar.max = 1;
      bar.value = 1;
    }
    let line;
    if (running && job.total === 0) {
      line = "Listing files…";
    } else {
      const pct = job.total ? Math.floor((100 * job.current) / job.total) : 100;
      line = job.current.toLocaleString() + " of " + plural(job.total, "file", "files") +
        " (" + pct + " %)";
      if (running && job.rate_per_s > 0) {
        line += " · " + job.rate_per_s.toFixed(1) + " files/s";
        if (job.total > job.current)
          line += " · about " + fmtDuration((job.total - job.current) / job.rate_per_s) + " left";
      }
    }
    if (!running) line += job.message ? " — " + job.message : " · " + fmtDuration(job.elapsed_s);
    $("ingest-progress").textContent = line;
    $("ingest-added").textContent = job.added.toLocaleString();
    $("ingest-unchanged").textContent = job.unchanged.toLocaleString();
    $("ingest-dups").textContent = job.duplicates.toLocaleString();
    $("ingest-failed").textContent = job.failed.toLocaleString();

    const errs = job.errors || [];
    $("ingest-errors-box").hidden = errs.length === 0;
    $("ingest-errors").replaceChildren(...errs.map((x) => {
      const li = el("li");
      const p = el("span", "path", x.path);
      const why = el("span", "reason", x.reason + (x.code ? " (" + x.code + ")" : ""));
      li.append(p, why);
      return li;
    }));
    const more = $("ingest-errors-more");
    more.hidden = !job.errors_truncated;
    more.textContent = job.errors_truncated
      ? "Showing the first " + errs.length + " of " + job.failed.toLocaleString() +
        " failures; `pixseek index` on the command line lists them all." : "";
  }

  let lastJobState = "";

  async function pollIngest() {
    clearTimeout(pollTimer);
    let job;
    try {
      job = await api("/api/ingest");
    } catch (e) {
      showError($("ingest-error"), e.message);
      return;
    }
    renderJob(job);
    const running = RUNNING.includes(job.state);
    if (running) {
      pollTimer = setTimeout(pollIngest, 400);
      if (job.added) loadStats();
    } else if (RUNNING.includes(lastJobState)) {
      loadStats();                          /* just finished */
    }
    lastJobState = job.state;
  }

  $("ingest-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const dir = $("ingest-dir").value.trim();
    showError($("ingest-error"), "");
    if (!dir) { showError($("ingest-error"), "Enter the folder to index."); return; }
    $("ingest-start").disabled = true;
    try {
      const job = await api("/api/ingest", { method: "POST", json: { dir } });
      lastJobState = job.state;
      renderJob(job);
      pollTimer = setTimeout(pollIngest, 200);
    } catch (err) {
      $("ingest-start").disabled = false;
      showError($("ingest-error"), err.message);
    }
  });

  $("ingest-cancel").addEventListener("click", async () => {
    try {
      renderJob(await api("/api/ingest/cancel", { method: "POST" }));
    } catch (e) {
      showError($("ingest-error"), e.message);
    }
    pollIngest();
  });

  /* ---- duplicates ----------------------------------------------------------------------- */

  const dupsThreshold = $("dups-threshold");
  let dupsRan = false, dupsCtl = null;

  function maybeAutoDups() {
    if (dupsRan) return;
    /* duplicate finding is one search per image: run it unasked only on small collections */
    if (stats && Number(stats.images) <= 5000) runDups();
  }

  async function runDups() {
    dupsRan = true;
    if (dupsCtl) dupsCtl.abort();
    const ctl = new AbortController();
    dupsCtl = ctl;
    const t = Number(dupsThreshold.value).toFixed(2);
    showError($("dups-error"), "");
    $("dups-status").textContent = "Looking for duplicates at similarity ≥ " + t + "…";
    $("dups").setAttribute("aria-busy", "true");
    const t0 = performance.now();
    try {
      const data = await api("/api/duplicates?threshold=" + t, { signal: ctl.signal });
      renderDups(data.groups, t, performance.now() - t0);
    } catch (e) {
      if (e.name === "AbortError") return;
      $("dups-status").textContent = "";
      $("dups").replaceChildren();
      showError($("dups-error"), e.message);
    } finally {
      if (dupsCtl === ctl) { dupsCtl = null; $("dups").removeAttribute("aria-busy"); }
    }
  }

  function renderDups(groups, t, ms) {
    const images = groups.reduce((n, g) => n + g.members.length, 0);
    $("dups-status").textContent = groups.length === 0
      ? "No duplicates at similarity ≥ " + t + "."
      : plural(groups.length, "group", "groups") + " · " + plural(images, "file", "files") +
        " · " + Math.round(ms) + " ms";
    $("dups").replaceChildren(...groups.map((g) => {
      const li = el("li", "dup-group" + (g.exact ? " exact" : ""));
      const head = el("div", "dup-head");
      head.append(el("span", "badge", g.exact ? "Exact copies" : "Near-duplicates"),
        el("span", "hint", g.exact ? "byte-identical files, stored once"
          : plural(g.members.length, "image", "images")));
      const row = el("ul", "dup-members");
      g.members.forEach((m, i) => {
        const item = el("li", "dup-member");
        item.dataset.path = m.path;
        const b = el("button", "card-open");
        b.type = "button";
        b.setAttribute("aria-label", baseName(m.path) + (g.exact ? "" : ", similarity " +
          fmtSim(m.similarity)) + ". Open details");
        const fig = el("span", "thumb");
        const img = el("img");
        img.src = m.thumbnail_url;
        img.alt = "";
        img.loading = "lazy";
        fig.appendChild(img);
        if (!g.exact) fig.appendChild(el("span", "sim", fmtSim(m.similarity)));
        const meta = el("span", "card-meta");
        const name = el("span", "name", baseName(m.path));
        name.title = m.path;
        meta.append(name, folderLine(m.path));
        b.append(fig, meta);
        b.addEventListener("click", () => openDetails(g.members, i, b));
        item.appendChild(b);
        row.appendChild(item);
      });
      li.append(head, row);
      return li;
    }));
  }

  dupsThreshold.addEventListener("input", () => {
    $("dups-threshold-out").textContent = Number(dupsThreshold.value).toFixed(2);
  });
  $("dups-form").addEventListener("submit", (e) => { e.preventDefault(); runDups(); });

  /* ---- start ---------------------------------------------------------------------- */

  (async function start() {
    await loadStats();
    showView(location.hash.slice(1));
    pollIngest();                 /* resume watching a job started elsewhere */
  })();
})();
