// Line charts on a <canvas>: a title and a legend in a strip above the plot (never under a curve),
// axes with round ticks and units, a log or linear y chosen by the caller (a toggle), colours from
// the page's CSS variables (light and dark). No dependencies. Each chart's text boxes are kept in
// NNPlot.layout[canvas id] so tests can check that nothing leaves the canvas.
"use strict";

const NNPlot = (() => {
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const layout = {};

  // A canvas sized for the screen's pixel ratio; returns its 2-D context in CSS pixels.
  function context(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    return {g, w, h};
  }

  // The page's colours (style.css :root, switched by prefers-color-scheme).
  function theme() {
    const css = getComputedStyle(document.documentElement);
    const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    return {fg: v("--fg", "#222"), muted: v("--muted", "#555"), grid: v("--grid", "#ddd"), axis: v("--axis", "#888")};
  }

  // About n round tick values covering [lo, hi].
  function ticks(lo, hi, n) {
    const span = hi - lo || Math.abs(hi) || 1;
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  // Ticks of a log axis spanning 10^lo … 10^hi: the powers of ten, or 1-2-5 steps when fewer than two fit.
  function logTicks(lo, hi) {
    const out = [];
    for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
      for (const m of [1, 2, 5]) {
        const v = +(m * Math.pow(10, k)).toPrecision(6), e = Math.log10(v);
        if (e >= lo - 1e-9 && e <= hi + 1e-9) out.push([m, v]);
      }
    }
    const powers = out.filter(([m]) => m === 1);
    return (powers.length >= 2 ? powers : out).map(([, v]) => v);
  }

  function label(v) {
    const a = Math.abs(v);
    return a !== 0 && (a >= 1e4 || a < 1e-3) ? v.toExponential(0) : String(+v.toPrecision(3));
  }

  // Text at (x, y) with the given alignment, moved inside [0, w]; its box is recorded in `boxes`.
  function text(g, boxes, s, x, y, align, w) {
    const width = g.measureText(s).width;
    let left = align === "center" ? x - width / 2 : align === "right" ? x - width : x;
    left = Math.max(1, Math.min(w - width - 1, left));
    g.textAlign = "left";
    g.fillText(s, left, y);
    boxes.push({text: s, x0: left, x1: left + width, y0: y - 10, y1: y + 2});
    return width;
  }

  // series: [{name, color, points: [[x, y], ...]}]; opts: {title, xLabel, logY, yRange: [lo, hi]}.
  function lineChart(canvas, series, opts = {}) {
    const {g, w, h} = context(canvas);
    const c = theme();
    const boxes = [], legend = [];
    g.clearRect(0, 0, w, h);
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = c.fg;
    text(g, boxes, (opts.title || "") + (opts.logY ? " (log y)" : ""), 6, 12, "left", w);
    // legend: swatch + name, wrapped into as many lines as it needs, above the plot
    let lx = 6, ly = 27;
    series.forEach((s, i) => {
      if (!s.name) return;
      const width = 18 + g.measureText(s.name).width;
      if (lx + width > w - 4 && lx > 6) { lx = 6; ly += 14; }
      const color = s.color || PALETTE[i % PALETTE.length];
      g.strokeStyle = color; g.lineWidth = 2;
      g.beginPath(); g.moveTo(lx, ly - 4); g.lineTo(lx + 14, ly - 4); g.stroke();
      g.fillStyle = c.fg;
      text(g, legend, s.name, lx + 17, ly, "left", w);
      lx += width + 12;
    });
    const pad = {l: 48, r: 10, t: ly + 8, b: opts.xLabel ? 34 : 22};
    const plot = {x0: pad.l, y0: pad.t, x1: w - pad.r, y1: h - pad.b};
    layout[canvas.id] = {w, h, labels: boxes, legend, plot};
    const ty = (y) => (opts.logY ? Math.log10(y) : y);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const s of series) {
      for (const [x, y] of s.points) {
        if (y === null || !isFinite(y) || (opts.logY && y <= 0)) continue;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x);
        y0 = Math.min(y0, ty(y)); y1 = Math.max(y1, ty(y));
      }
    }
    g.strokeStyle = c.axis; g.lineWidth = 1;
    g.strokeRect(plot.x0, plot.y0, plot.x1 - plot.x0, plot.y1 - plot.y0);
    if (opts.xLabel) { g.fillStyle = c.muted; text(g, boxes, opts.xLabel, (plot.x0 + plot.x1) / 2, h - 4, "center", w); }
    if (!isFinite(x0)) return;
    if (opts.yRange) { // a fixed window: values beyond it are drawn at its edge
      const [lo, hi] = opts.yRange.map((v) => (opts.logY ? Math.log10(Math.max(v, 1e-12)) : v));
      y0 = Math.max(y0, lo); y1 = Math.min(y1, hi);
      if (y1 <= y0) { y0 = lo; y1 = hi; }
    }
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { const d = Math.abs(y0) * 0.2 || 0.5; y0 -= d; y1 += d; }
    const px = (x) => plot.x0 + ((x - x0) / (x1 - x0)) * (plot.x1 - plot.x0);
    const py = (y) => plot.y1 - ((ty(y) - y0) / (y1 - y0)) * (plot.y1 - plot.y0);
    g.strokeStyle = c.grid; g.fillStyle = c.muted;
    for (const v of opts.logY ? logTicks(y0, y1) : ticks(y0, y1, 4).filter((v) => v >= y0 && v <= y1)) {
      const yy = py(v);
      g.beginPath(); g.moveTo(plot.x0 + 1, yy); g.lineTo(plot.x1 - 1, yy); g.stroke();
      text(g, boxes, label(v), pad.l - 4, yy + 4, "right", w);
    }
    for (const v of ticks(x0, x1, 5).filter((v) => v >= x0 && v <= x1)) text(g, boxes, label(v), px(v), plot.y1 + 13, "center", w);
    g.save();
    g.beginPath(); g.rect(plot.x0, plot.y0, plot.x1 - plot.x0, plot.y1 - plot.y0); g.clip();
    series.forEach((s, i) => {
      g.strokeStyle = s.color || PALETTE[i % PALETTE.length]; g.lineWidth = 1.5;
      g.beginPath();
      let pen = false;
      for (const [x, y] of s.points) {
        if (y === null || !isFinite(y) || (opts.logY && y <= 0)) { pen = false; continue; }
        const yy = Math.max(plot.y0, Math.min(plot.y1, py(y)));
        if (pen) g.lineTo(px(x), yy); else g.moveTo(px(x), yy);
        pen = true;
      }
      g.stroke();
    });
    g.restore();
  }

  return {PALETTE, context, lineChart, layout, theme};
})();
