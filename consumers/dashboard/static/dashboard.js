/* The dashboard page: reads the JSON API, fills the tiles, charts and tables,
   keeps its state (view, range, repository, refresh, stale days) in the URL hash. When it
   reloads is live.js's business; the lifecycle view is lifecycle.js's. */
"use strict";

(() => {
  const RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"];
  const TOP = 10;
  const VIEWS = ["load", "lifecycle"];
  const STALE_DAYS = ["30", "90", "180", "365"];
  const state = { view: "load", range: "1h", repository: "", refresh: 0, until: "", stale: "90" };
  let loading = false;
  let again = false; // asked for while loading (another repository, say): load once more after

  const $ = (selector, root = document) => root.querySelector(selector);
  const seconds = (name) => Number($(`meta[name="${name}"]`).content) || 0;
  const live = Live.create({
    liveSeconds: seconds("live-seconds"),
    backstopSeconds: seconds("refresh-seconds"),
    reload: () => refresh(),
    changes: () => getJson("api/v1/changes"),
  });

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const byDefault = live.available ? "live" : seconds("refresh-seconds");
    const asked = params.get("refresh");
    state.view = VIEWS.includes(params.get("view")) ? params.get("view") : "load";
    state.stale = STALE_DAYS.includes(params.get("stale")) ? params.get("stale") : "90";
    state.range = RANGES.includes(params.get("range")) ? params.get("range") : "1h";
    state.repository = params.get("repository") || "";
    state.until = params.get("until") || "";
    if (asked === null || (asked === "live" && !live.available)) state.refresh = byDefault;
    else state.refresh = asked === "live" ? "live" : Number(asked) || 0;
  }

  /* The hash of the current state, with some of it changed. */
  function hashOf(changes) {
    const wanted = { ...state, ...changes };
    const params = new URLSearchParams({ range: wanted.range, refresh: String(wanted.refresh) });
    if (wanted.view !== "load") params.set("view", wanted.view);
    if (wanted.view === "lifecycle" && wanted.stale !== "90") params.set("stale", wanted.stale);
    if (wanted.repository) params.set("repository", wanted.repository);
    if (wanted.until) params.set("until", wanted.until);
    return "#" + params.toString();
  }

  function writeHash() {
    history.replaceState(null, "", hashOf({}));
  }

  function query(extra) {
    const params = new URLSearchParams({ range: state.range, ...extra });
    if (state.until) params.set("until", state.until);
    if (state.repository) params.set("repository", state.repository);
    return params.toString();
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (response.status === 401) {
      // signed out (the session ended, or its token was removed): sign in, then come back here
      location.assign(`signin?next=${encodeURIComponent(location.pathname + location.hash)}`);
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(`${path.split("?")[0]}: ${response.status} ${body.detail || response.statusText}`);
    }
    return response.json();
  }

  /* Text that may wrap only where Format.pieces says (after "/", ":", "@") or at spaces. */
  function breakable(text) {
    const span = document.createElement("span");
    Format.pieces(text).forEach((piece, i) => {
      if (i > 0) span.append(document.createElement("wbr"));
      span.append(piece);
    });
    return span;
  }

  function span(text) {
    const element = document.createElement("span");
    element.textContent = text;
    return element;
  }

  /* A cell: a name (no class) may wrap after "/", ":" and "@"; a number or a time
     (class "num", "when") stays on one line. */
  function cell(text, className) {
    const td = document.createElement("td");
    td.append(className ? span(text) : breakable(text));
    if (className) td.className = className;
    return td;
  }

  /* Rows of cells; each cell carries its column's name, which a narrow screen shows
     next to the value (the table stacks into one block per row). */
  function fillTable(section, items, toCells) {
    const body = $("tbody", section);
    const labels = [...section.querySelectorAll("thead th")].map((th) => th.textContent);
    body.replaceChildren(...items.map((item) => {
      const tr = document.createElement("tr");
      const cells = toCells(item);
      cells.forEach((td, i) => { td.dataset.label = labels[i] || ""; });
      tr.append(...cells);
      return tr;
    }));
    $(".empty", section).hidden = items.length > 0;
    $("table", section).hidden = items.length === 0;
  }

  /* A repository name that narrows the whole page to that repository. */
  function repoCell(name) {
    const td = cell("");
    const link = document.createElement("a");
    link.href = hashOf({ repository: name });
    link.append(breakable(name));
    link.title = `Show only ${name}`;
    td.append(link);
    return td;
  }

  function barCell(value, max, text) {
    const td = cell("", "num bar-cell");
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = `${max > 0 ? Math.round((100 * value) / max) : 0}%`;
    td.append(fill, span(text));
    return td;
  }

  function actionCell(action) {
    const td = cell("");
    const badge = document.createElement("span");
    badge.className = `action ${action}`;
    badge.textContent = action;
    td.append(badge);
    return td;
  }

  function setTile(name, value, sub) {
    $(`[data-tile="${name}"]`).textContent = value;
    $(`[data-tile="${name}-sub"]`).textContent = sub || "";
  }

  function renderSummary(s) {
    setTile("pulls", Format.count(s.pulls.requests), `${Format.count(s.pulls.manifest_gets)} image pulls · ${Format.count(s.pulls.heads)} HEAD`);
    setTile("pushes", Format.count(s.pushes.count), `${Format.plural(s.pushes.manifests, "manifest")} · ${Format.plural(s.pushes.blobs, "blob")}`);
    setTile("bytes", Format.bytes(s.pulls.bytes), `${Format.bytes(s.pushes.bytes)} pushed`);
    setTile("deletes", Format.count(s.deletes), Format.plural(s.mounts, "mount"));
    setTile("repositories", Format.count(s.repositories.total), `${Format.count(s.repositories.active)} pulled in range`);
  }

  function renderLoad(load) {
    const span = `${Format.when(load.window.since)} – ${Format.when(load.window.until)}`;
    for (const el of document.querySelectorAll("[data-step]")) el.textContent = `${Format.step(load.step)}, ${span}`;
    for (const kind of ["requests", "bytes"]) {
      const any = Charts.draw(kind, $(`#chart-${kind}`), load);
      $(`#chart-${kind}-empty`).hidden = any;
    }
    renderDown(load.pipeline_down || []);
  }

  /* The stretches where the pipeline was down, in words under the tiles. */
  function renderDown(down) {
    const note = $("#pipeline-down");
    note.hidden = down.length === 0;
    if (!down.length) return;
    const shown = down.slice(-3).map((d) => `${Format.stretch(d.since, d.until)} (${d.handlers.join(" and ")})`);
    const more = down.length > 3 ? ` and ${Format.plural(down.length - 3, "earlier stretch")}` : "";
    $("#pipeline-down-text").textContent = `${shown.join(", ")}${more}`;
  }

  function renderTopImages(page) {
    const max = Math.max(0, ...page.items.map((i) => i.manifest_gets));
    fillTable($("#top-images"), page.items, (i) => [
      repoCell(i.repository), barCell(i.manifest_gets, max, Format.count(i.manifest_gets)),
      cell(Format.count(i.requests), "num"), cell(Format.bytes(i.bytes), "num"),
    ]);
  }

  function renderTopClients(page) {
    fillTable($("#top-clients"), page.items, (c) => [
      cell(c.actor || "anonymous"), cell(c.addr || "–"), cell(c.useragent || "–"), cell(Format.count(c.requests), "num"),
    ]);
  }

  function renderPushes(page) {
    fillTable($("#recent-pushes"), page.items, (p) => [
      cell(Format.when(p.time), "when"), cell(Format.image({ ...p, digest: p.tag ? null : p.digest })),
      cell(Format.digest(p.digest)), cell(Format.bytes(p.size), "num"), cell(p.actor || "anonymous"),
    ]);
  }

  function auditTarget(a) {
    const base = Format.image(a);
    return a.from_repository ? `${base} (from ${a.from_repository})` : base;
  }

  function renderAudit(page) {
    fillTable($("#audit"), page.items, (a) => [
      cell(Format.when(a.time), "when"), actionCell(a.action), cell(auditTarget(a)),
      cell(a.actor || (a.action === "reconcile" ? `reconcile: ${a.kind}` : "anonymous")),
    ]);
  }

  function renderPicker(all) {
    const select = $("#repository");
    const names = all.items.map((r) => r.name);
    if (state.repository && !names.includes(state.repository)) names.unshift(state.repository);
    select.replaceChildren(new Option("all repositories", ""), ...names.map((n) => new Option(n, n)));
    select.value = state.repository;
  }

  function renderRepositories(all, shown) {
    renderPicker(all);
    fillTable($("#repositories"), shown.items, (r) => [
      repoCell(r.name), cell(Format.count(r.tags), "num"), cell(Format.bytes(r.size), "num"),
      cell(Format.when(r.last_pushed_at), "when"),
      cell(r.pulls_reported === false ? `not reported (${r.source})` : Format.count(r.image_pulls_24h), "num"),
    ]);
  }

  async function loadOverview() {
    const [summary, load, images, clients, pushes, audit, repos, shown] = await Promise.all([
      getJson(`api/v1/summary?${query({})}`),
      getJson(`api/v1/load?${query({})}`),
      getJson(`api/v1/top/images?${query({ limit: TOP })}`),
      getJson(`api/v1/top/clients?${query({ limit: TOP })}`),
      getJson(`api/v1/activity?${query({ action: "push", kind: "manifest", limit: TOP })}`),
      getJson(`api/v1/audit?${query({ limit: TOP })}`),
      getJson("api/v1/repositories?limit=100"),
      state.repository ? getJson(`api/v1/repositories?${query({})}`) : null,
    ]);
    renderSummary(summary);
    renderLoad(load);
    renderTopImages(images);
    renderTopClients(clients);
    renderPushes(pushes);
    renderAudit(audit);
    renderRepositories(repos, shown || repos);
  }

  const lifecycle = Lifecycle.create({ $, getJson, fillTable, cell, repoCell, barCell, query, state, renderPicker });

  async function refresh() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    const status = $("#status");
    const started = performance.now();
    try {
      const changes = await getJson("api/v1/changes"); // first: a change after it reloads again
      await (state.view === "lifecycle" ? lifecycle.load() : loadOverview());
      live.seen(changes.token, performance.now() - started);
      $("#error").hidden = true;
      status.className = "status";
      status.textContent = `updated ${Format.clock(new Date())}${live.mode === "live" ? " · live" : ""}`;
    } catch (error) {
      $("#error").hidden = false;
      $("#error").textContent = `Could not load the data: ${error.message}`;
      status.className = "status stale";
      status.textContent = "update failed";
    } finally {
      loading = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  function syncControls() {
    for (const button of document.querySelectorAll("#ranges button")) {
      button.setAttribute("aria-pressed", String(button.dataset.range === state.range));
    }
    for (const button of document.querySelectorAll("#views button")) {
      button.setAttribute("aria-pressed", String(button.dataset.view === state.view));
    }
    $("#load-view").hidden = state.view !== "load";
    $("#lifecycle-view").hidden = state.view !== "lifecycle";
    $("#stale-days").value = state.stale;
    const refreshSelect = $("#refresh");
    if (!live.available) refreshSelect.querySelector('option[value="live"]')?.remove();
    if (![...refreshSelect.options].some((o) => o.value === String(state.refresh))) {
      refreshSelect.append(new Option(`every ${state.refresh} s`, String(state.refresh)));
    }
    refreshSelect.value = String(state.refresh);
  }

  function changed() {
    writeHash();
    syncControls();
    live.set(state.refresh);
    refresh();
  }

  function bind() {
    $("#ranges").addEventListener("click", (event) => {
      const range = event.target.dataset && event.target.dataset.range;
      if (range) { state.range = range; changed(); }
    });
    $("#views").addEventListener("click", (event) => {
      const view = event.target.dataset && event.target.dataset.view;
      if (view) { state.view = view; changed(); }
    });
    $("#stale-days").addEventListener("change", (event) => { state.stale = event.target.value; changed(); });
    $("#repository").addEventListener("change", (event) => { state.repository = event.target.value; changed(); });
    $("#refresh").addEventListener("change", (event) => {
      state.refresh = event.target.value === "live" ? "live" : Number(event.target.value);
      changed();
    });
    window.addEventListener("hashchange", () => { readHash(); syncControls(); live.set(state.refresh); refresh(); });
  }

  readHash();
  $("#tz").textContent = Format.timeZone();
  bind();
  changed();
})();
