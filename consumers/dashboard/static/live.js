/* When the page reloads its data.

   - "live" (the default): while the tab is visible, ask api/v1/changes every few seconds
     (REGBRIDGE_DASHBOARD_LIVE_SECONDS; two index lookups in the store) and reload as soon
     as its token moves, i.e. a consumer stored a batch or came back up; and reload every
     REGBRIDGE_DASHBOARD_REFRESH_SECONDS anyway, so a window relative to now keeps moving.
     A busy registry changes the token at every check: then the page reloads at most once
     per ten times its last reload took (a 7-day view that takes 0.4 s: every 4 s), so one
     viewer keeps the store busy a tenth of the time at most.
   - a number of seconds: reload that often while the tab is visible;
   - 0: never by itself.
   Nothing runs while the tab is hidden; showing it again reloads at once. */
"use strict";

const Live = (() => {
  function create({ liveSeconds, backstopSeconds, reload, changes }) {
    let mode = 0;
    let timers = [];
    let token = null;
    let checking = false;
    let failing = false; // the last check failed: reload once, then again when it answers
    let loadedAt = 0; // when the data was last loaded (performance.now(), ms)
    let took = 0; // and how long that took

    function stop() {
      for (const timer of timers) clearInterval(timer);
      timers = [];
    }

    async function check() {
      if (checking) return;
      checking = true;
      try {
        const latest = await changes();
        const rested = performance.now() - loadedAt >= 10 * took;
        if ((latest.token !== token && rested) || failing) {
          failing = false;
          await reload();
        }
      } catch (error) {
        if (!failing) await reload(); // it fails too, and says why on the page
        failing = true;
      } finally {
        checking = false;
      }
    }

    function start() {
      stop();
      if (document.hidden) return;
      if (mode === "live") {
        timers.push(setInterval(check, liveSeconds * 1000));
        if (backstopSeconds > 0) timers.push(setInterval(reload, backstopSeconds * 1000));
      } else if (mode > 0) {
        timers.push(setInterval(reload, mode * 1000));
      }
    }

    document.addEventListener("visibilitychange", () => {
      start();
      if (!document.hidden && mode !== 0) reload();
    });

    return {
      available: liveSeconds > 0,
      /* "live", or seconds between reloads (0: none). */
      set(newMode) {
        mode = newMode === "live" && liveSeconds <= 0 ? backstopSeconds : newMode;
        start();
      },
      get mode() {
        return mode;
      },
      /* The token of the data just loaded, and how long loading it took (ms). */
      seen(newToken, tookMs) {
        token = newToken;
        took = tookMs;
        loadedAt = performance.now();
      },
    };
  }

  return { create };
})();
