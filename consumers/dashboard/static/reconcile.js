/* The "Gaps and reconcile" section: registry restarts seen in the events (events pending then
   may be lost), the last reconcile pass and what it repaired. Reads /api/v1/gaps and
   /api/v1/reconcile on load and at the page's refresh interval. */
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function rows(table, items, toCells) {
    $(`${table} tbody`).replaceChildren(...items.map((item) => {
      const tr = document.createElement("tr");
      tr.append(...toCells(item));
      return tr;
    }));
    $(table).hidden = items.length === 0;
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  function repairsText(repairs) {
    const parts = Object.entries(repairs || {}).filter(([, n]) => n > 0).map(([kind, n]) => `${n} ${kind.replace("_", " ")}`);
    return parts.length ? parts.join(", ") : "nothing to repair";
  }

  function renderPass(status) {
    const line = $("#reconcile-last");
    const last = status.last_pass;
    const running = status.running ? ` A pass is running (started ${Format.when(status.running.started_at)}).` : "";
    line.className = "reconcile-summary" + (last && last.status !== "ok" ? " failed" : "");
    if (!last) {
      line.textContent = `No reconcile pass has ended yet.${running}`;
    } else {
      const what = last.status === "ok" ? repairsText(last.repairs) : `${last.status}: ${last.error || ""}`;
      line.textContent = `Last reconcile pass ${Format.when(last.finished_at)} (${last.trigger}): ` +
        `${Format.count(last.repositories)} repositories, ${Format.count(last.tags)} tags; ${what}.${running}`;
    }
    rows("#reconcile-repairs", status.repairs || [], (r) => [
      cell(Format.when(r.recorded_at), "when"), cell(r.kind.replace("_", " ")), cell(Format.image(r)),
    ]);
    $("#pulls-note").textContent = status.pulls_note;
  }

  function renderGaps(gaps) {
    rows("#restarts", gaps.items, (g) => [
      cell(Format.when(g.time), "when"), cell(g.addr || "(unknown)"),
      cell(`Registry restarted: ${g.note}`, "gap"),
      cell(g.reconciled_by ? `yes, ${Format.when(g.reconciled_by.finished_at)}` : "not yet"),
    ]);
    $("#restarts-empty").hidden = gaps.items.length > 0;
  }

  async function refresh() {
    try {
      const [gaps, status] = await Promise.all([getJson("api/v1/gaps?limit=20"), getJson("api/v1/reconcile")]);
      renderGaps(gaps);
      renderPass(status);
    } catch (error) {
      $("#reconcile-last").textContent = `Could not load the reconcile state: ${error.message}`;
    }
  }

  const seconds = Number($('meta[name="refresh-seconds"]').content) || 0;
  refresh();
  if (seconds > 0) setInterval(refresh, seconds * 1000);
})();
