// Line charts on a <canvas>: axes with ticks, optional log y, a legend. No dependencies.
"use strict";

const NNPlot = (() => {
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

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

  // About n round tick values covering [lo, hi].
  function ticks(lo, hi, n) {
    const span = hi - lo || Math.abs(hi) || 1;
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  function label(v) {
    const a = Math.abs(v);
    return a !== 0 && (a >= 1e4 || a < 1e-3) ? v.toExponential(0) : String(+v.toPrecision(3));
  }

  // series: [{name, color, points: [[x, y], ...]}]; opts: {title, logY, yRange: [lo, hi]}.
  function lineChart(canvas, series, opts = {}) {
    const {g, w, h} = context(canvas);
    const pad = {l: 46, r: 8, t: 18, b: 22};
    g.clearRect(0, 0, w, h);
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#222";
    g.fillText(opts.title || "", pad.l, 12);
    const ty = (y) => (opts.logY ? Math.log10(y) : y);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const s of series) {
      for (const [x, y] of s.points) {
        if (y === null || !isFinite(y) || (opts.logY && y <= 0)) continue;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x);
        y0 = Math.min(y0, ty(y)); y1 = Math.max(y1, ty(y));
      }
    }
    if (!isFinite(x0)) return;
    if (opts.yRange) { // a fixed window: values beyond it are drawn at its edge
      const [lo, hi] = opts.yRange.map((v) => (opts.logY ? Math.log10(Math.max(v, 1e-12)) : v));
      y0 = Math.max(y0, lo); y1 = Math.min(y1, hi);
      if (y1 <= y0) { y0 = lo; y1 = hi; }
    }
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { const d = Math.abs(y0) * 0.2 || 0.5; y0 -= d; y1 += d; }
    const px = (x) => pad.l + ((x - x0) / (x1 - x0)) * (w - pad.l - pad.r);
    const py = (y) => h - pad.b - ((ty(y) - y0) / (y1 - y0)) * (h - pad.t - pad.b);
    g.strokeStyle = "#ccc"; g.lineWidth = 1; g.fillStyle = "#555";
    g.textAlign = "right";
    const yt = opts.logY ? ticks(Math.floor(y0), Math.ceil(y1), 4).filter((v) => v >= y0 && v <= y1 && Number.isInteger(v))
      : ticks(y0, y1, 4).filter((v) => v >= y0 && v <= y1);
    for (const v of yt) {
      const yy = py(opts.logY ? Math.pow(10, v) : v);
      g.beginPath(); g.moveTo(pad.l, yy); g.lineTo(w - pad.r, yy); g.stroke();
      g.fillText(opts.logY ? "1e" + v : label(v), pad.l - 4, yy + 4);
    }
    g.textAlign = "center";
    for (const v of ticks(x0, x1, 5).filter((v) => v >= x0 && v <= x1)) g.fillText(label(v), px(v), h - 6);
    g.textAlign = "left";
    g.strokeStyle = "#888";
    g.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
    let lx = pad.l + 6;
    series.forEach((s, i) => {
      const color = s.color || PALETTE[i % PALETTE.length];
      g.strokeStyle = color; g.lineWidth = 1.5;
      g.beginPath();
      let pen = false;
      for (const [x, y] of s.points) {
        if (y === null || !isFinite(y) || (opts.logY && y <= 0)) { pen = false; continue; }
        const yy = Math.max(pad.t, Math.min(h - pad.b, py(y)));
        if (pen) g.lineTo(px(x), yy); else g.moveTo(px(x), yy);
        pen = true;
      }
      g.stroke();
      if (s.name) {
        g.fillStyle = color;
        g.fillText(s.name, lx, pad.t + 12);
        lx += g.measureText(s.name).width + 10;
      }
    });
  }

  return {PALETTE, context, lineChart};
})();
