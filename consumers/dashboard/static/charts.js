/* The two load charts, drawn with the vendored uPlot.

   Both charts share one x scale, the window's buckets from the first start to the last
   end, and one left axis of the same width, so their plots line up bucket for bucket.
   Every value is a bar inside its own bucket (one minute of bytes is one bar, not a
   triangle across two minutes), the two series side by side on ONE y axis: their heights
   compare. Stretches where the pipeline was down (the API's `pipeline_down`) are shaded
   behind the bars, and their empty buckets are left out rather than drawn as zero. */
"use strict";

const Charts = (() => {
  const COLORS = { pulls: "#2f6fde", pushes: "#e07a10", pulled: "#1e9e6a", pushed: "#a35ad8" };
  const DOWN = { fill: "rgba(201, 58, 58, 0.10)", edge: "rgba(201, 58, 58, 0.55)" };
  const HEIGHT = 240;
  const AXIS = 72;
  const live = new Map();

  /* The chart's box, or its panel's content box while it is still hidden. */
  function widthOf(el) {
    if (el.clientWidth) return Math.max(200, el.clientWidth);
    const panel = el.parentElement;
    const style = getComputedStyle(panel);
    return Math.max(200, panel.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight));
  }

  /* Two bar series side by side in each bucket: the first left, the second right. */
  function bars(align) {
    return uPlot.paths.bars({ size: [0.4, 24, 1], align });
  }

  function series(label, color, align, format) {
    return {
      label, stroke: color, fill: color + "55", width: 1.5, points: { show: false }, paths: bars(align),
      value: (u, v) => (v === null || v === undefined ? "–" : format(v)),
    };
  }

  function axis(label, format) {
    return { label, size: AXIS, values: (u, ticks) => ticks.map(format) };
  }

  function fromZero(u, min, max) {
    return [0, Math.max(1, max) * 1.1];
  }

  const KINDS = {
    requests: {
      series: [["Pull requests", COLORS.pulls, "pulls"], ["Pushes", COLORS.pushes, "pushes"]],
      axis: axis("requests", Format.tick),
      format: Format.count,
    },
    bytes: {
      series: [["Bytes pulled", COLORS.pulled, "bytes_pulled"], ["Bytes pushed", COLORS.pushed, "bytes_pushed"]],
      axis: axis("bytes", (n) => (Number.isInteger(n) ? Format.bytes(n) : "")),
      format: Format.bytes,
    },
  };

  /* Bucket width in seconds (points are bucket starts, evenly spaced). */
  function stepOf(load) {
    const widths = { minute: 60, hour: 3600, day: 86400 };
    return widths[load.step] || 60;
  }

  function seconds(iso) {
    return Date.parse(iso) / 1000;
  }

  function downStretches(load) {
    return (load.pipeline_down || []).map((d) => [seconds(d.since), seconds(d.until)]);
  }

  /* Shade the stretches where the pipeline was down, behind grid and bars. */
  function shadeDown(stretches) {
    return (u) => {
      const { ctx } = u;
      const { top, height, left, width } = u.bbox;
      ctx.save();
      for (const [since, until] of stretches) {
        const x0 = Math.max(left, u.valToPos(since, "x", true));
        const x1 = Math.min(left + width, u.valToPos(until, "x", true));
        if (x1 <= x0) continue;
        ctx.fillStyle = DOWN.fill;
        ctx.fillRect(x0, top, x1 - x0, height);
        ctx.fillStyle = DOWN.edge;
        ctx.fillRect(x0, top, x1 - x0, 3 * (uPlot.pxRatio || 1));
      }
      ctx.restore();
    };
  }

  function options(kind, width, load) {
    const spec = KINDS[kind];
    const step = stepOf(load);
    const first = load.items.length ? seconds(load.items[0].time) : seconds(load.window.since);
    const last = load.items.length ? seconds(load.items[load.items.length - 1].time) + step : seconds(load.window.until);
    return {
      width, height: HEIGHT,
      legend: { live: true },
      cursor: { drag: { x: false } },
      scales: { x: { time: true, range: () => [first, last] }, y: { range: fromZero } },
      series: [{}, ...spec.series.map(([label, color], i) => series(label, color, i === 0 ? -1 : 1, spec.format))],
      axes: [{}, spec.axis],
      hooks: { drawClear: [shadeDown(downStretches(load))] },
    };
  }

  function isDown(x, step, stretches) {
    return stretches.some(([since, until]) => x - step / 2 >= since && x + step / 2 <= until);
  }

  /* Each value is drawn at its bucket's middle, so its bars sit inside the bucket; an empty
     bucket inside a down stretch is null (nothing was stored: unknown, not zero). */
  function columns(load, kind) {
    const step = stepOf(load);
    const stretches = downStretches(load);
    const xs = load.items.map((p) => seconds(p.time) + step / 2);
    const ys = KINDS[kind].series.map(([, , field]) => load.items.map((p, i) => (
      p[field] === 0 && isDown(xs[i], step, stretches) ? null : p[field]
    )));
    return [xs, ...ys];
  }

  function clear(key) {
    const old = live.get(key);
    if (old) old.destroy();
    live.delete(key);
  }

  /* Draw (or redraw) one chart of a kind when it has anything to show; returns whether it
     had. `key` names the chart when one kind is drawn in two places (the lifecycle view's). */
  function draw(kind, el, load, key = kind) {
    clear(key);
    const data = columns(load, kind);
    const any = data.slice(1).some((ys) => ys.some((y) => y > 0)) || downStretches(load).length > 0;
    el.hidden = !any;
    if (any) live.set(key, new uPlot(options(kind, widthOf(el), load), data, el));
    return any;
  }

  function resize() {
    for (const plot of live.values()) plot.setSize({ width: widthOf(plot.root.parentElement), height: HEIGHT });
  }

  window.addEventListener("resize", resize);
  return { draw };
})();
