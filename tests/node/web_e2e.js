/*
 * tests/node/web_e2e.js — drives the pixseek web UI end to end in headless
 * Debian chromium through playwright-core. Started by
 * tests/integration/test_web.sh, which runs `pixseek serve` and prepares the
 * folders; this script only talks to the page (and reads the API once to
 * cross-check counts). Asserts on DOM content, so a broken page fails:
 *
 *   1. a write without the API token shows the server's 401 message; with
 *      the token, indexing the photo folder runs to "Done" with the progress
 *      bar full, the counts and the per-file error of the bad file listed;
 *   2. search by upload (file chooser): the first card is the query's file
 *      with similarity 1.000; paging; the minimum-similarity slider;
 *   3. a result's details dialog (metadata, the original, tags added by
 *      keyboard and removed, a bad tag key's error, Escape closes it and
 *      focus returns); the filter control (a tag filter, a bad expression's
 *      message under the field, the examples); "more like this" searches by
 *      id (the image itself left out);
 *      remove from index; keyboard, drag and drop, and paste as query inputs;
 *   4. the duplicates view shows the exact copy placed in the folder;
 *   5. a text file upload shows the API's "not an image" error;
 *   6. cancelling a long indexing job;
 *   7. a phone-sized window (390x844) has no horizontal overflow in any view.
 *
 * Usage: node web_e2e.js --base URL --photos DIR --big DIR --query FILE
 *          --text FILE --copy NAME --token T --shots DIR --expect-added N
 */
"use strict";

const path = require("path");
const fs = require("fs");
const { chromium } = require("playwright-core");

function args() {
  const out = {};
  const a = process.argv.slice(2);
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i].replace(/^--/, "")] = a[i + 1];
  for (const k of ["base", "photos", "big", "query", "text", "copy", "token", "shots", "expect-added"])
    if (!out[k]) throw new Error("missing --" + k);
  return out;
}

const opt = args();
const T = 20000;                       /* per-step timeout, ms */
let step = "start";
function check(cond, msg) { if (!cond) throw new Error(msg); }
function ok(msg) { console.log("ok: " + msg); }

async function noOverflow(page, what) {
  const m = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    wide: Array.from(document.querySelectorAll("body *"))
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && e.offsetParent !== null &&
        !e.closest(".visually-hidden"))
      .slice(0, 3).map((e) => e.tagName + "#" + e.id + "." + e.className),
  }));
  check(m.scroll <= m.inner, `${what}: horizontal overflow (scrollWidth ${m.scroll} > ${m.inner}; ${m.wide.join(", ")})`);
}

async function cards(page) {
  return page.$$eval("#grid .card", (els) => els.map((e) => ({
    id: e.dataset.id,
    sim: Number(e.dataset.similarity),
    name: e.querySelector(".name").textContent,
    badge: e.querySelector(".sim").textContent,
  })));
}

async function uploadQuery(page, file) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/search")),
    page.setInputFiles("#file", file),
  ]);
  return resp;
}

