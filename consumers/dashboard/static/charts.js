/* The two load charts, drawn with the vendored uPlot. */
"use strict";

const Charts = (() => {
  const COLORS = { pulls: "#2f6fde", pushes: "#e07a10", pulled: "#1e9e6a", pushed: "#a35ad8" };
  const HEIGHT = 240;
  const live = new Map();

  function widthOf(el) {
    return Math.max(320, el.clientWidth || el.parentElement.clientWidth - 32);
  }

  /* Two bar series side by side in each bucket: pulls left, pushes right. */
  function bars(align) {
    return uPlot.paths.bars({ size: [0.4, 24], align });
  }

  function series(label, color, extra) {
    return { label, stroke: color, fill: color + "55", width: 1.5, points: { show: false }, ...extra };
  }

  function axis(label, format, extra) {
    return { label, size: 72, values: (u, ticks) => ticks.map(format), ...extra };
  }

  function fromZero(u, min, max) {
    return [0, Math.max(1, max) * 1.1];
  }

  function options(kind, width, step) {
    const x = { time: true, range: (u, min, max) => [min - step / 2, max + step / 2] };
    const common = { width, height: HEIGHT, legend: { live: false }, cursor: { drag: { x: false } } };
    if (kind === "requests") {
      return {
        ...common,
        scales: { x, y: { range: fromZero }, pushes: { range: fromZero } },
        series: [
          {},
          series("Pull requests", COLORS.pulls, { paths: bars(-1) }),
          series("Pushes (right axis)", COLORS.pushes, { paths: bars(1), scale: "pushes" }),
        ],
        axes: [
          {},
          axis("pull requests", Format.tick, { stroke: COLORS.pulls }),
          axis("pushes", Format.tick, { scale: "pushes", side: 1, grid: { show: false }, stroke: COLORS.pushes }),
        ],
      };
    }
    return {
      ...common,
      scales: { x, y: { range: fromZero } },
      series: [{}, series("Bytes pulled", COLORS.pulled), series("Bytes pushed", COLORS.pushed)],
      axes: [{}, axis("bytes", (n) => (Number.isInteger(n) ? Format.bytes(n) : ""))],
    };
  }

  /* Bucket width in seconds (points are bucket starts, evenly spaced). */
  function stepOf(points) {
    return points.length > 1 ? (Date.parse(points[1].time) - Date.parse(points[0].time)) / 1000 : 60;
  }

  /* Each value is drawn at its bucket's middle, so its bars sit inside the bucket. */
  function columns(points, kind) {
    const half = stepOf(points) / 2;
    const xs = points.map((p) => Date.parse(p.time) / 1000 + half);
    if (kind === "requests") return [xs, points.map((p) => p.pulls), points.map((p) => p.pushes)];
    return [xs, points.map((p) => p.bytes_pulled), points.map((p) => p.bytes_pushed)];
  }

  function clear(kind) {
    const old = live.get(kind);
    if (old) old.destroy();
    live.delete(kind);
  }

  /* Draw (or redraw) one chart when it has anything to show; returns whether it had. */
  function draw(kind, el, points) {
    clear(kind);
    const data = columns(points, kind);
    const any = data.slice(1).some((ys) => ys.some((y) => y > 0));
    el.hidden = !any;
    if (any) live.set(kind, new uPlot(options(kind, widthOf(el), stepOf(points)), data, el));
    return any;
  }

  function resize() {
    for (const plot of live.values()) plot.setSize({ width: widthOf(plot.root.parentElement), height: HEIGHT });
  }

  window.addEventListener("resize", resize);
  return { draw };
})();
