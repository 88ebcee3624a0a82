/* Formatting helpers shared by the charts and the tables (no DOM access). */
"use strict";

const Format = (() => {
  const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  const STEP_WORDS = { minute: "per minute", hour: "per hour", day: "per day" };

  function bytes(n) {
    if (n === null || n === undefined) return "–";
    let value = Number(n);
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
      value /= 1024;
      unit += 1;
    }
    const digits = unit === 0 || value >= 100 ? 0 : 1;
    return `${value.toFixed(digits)} ${UNITS[unit]}`;
  }

  function count(n) {
    if (n === null || n === undefined) return "–";
    return Number(n).toLocaleString("en-US");
  }

  /* Axis ticks for counts: whole numbers only. */
  function tick(n) {
    return Number.isInteger(n) ? count(n) : "";
  }

  function plural(n, word) {
    return `${count(n)} ${word}${Number(n) === 1 ? "" : "s"}`;
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function clock(date) {
    return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  /* "14:03:04" today, "28 Nov 14:03" on other days. */
  function when(iso) {
    if (!iso) return "–";
    const date = new Date(iso);
    const today = new Date();
    if (date.toDateString() === today.toDateString()) return clock(date);
    const month = date.toLocaleString("en-US", { month: "short" });
    return `${date.getDate()} ${month} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  function digest(d) {
    if (!d) return "";
    const [algo, hex] = d.includes(":") ? d.split(":", 2) : ["", d];
    return `${algo ? algo + ":" : ""}${hex.slice(0, 12)}`;
  }

  function image(item) {
    if (item.tag) return `${item.repository}:${item.tag}`;
    if (item.digest) return `${item.repository}@${digest(item.digest)}`;
    return item.repository;
  }

  /* Where a name may wrap: after "/", ":" and "@" ("demo/" + "hello", "sha256:" + hex),
     never inside a word. The page puts a <wbr> between the pieces. */
  function pieces(text) {
    return String(text).split(/(?<=[/:@])/);
  }

  function hoursMinutes(date) {
    return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  /* A stretch of whole minutes: "02:07–02:09" today, "28 Nov 23:58–00:03" on other days. */
  function stretch(since, until) {
    const start = new Date(since);
    const end = new Date(until);
    const day = start.toDateString() === new Date().toDateString()
      ? "" : `${start.getDate()} ${start.toLocaleString("en-US", { month: "short" })} `;
    const endDay = start.toDateString() === end.toDateString()
      ? "" : `${end.getDate()} ${end.toLocaleString("en-US", { month: "short" })} `;
    return `${day}${hoursMinutes(start)}–${endDay}${hoursMinutes(end)}`;
  }

  function step(name) {
    return STEP_WORDS[name] || "";
  }

  function timeZone() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
    const minutes = -new Date().getTimezoneOffset();
    const sign = minutes >= 0 ? "+" : "-";
    const abs = Math.abs(minutes);
    return `${zone} (UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)})`;
  }

  return { bytes, count, tick, plural, clock, when, stretch, digest, image, pieces, step, timeZone };
})();
