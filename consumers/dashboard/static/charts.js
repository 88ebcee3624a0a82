/* The two load charts, drawn with the vendored uPlot. */
"use strict";

const Charts = (() => {
  const COLORS = { pulls: "#2f6fde", pushes: "#e07a10", pulled: "#1e9e6a", pushed: "#a35ad8" };
  const HEIGHT = 240;
  const live = new Map();

  function widthOf(el) {
    return Math.max(320, el.clientWidth || el.parentElement.clientWidth - 32);
  }

  function bars() {
    return uPlot.paths.bars({ size: [0.7, 48], align: 0 });
  }

  function series(label, color, paths) {
    return { label, stroke: color, fill: color + "55", width: 1.5, paths, points: { show: false } };
  }

  function countAxis() {
    return { label: "requests", size: 56, values: (u, ticks) => ticks.map((t) => Format.count(t)) };
  }

  function bytesAxis() {
    return { label: "bytes", size: 72, values: (u, ticks) => ticks.map((t) => Format.bytes(t)) };
  }

  function options(kind, width) {
    const common = { width, height: HEIGHT, scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] } } };
    if (kind === "requests") {
      return { ...common, series: [{}, series("Pulls", COLORS.pulls, bars()), series("Pushes", COLORS.pushes, bars())], axes: [{}, countAxis()] };
    }
    return {
      ...common,
      series: [{}, series("Bytes pulled", COLORS.pulled), series("Bytes pushed", COLORS.pushed)],
      axes: [{}, bytesAxis()],
    };
  }

  function columns(points, kind) {
    const xs = points.map((p) => Date.parse(p.time) / 1000);
    if (kind === "requests") return [xs, points.map((p) => p.pulls), points.map((p) => p.pushes)];
    return [xs, points.map((p) => p.bytes_pulled), points.map((p) => p.bytes_pushed)];
  }

  /* Draw (or redraw) one chart; returns whether it had anything to show. */
  function draw(kind, el, points) {
    const old = live.get(kind);
    if (old) old.destroy();
    const data = columns(points, kind);
    const plot = new uPlot(options(kind, widthOf(el)), data, el);
    live.set(kind, plot);
    return data.slice(1).some((ys) => ys.some((y) => y > 0));
  }

  function resize() {
    for (const plot of live.values()) plot.setSize({ width: widthOf(plot.root.parentElement), height: HEIGHT });
  }

  window.addEventListener("resize", resize);
  return { draw };
})();
