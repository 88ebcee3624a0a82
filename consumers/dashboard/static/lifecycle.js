/* The lifecycle view: one repository's tags, manifests, storage and load; the images nobody
   pulled lately; storage per repository; and the cleanup preview, whose plan an admin may
   apply. dashboard.js creates it with its table helpers and calls load() when the view is
   shown and whenever it reloads (live mode included). The server decides who may apply:
   the Apply button is only offered to admins (<meta name="role">). */
"use strict";

const Lifecycle = (() => {
  const SHOWN = 200; // rows of a plan's lists drawn; the summary counts them all

  function create({ $, getJson, fillTable, cell, repoCell, barCell, query, state, renderPicker }) {
    const csrf = $('meta[name="csrf-token"]').content;
    const isAdmin = $('meta[name="role"]').content === "admin";
    let plan = null;

    async function post(path, body, type) {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": type, Accept: "application/json", "X-CSRF-Token": csrf },
        body,
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.detail || `${response.status} ${response.statusText}`);
      return answer;
    }

    function pulled(item) {
      return item.last_pulled_at ? Format.when(item.last_pulled_at) : "never";
    }

    function renderRepository(body) {
      const tagged = body.storage.manifests - body.untagged;
      const more = body.tags.page.next_offset !== null || body.manifests.page.next_offset !== null;
      $("#repo-lifecycle-summary").textContent = `${Format.bytes(body.storage.bytes)} stored · ` +
        `${Format.plural(tagged, "tagged manifest")} · ${Format.count(body.untagged)} untagged` +
        (more ? ` · the ${body.tags.page.limit} latest tags and manifests shown` : "");
      $("#chart-repo-empty").hidden = Charts.draw("requests", $("#chart-repo"), body.series, "repo");
      fillTable($("#repo-tags"), body.tags.items, (t) => [
        cell(t.tag), cell(Format.digest(t.digest)), cell(Format.when(t.last_pushed_at), "when"),
        cell(t.pushed_by || "anonymous"), cell(pulled(t), "when"),
        cell(Format.count(t.pulls_7d.total), "num"), cell(Format.count(t.pulls_30d.total), "num"),
        cell(Format.count(t.pulls_90d.total), "num"),
      ]);
      fillTable($("#repo-manifests"), body.manifests.items, (m) => [
        cell(Format.digest(m.digest)), cell(m.tags.length ? m.tags.join(", ") : "untagged"), cell(m.kind),
        cell(Format.bytes(m.size), "num"), cell(Format.when(m.last_pushed_at), "when"), cell(pulled(m), "when"),
      ]);
    }

    function renderStale(page) {
      fillTable($("#stale"), page.items, (m) => [
        cell(Format.image({ repository: m.repository, tag: m.tags[0], digest: m.digest })),
        cell(Format.bytes(m.size), "num"), cell(pulled(m), "when"), cell(Format.when(m.last_pushed_at), "when"),
      ]);
    }

    function renderStorage(overview) {
      const max = Math.max(0, ...overview.items.map((r) => r.bytes));
      const total = overview.total;
      const growth = total.growth_per_day === null ? "" : `, ${Format.bytes(total.growth_per_day)} a day lately`;
      $("#storage-total").textContent = overview.as_of
        ? `${Format.bytes(total.bytes)} in the registry (blobs shared between repositories counted once)` +
          `${growth}; as of ${Format.when(overview.as_of)}.`
        : "";
      fillTable($("#storage"), overview.items, (r) => [
        repoCell(r.repository), barCell(r.bytes, max, Format.bytes(r.bytes)),
      ]);
    }

    async function load() {
      const name = state.repository;
      const [repos, repo, stale, storage] = await Promise.all([
        getJson("api/v1/repositories?limit=100"),
        name ? getJson(`api/v1/repositories/${name}/lifecycle?${query({ limit: 500 })}`) : null,
        getJson(`api/v1/lifecycle/stale?days=${state.stale}&limit=20`),
        getJson("api/v1/lifecycle/storage?limit=20"),
      ]);
      renderPicker(repos);
      $("#repo-lifecycle-name").textContent = name;
      $("#repo-lifecycle-pick").hidden = Boolean(name);
      $("#repo-lifecycle-body").hidden = !name;
      if (repo) renderRepository(repo);
      renderStale(stale);
      renderStorage(storage);
    }

    function image(item) {
      return Format.image({ repository: item.repository, digest: item.digest });
    }

    function renderPlan(found) {
      plan = found;
      const deleting = found.delete.length;
      $("#cleanup-summary").textContent = `${Format.plural(deleting, "manifest")} would be deleted, ` +
        `freeing ${Format.bytes(found.bytes_freed)}; ${Format.count(found.keep.length)} kept.`;
      fillTable($("#cleanup-delete"), found.delete.slice(0, SHOWN), (d) => [
        cell(image(d)), cell(d.tags.join(", ") || "untagged"), cell(d.reason), cell(Format.bytes(d.bytes_freed), "num"),
      ]);
      fillTable($("#cleanup-keep"), found.keep.slice(0, SHOWN), (k) => [
        cell(image(k)), cell(k.tags.join(", ") || "untagged"), cell(k.reason),
      ]);
      const apply = $("#cleanup-apply");
      apply.hidden = !isAdmin || deleting === 0;
      apply.disabled = false;
      apply.textContent = `Apply: delete ${Format.plural(deleting, "manifest")}`;
      $("#cleanup-applied").hidden = true;
      $("#cleanup-result").hidden = false;
    }

    function failed(error) {
      $("#cleanup-error").hidden = false;
      $("#cleanup-error").textContent = error.message;
    }

    async function previewPolicy(event) {
      event.preventDefault();
      $("#cleanup-error").hidden = true;
      try {
        renderPlan(await post("api/v1/lifecycle/cleanup/preview", $("#cleanup-policy").value, "application/yaml"));
      } catch (error) {
        $("#cleanup-result").hidden = true;
        failed(error);
      }
    }

    function appliedText(s) {
      const skipped = s.skipped.length ? `, ${Format.count(s.skipped.length)} skipped (changed since the preview)` : "";
      const failed = s.failed.length ? `, ${Format.count(s.failed.length)} failed: ${s.failed[0].error}` : "";
      return `Applied: ${Format.count(s.deleted)} deleted, ${Format.count(s.already_gone)} already gone${skipped}` +
        `${failed}. About ${Format.bytes(s.bytes_freed_planned)} is freed once the registry's garbage collection runs.`;
    }

    async function applyPlan() {
      if (!plan) return;
      const question = `Delete ${Format.plural(plan.delete.length, "manifest")} from the registry? ` +
        "This cannot be undone.";
      if (!window.confirm(question)) return;
      $("#cleanup-apply").disabled = true;
      $("#cleanup-error").hidden = true;
      try {
        // what it keeps is not needed to apply, and would make a large registry's plan too big
        const body = JSON.stringify({ ...plan, keep: [] });
        const summary = await post("api/v1/lifecycle/cleanup/apply", body, "application/json");
        $("#cleanup-applied").textContent = appliedText(summary);
        $("#cleanup-applied").hidden = false;
        $("#cleanup-apply").hidden = true;
      } catch (error) {
        $("#cleanup-apply").disabled = false;
        failed(error);
      }
    }

    $("#cleanup-form").addEventListener("submit", previewPolicy);
    $("#cleanup-apply").addEventListener("click", applyPlan);
    return { load };
  }

  return { create };
})();