async function main() {
  fs.mkdirSync(opt.shots, { recursive: true });
  const shot = async (page, name) => {
    await page.screenshot({ path: path.join(opt.shots, name), fullPage: false });
  };
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const pageErrors = [];
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
    ctx.setDefaultTimeout(T);
    const page = await ctx.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      /* 4xx answers the test provokes are logged by chromium as "Failed to load resource" */
      if (m.type() === "error" && !/^Failed to load resource/.test(m.text())) pageErrors.push("console: " + m.text());
    });
    page.on("dialog", (d) => d.accept());
    /* a filechooser listener from the start turns on playwright's chooser
     * interception before the first keyboard-opened chooser (else a race) */
    page.on("filechooser", () => {});

    /* ---- 1. indexing ---- */
    step = "indexing";
    await page.goto(opt.base + "/#index");
    await page.waitForFunction(() => document.querySelector("#st-images").textContent === "0");
    check(await page.isVisible("#view-index") && !(await page.isVisible("#view-search")), "#index shows the index view");
    check(/builtin|mobilenet/i.test(await page.textContent("#st-model")), "model shown in the statistics");
    check(Number(await page.textContent("#st-dim")) > 0, "dimension shown");

    await page.fill("#ingest-dir", opt.photos);
    await page.press("#ingest-dir", "Enter");          /* keyboard: Enter submits */
    await page.waitForSelector("#ingest-error:not([hidden])");
    const authMsg = await page.textContent("#ingest-error");
    check(/token/i.test(authMsg) && /API token/.test(authMsg), "401 shown with a hint: " + authMsg);
    ok("a write without the token shows: " + authMsg.trim());

    await page.click(".token summary");
    await page.fill("#token", opt.token);
    await page.press("#token", "Tab");                  /* change event stores it */
    await page.click("#ingest-start");
    await page.waitForFunction(() => document.querySelector("#ingest-state").dataset.state === "done", null, { timeout: 30000 });
    check(await page.isHidden("#ingest-error"), "error cleared after a good start");
    const bar = await page.$eval("#ingest-bar", (b) => ({ v: b.value, max: b.max }));
    check(bar.max > 1 && bar.v === bar.max, `progress bar full: ${JSON.stringify(bar)}`);
    const added = Number(await page.textContent("#ingest-added"));
    check(added === Number(opt["expect-added"]), `added ${added}, expected ${opt["expect-added"]}`);
    check(await page.textContent("#ingest-dups") === "1", "one duplicate counted");
    check(await page.textContent("#ingest-failed") === "1", "one failure counted");
    const errs = await page.$$eval("#ingest-errors li", (l) => l.map((x) => x.textContent));
    check(errs.length === 1 && errs[0].includes(path.basename(opt.text, path.extname(opt.text))) && /not an image/.test(errs[0]),
      "per-file error listed: " + JSON.stringify(errs));
    check(await page.isHidden("#ingest-cancel"), "no cancel button after the job");
    await page.waitForFunction((n) => document.querySelector("#st-images").textContent === String(n), added);
    check((await page.textContent("#stats-line")).includes(added + " images"), "header statistics updated");
    await noOverflow(page, "desktop index");
    await shot(page, "index.png");
    ok(`indexing from the UI: ${added} added, progress ${bar.v}/${bar.max}, error list shown`);

    /* ---- 2. search by upload ---- */
    step = "search";
    await page.click('.tabs a[data-view="search"]');
    check(await page.isVisible("#view-search"), "search view shown");
    await page.selectOption("#page-size", "12");
    let resp = await uploadQuery(page, opt.query);
    check(resp.status() === 200, "search answered " + resp.status());
    await page.waitForSelector("#grid .card");
    let list = await cards(page);
    const qname = path.basename(opt.query);
    check(list[0].name === qname, `first result is the query: ${list[0].name} != ${qname}`);
    check(list[0].sim > 0.999 && list[0].badge === "1.000", "similarity ~1: " + JSON.stringify(list[0]));
    for (let i = 1; i < list.length; i++) check(list[i].sim <= list[i - 1].sim + 1e-6, "sorted by similarity");
    check(list.length === 12, "a page of 12 cards, got " + list.length);
    check((await page.textContent("#query-name")) === qname, "query file name shown");
    check(await page.isVisible("#preview"), "query preview shown");
    const status = await page.textContent("#search-status");
    check(/\d+ matches/.test(status) && /ms/.test(status), "status: " + status);
    const firstCard = await page.textContent("#grid .card:first-child .card-meta");
    check(/\d+×\d+/.test(firstCard) && /JPEG/.test(firstCard) && /KB/.test(firstCard) && /dist 0\.0000 · \d{4}-\d\d-\d\d/.test(firstCard),
      "card metadata: " + firstCard);
    await noOverflow(page, "desktop search");
    await shot(page, "search.png");
    ok(`search by upload: first ${list[0].name} similarity ${list[0].badge}; ${status.trim()}`);

    /* paging */
    check(await page.isVisible("#pager"), "pager shown");
    const firstIds = list.map((c) => c.id);
    await page.click("#next-page");
    await page.waitForFunction(() => /Page 2 of/.test(document.querySelector("#page-info").textContent));
    list = await cards(page);
    check(list.length > 0 && list.every((c) => !firstIds.includes(c.id)), "page 2 shows other images");
    check(await page.isDisabled("#next-page") || list.length === 12, "next disabled on the last page");
    await page.click("#prev-page");
    await page.waitForFunction(() => /Page 1 of/.test(document.querySelector("#page-info").textContent));
    ok("paging: page 2 holds " + list.length + " other images");

    /* minimum similarity */
    await page.$eval("#min-sim", (r) => { r.value = "0.99"; r.dispatchEvent(new Event("input", { bubbles: true })); });
    await page.waitForFunction(() => {
      const c = document.querySelectorAll("#grid .card");
      return c.length > 0 && Array.from(c).every((e) => Number(e.dataset.similarity) >= 0.99);
    });
    check((await page.textContent("#min-sim-out")) === "0.99", "threshold value shown");
    check(await page.isHidden("#pager"), "one page at 0.99");
    await page.$eval("#min-sim", (r) => { r.value = "0"; r.dispatchEvent(new Event("input", { bubbles: true })); });
    await page.waitForFunction(() => document.querySelectorAll("#grid .card").length === 12);
    ok("minimum similarity 0.99 keeps only near-identical images");

    /* ---- 3. details and "more like this" ---- */
    step = "details";
    const second = (await cards(page))[1];
    await page.focus("#grid .card:nth-child(2) .card-open");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#details[open]");
    check((await page.textContent("#details-title")) === second.name, "details title");
    const meta = await page.textContent("#details-meta");
    check(meta.includes(opt.photos) && /\d+ × \d+/.test(meta) && /JPEG/.test(meta) && /Modified/.test(meta), "details metadata: " + meta);
    check(/Similarity 0\.\d{3} · distance/.test(await page.textContent("#details-score")), "details score");
    check((await page.getAttribute("#details-open", "href")) === `/api/images/${second.id}/original`, "open original link");
    const orig = await page.request.get(opt.base + `/api/images/${second.id}/original`);
    check(orig.status() === 200 && /image\//.test(orig.headers()["content-type"]), "original served");
    await page.waitForFunction(() => /\/original$/.test(document.querySelector("#details-img").src));

    /* tags: none yet; add two by keyboard (Enter), remove one with its button */
    await page.waitForFunction(() => /No tags yet/.test(document.querySelector("#details-tags").textContent));
    await page.focus("#tag-input");
    await page.keyboard.type("album=e2e");
    await page.keyboard.press("Enter");
    await page.waitForSelector('#details-tags .tag[data-key="album"]');
    check(await page.evaluate(() => document.activeElement.id === "tag-input" && document.activeElement.value === ""),
      "tag input cleared and focused after saving");
    await page.keyboard.type("rating=5");
    await page.keyboard.press("Enter");
    await page.waitForSelector('#details-tags .tag[data-key="rating"]');
    await page.fill("#tag-input", "1bad=x");
    await page.press("#tag-input", "Enter");
    await page.waitForSelector("#tag-error:not([hidden])");
    check(/tag key/.test(await page.textContent("#tag-error")), "bad tag key error: " + await page.textContent("#tag-error"));
    await page.fill("#tag-input", "");
    let tagsNow = await (await page.request.get(opt.base + `/api/images/${second.id}/tags`)).json();
    check(JSON.stringify(tagsNow.tags) === '{"album":"e2e","rating":5}', "tags stored: " + JSON.stringify(tagsNow));
    await shot(page, "details.png");
    await page.click('#details-tags .tag[data-key="rating"] .tag-remove');
    await page.waitForSelector('#details-tags .tag[data-key="rating"]', { state: "detached" });
    tagsNow = await (await page.request.get(opt.base + `/api/images/${second.id}/tags`)).json();
    check(JSON.stringify(tagsNow.tags) === '{"album":"e2e"}', "tag removed: " + JSON.stringify(tagsNow));
    await page.focus("#details-close");
    await page.keyboard.press("ArrowRight");
    await page.waitForFunction((n) => document.querySelector("#details-title").textContent !== n, second.name);
    await page.keyboard.press("Escape");
    await page.waitForSelector("#details:not([open])", { state: "attached" });
    check(await page.evaluate(() => document.activeElement.closest(".card") !== null), "focus back on the card");
    ok("details dialog: metadata, original, tags set by keyboard and removed, bad key error, arrow keys, Escape");

    /* filter: a tag filter keeps only the tagged image; a bad one shows the
     * parser's message under the field; an example button fills it in */
    step = "filter";
    await page.fill("#filter", 'album == "e2e"');
    [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/search")),
      page.press("#filter", "Enter"),
    ]);
    check(resp.status() === 200, "filtered search " + resp.status());
    await page.waitForFunction((id) => {
      const c = [...document.querySelectorAll("#grid .card")];
      return c.length === 1 && c[0].dataset.id === id;
    }, second.id);
    await shot(page, "search-filter.png");
    await page.fill("#filter", "width >");
    await page.press("#filter", "Enter");
    await page.waitForSelector("#filter-error:not([hidden])");
    const fmsg = await page.textContent("#filter-error");
    check(/position \d+/.test(fmsg) && !/^bad filter/.test(fmsg), "filter error shown inline: " + fmsg);
    check((await page.getAttribute("#filter", "aria-invalid")) === "true", "filter marked invalid");
    check(await page.isHidden("#search-error"), "filter error not in the general error box");
    await shot(page, "search-filter-error.png");
    await page.click("#filter-help summary");
    await page.click("#filter-help .example >> nth=0");
    check((await page.inputValue("#filter")).startsWith('format == "png"'), "example fills the filter");
    await page.waitForFunction(() => document.querySelector("#filter-error").hidden &&
      /No matches/.test(document.querySelector("#search-status").textContent));
    await page.fill("#filter", "");
    await page.press("#filter", "Enter");
    await page.waitForFunction(() => document.querySelectorAll("#grid .card").length === 12);
    check((await page.getAttribute("#filter", "aria-invalid")) === null, "filter valid again");
    ok(`filter: album == "e2e" keeps only ${second.name}; "width >" shows: ${fmsg.trim()}; examples apply`);

    await page.click("#grid .card:nth-child(2) .card-open");
    await page.waitForSelector("#details[open]");
    [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/search")),
      page.click("#details-more"),
    ]);
    const body = JSON.parse(resp.request().postData());
    check(String(body.id) === second.id, "more like this searches by id: " + resp.request().postData());
    await page.waitForFunction((n) => (document.querySelector("#query-name") || {}).textContent?.includes(n), second.name);
    /* the previous results held the image; the new ones must not */
    await page.waitForFunction((id) => {
      const ids = [...document.querySelectorAll("#grid .card")].map((c) => c.dataset.id);
      return ids.length > 0 && !ids.includes(id);
    }, second.id);
    check(await page.isHidden("#details"), "dialog closed");
    check((await page.textContent("#query-name")).includes(second.name), "query shows the stored image");
    list = await cards(page);
    check(list.length > 0 && list.every((c) => c.id !== second.id), "more like this: the image itself is left out");
    ok(`"more like this" on ${second.name}: searched by id ${second.id}`);

    /* remove a result from the index (the confirm() is accepted) */
    const keep = new Set([qname, second.name, opt.copy, "1.jpg", "2.jpg", "3.jpg"]);
    const victim = list.slice().reverse().find((c) => !keep.has(c.name));
    await page.click(`#grid .card[data-id="${victim.id}"] .card-open`);
    await page.waitForSelector("#details[open]");
    await page.click("#details-delete");
    await page.waitForSelector("#details:not([open])", { state: "attached" });
    await page.waitForFunction((id) => document.querySelectorAll("#grid .card").length > 0 &&
      !document.querySelector(`#grid .card[data-id="${id}"]`), victim.id);
    await page.waitForFunction((n) => document.querySelector("#stats-line").textContent.startsWith(n + " images"), added - 1);
    const gone = await page.request.get(opt.base + "/api/images/" + victim.id);
    check(gone.status() === 404, "removed image answers 404, got " + gone.status());
    ok(`remove from index: ${victim.name} gone from the results and the count`);

    /* keyboard: Enter on the drop zone opens the file chooser */
    await page.focus("#drop");
    const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.keyboard.press("Enter")]);
    [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/search")),
      chooser.setFiles(opt.query),
    ]);
    await page.waitForFunction((n) => document.querySelector("#grid .card .name").textContent === n &&
      document.querySelector("#query-name").textContent === n, qname);
    ok("keyboard: Enter on the drop zone opens the file chooser");

    /* drag and drop, and paste (Ctrl+V), of an image file */
    const bytes = fs.readFileSync(path.join(opt.photos, second.name)).toString("base64");
    const makeTransfer = (b64, name) => {
      const raw = atob(b64);
      const u8 = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) u8[i] = raw.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([u8], name, { type: "image/jpeg" }));
      return dt;
    };
    await page.evaluate(([fn, b64, name]) => {
      const dt = eval(fn)(b64, name);
      const zone = document.querySelector("#drop");
      zone.dispatchEvent(new DragEvent("dragenter", { bubbles: true, cancelable: true, dataTransfer: dt }));
      zone.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: dt }));
      zone.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: dt }));
    }, [makeTransfer.toString(), bytes, "dropped.jpg"]);
    await page.waitForFunction((n) => document.querySelector("#query-name").textContent === "dropped.jpg" &&
      document.querySelector("#grid .card .name").textContent === n, second.name);
    check(!(await page.evaluate(() => document.body.classList.contains("dragging"))), "drop highlight cleared");
    await page.evaluate(([fn, b64]) => {
      const dt = eval(fn)(b64, "image.jpg");
      document.body.dispatchEvent(new ClipboardEvent("paste", { bubbles: true, cancelable: true, clipboardData: dt }));
    }, [makeTransfer.toString(), fs.readFileSync(opt.query).toString("base64")]);
    await page.waitForFunction((n) => document.querySelector("#query-name").textContent === "pasted image" &&
      document.querySelector("#grid .card .name").textContent === n, qname);
    ok("drag and drop and paste of an image search with it");

    /* ---- 4. duplicates ---- */
    step = "duplicates";
    await page.click('.tabs a[data-view="duplicates"]');
    await page.click("#dups-run");
    await page.waitForSelector(".dup-group");
    const groups = await page.$$eval(".dup-group", (gs) => gs.map((g) => ({
      exact: g.classList.contains("exact"),
      head: g.querySelector(".dup-head").textContent,
      paths: Array.from(g.querySelectorAll(".dup-member")).map((m) => m.dataset.path),
    })));
    const ex = groups.find((g) => g.exact);
    check(ex && ex.paths.some((p) => p.endsWith("/" + opt.copy)) && ex.paths.some((p) => p.endsWith("/" + qname)),
      "exact-copy group of " + opt.copy + " and " + qname + ": " + JSON.stringify(groups));
    check(/Exact copies/.test(ex.head), "exact group labelled");
    check(/\d+ groups?/.test(await page.textContent("#dups-status")), "duplicates status");
    await noOverflow(page, "desktop duplicates");
    await shot(page, "duplicates.png");
    await page.click(".dup-group .card-open");
    await page.waitForSelector("#details[open]");
    await page.waitForFunction(() => /Dimensions/.test(document.querySelector("#details-meta").textContent));
    await page.keyboard.press("Escape");
    ok(`duplicates view: ${groups.length} group(s), exact copy ${opt.copy} shown with ${qname}`);

    /* ---- 5. bad upload ---- */
    step = "bad upload";
    await page.click('.tabs a[data-view="search"]');
    resp = await uploadQuery(page, opt.text);
    check(resp.status() === 415 || resp.status() === 400, "text upload refused: " + resp.status());
    await page.waitForSelector("#search-error:not([hidden])");
    const badMsg = await page.textContent("#search-error");
    check(/not an image/.test(badMsg), "bad upload error: " + badMsg);
    check((await page.$$("#grid .card")).length === 0, "no stale results after an error");
    ok("text file upload shows: " + badMsg);

    /* ---- 6. cancel ---- */
    step = "cancel";
    await page.click('.tabs a[data-view="index"]');
    await page.fill("#ingest-dir", opt.big);
    await page.click("#ingest-start");
    await page.click("#ingest-cancel");
    await page.waitForFunction(() => document.querySelector("#ingest-state").dataset.state === "cancelled");
    const done = Number(await page.$eval("#ingest-bar", (b) => b.value));
    const total = Number(await page.$eval("#ingest-bar", (b) => b.max));
    check(await page.isHidden("#ingest-cancel") && await page.isEnabled("#ingest-start"), "controls reset after cancel");
    ok(`cancel: job stopped at ${done}/${total}`);

    check(pageErrors.length === 0, "page errors: " + pageErrors.join("; "));

    /* ---- 7. phone ---- */
    step = "phone";
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1,
      isMobile: true, hasTouch: true, colorScheme: "light" });
    phone.setDefaultTimeout(T);
    const pp = await phone.newPage();
    pp.on("pageerror", (e) => pageErrors.push(String(e)));
    await pp.goto(opt.base + "/");
    await pp.waitForFunction(() => /images/.test(document.querySelector("#stats-line").textContent));
    await uploadQuery(pp, opt.query);
    await pp.waitForSelector("#grid .card");
    check((await cards(pp))[0].name === qname, "phone search works");
    await noOverflow(pp, "phone search");
    const colsOk = await pp.$$eval("#grid .card", (c) => c[0].getBoundingClientRect().width >= 140 &&
      c[0].getBoundingClientRect().right <= window.innerWidth);
    check(colsOk, "phone cards fit the window");
    await pp.fill("#filter", 'format == "jpeg"');
    await Promise.all([pp.waitForResponse((r) => r.url().endsWith("/api/search")), pp.press("#filter", "Enter")]);
    await pp.waitForSelector("#grid .card");
    await noOverflow(pp, "phone search with a filter");
    await shot(pp, "phone-search.png");
    await pp.click("#grid .card:first-child .card-open");
    await pp.waitForSelector("#details[open]");
    await noOverflow(pp, "phone details");
    const dlgBox = await pp.$eval("#details", (d) => d.getBoundingClientRect().width);
    check(dlgBox <= 390, "details fit the phone: " + dlgBox);
    check(await pp.isVisible("#details-tags") && await pp.isVisible("#tag-input"), "tags editable on the phone");
    await shot(pp, "phone-details.png");
    await pp.keyboard.press("Escape");
    for (const v of ["index", "duplicates"]) {
      await pp.click(`.tabs a[data-view="${v}"]`);
      await pp.waitForSelector("#view-" + v + ":not([hidden])");
      if (v === "duplicates") await pp.waitForSelector(".dup-group");
      await noOverflow(pp, "phone " + v);
    }
    await shot(pp, "phone-duplicates.png");
    check(pageErrors.length === 0, "page errors: " + pageErrors.join("; "));
    ok("phone-sized window (390x844): no horizontal overflow in search, details, index, duplicates");
    console.log("screenshots: " + opt.shots);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`FAIL (${step}): ${e.message}`);
  process.exit(1);
});
