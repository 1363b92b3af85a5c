// The playground page: forms generated from the server's parameter specs, trajectories and live
// training frames computed by the server, drawn here. `window.nnopt` exposes the state to tests.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = NNPlot.PALETTE;
const CLASS_RGB = [[245, 147, 34], [8, 119, 189]]; // class 0 orange, class 1 blue
const state = {
  schema: null, surfaces: {}, sid: null,
  traj: null, bg: null, frameTimes: [], anim: null, trajDone: false,
  train: null, boundaryDraws: 0, drawTimes: [], // ms per redraw of the train view
};
window.nnopt = state;

async function api(path, body) {
  const init = body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body)};
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({error: `${res.status} ${res.statusText}`}));
  if (!res.ok) throw Object.assign(new Error(data.error || res.statusText), {field: data.field});
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "testid") node.dataset.testid = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

// ---- forms generated from specs ------------------------------------------------------------------
// One labelled input for field `key` (spec: kind, choices, allowed, doc, default); `p` prefixes test ids.
function fieldInput(key, name, spec, value, p = "") {
  let input;
  if (spec.choices) {
    input = el("select");
    for (const c of spec.choices) input.append(el("option", {value: c}, c));
    input.value = value;
  } else if (spec.kind === "bool") {
    input = el("input", {type: "checkbox"});
    input.checked = value === "true";
  } else {
    input = el("input", {type: "text", value: value ?? ""});
  }
  input.dataset.field = key;
  input.dataset.testid = p + "field-" + key;
  input.title = spec.allowed + (spec.doc ? " — " + spec.doc : "");
  return el("label", {}, name, input, el("span", {class: "err", testid: p + "error-" + key}));
}

function valueOf(input) {
  return input.type === "checkbox" ? String(input.checked) : input.value;
}

function collect(root) {
  const out = {};
  for (const input of root.querySelectorAll("[data-field]")) out[input.dataset.field] = valueOf(input);
  return out;
}

// Fields of a spec into `box` (nested tables become their own fieldset); values by key or default.
// Advanced fields (torch's implementation options: fused, compile, foreach, ...) fold under one
// closed "torch options" box.
function renderFields(box, prefix, fields, values, p = "", skip = []) {
  const advanced = Object.entries(fields).filter(([name, spec]) => spec.advanced && !skip.includes(name));
  if (advanced.length) {
    const fold = el("details", {class: "advanced", testid: `${p}advanced-${prefix}`}, el("summary", {}, "torch options"));
    renderFields(fold, prefix, Object.fromEntries(advanced.map(([k, v]) => [k, {...v, advanced: false}])), values, p);
    renderFields(box, prefix, fields, values, p, [...skip, ...advanced.map(([k]) => k)]);
    box.append(fold);
    return;
  }
  for (const [name, spec] of Object.entries(fields)) {
    if (skip.includes(name)) continue;
    const key = prefix + "." + name;
    if (spec.fields) {
      const sub = el("fieldset", {}, el("legend", {}, name));
      renderFields(sub, key, spec.fields, values, p);
      box.append(sub);
    } else {
      box.append(fieldInput(key, name, spec, key in values ? values[key] : spec.default, p));
    }
  }
}

// A component section: a name select whose entry's fields are rebuilt when it changes.
function renderComponent(box, prefix, section, values, p = "", skip = []) {
  const fields = el("div");
  const desc = el("p", {class: "desc"});
  const nameBox = fieldInput(prefix + ".name", "name", {choices: section.choices, allowed: ""},
    values[prefix + ".name"] || section.choices[0], p);
  const select = nameBox.querySelector("select");
  // each entry's values as last shown (the recipe's own for its entry), so re-selecting one restores them
  const shown = {[select.value]: values};
  let current = select.value;
  const draw = (vals) => {
    const entry = section.entries[select.value];
    desc.textContent = entry.description;
    fields.replaceChildren();
    renderFields(fields, prefix, entry.fields, vals, p, skip);
  };
  select.addEventListener("change", () => {
    shown[current] = collect(fields);
    current = select.value;
    draw(shown[current] || {});
  });
  box.append(nameBox, desc, fields);
  draw(values);
}

function showError(err, root, p = "", general) {
  const key = err.field;
  const spot = key && root.querySelector(`[data-testid="${p}error-${CSS.escape(key)}"]`);
  if (spot) {
    spot.textContent = err.message;
    const input = root.querySelector(`[data-testid="${p}field-${CSS.escape(key)}"]`);
    if (input) input.classList.add("invalid");
    for (let d = spot.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
  }
  general.textContent = err.message;
}

function clearErrors(root, general) {
  for (const e of root.querySelectorAll(".err")) e.textContent = "";
  for (const e of root.querySelectorAll(".invalid")) e.classList.remove("invalid");
  general.textContent = "";
}

// ---- view 1: optimizer trajectories on 2-D functions ----------------------------------------------
const RUN_DEFAULTS = [["sgd", {lr: "0.05"}], ["momentum", {lr: "0.05", momentum: "0.9"}]];

function section(name) {
  return state.schema.sections.find((s) => s.name === name);
}

function addRun(optimizer, values = {}) {
  const runs = $("runs");
  const i = runs.children.length;
  const opt = section("optimizer");
  const box = el("fieldset", {class: "run", testid: `run-${i}`});
  box.style.borderLeftColor = COLORS[i % COLORS.length];
  box.append(el("legend", {}, `optimizer ${i + 1}`));
  const select = el("select", {testid: `traj-field-runs.${i}.optimizer`});
  for (const c of opt.choices) select.append(el("option", {value: c}, c));
  select.value = optimizer;
  select.dataset.run = i;
  const fields = el("div");
  const draw = (vals) => {
    fields.replaceChildren();
    const prefixed = Object.fromEntries(Object.entries(vals).map(([k, v]) => [`runs.${i}.${k}`, v]));
    renderFields(fields, `runs.${i}`, opt.entries[select.value].fields, prefixed, "traj-");
  };
  select.addEventListener("change", () => draw({}));
  const remove = el("button", {type: "button", testid: `traj-remove-${i}`}, "remove");
  remove.addEventListener("click", () => { box.remove(); renumberRuns(); });
  box.append(el("div", {class: "run-head"}, select, remove), el("span", {class: "err", testid: `traj-error-runs.${i}.name`}), fields,
    el("span", {class: "err", testid: `traj-error-runs.${i}`}));
  runs.append(box);
  draw(values);
}

function renumberRuns() {
  const kept = [...$("runs").children].map((box) => {
    const select = box.querySelector("select[data-run]");
    const vals = {};
    for (const input of box.querySelectorAll("[data-field]")) vals[input.dataset.field.split(".").pop()] = valueOf(input);
    return [select.value, vals];
  });
  $("runs").replaceChildren();
  for (const [o, v] of kept) addRun(o, v);
}

function trajRequest() {
  const view = $("view-surfaces");
  const runs = [...$("runs").children].map((box, i) => {
    const fields = {};
    for (const input of box.querySelectorAll("[data-field]")) fields[input.dataset.field.slice(`runs.${i}.`.length)] = valueOf(input);
    return {optimizer: box.querySelector("select[data-run]").value, fields};
  });
  const sched = {};
  for (const input of $("traj-schedule").querySelectorAll("[data-field]")) {
    if (input.dataset.field !== "schedule.name") sched[input.dataset.field.slice("schedule.".length)] = valueOf(input);
  }
  return {surface: $("surface-select").value, steps: $("traj-steps").value, start: $("traj-start").value,
    noise: $("traj-noise").value, runs,
    schedule: {name: view.querySelector('[data-field="schedule.name"]').value, fields: sched}};
}

async function runTrajectories() {
  const view = $("view-surfaces");
  clearErrors(view, $("traj-error"));
  cancelAnimationFrame(state.anim);
  state.trajDone = false;
  try {
    const req = trajRequest();
    const [data] = await Promise.all([api("/api/trajectories", req), loadBackground(req.surface)]);
    state.traj = data;
    state.frameTimes = [];
    showLab($("traj-lab"), data.lab);
    animate();
  } catch (err) {
    showError(err, view, "traj-", $("traj-error"));
  }
}

function loadBackground(name) {
  if (state.bg && state.bg.name === name) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => img.decode().then(() => { state.bg = {name, img}; resolve(); }, reject); // decoded before frame 1
    img.onerror = () => reject(new Error(`contour image of ${name} did not load`));
    img.src = `/api/surfaces/${name}.png`;
  });
}

function animate() {
  const length = Math.max(...state.traj.runs.map((r) => r.points.length));
  const per = Math.max(1, Math.ceil(length / 120)); // about two seconds at 60 frames/s
  let k = 1;
  const tick = () => {
    k = Math.min(length, k + per);
    drawTrajectories(k);
    if (k < length) state.anim = requestAnimationFrame(tick);
    else state.trajDone = true;
  };
  drawTrajectories(1);
  state.anim = requestAnimationFrame(tick);
}

// The contours of surface s with its known minima; returns the context and the θ → pixel maps.
function drawSurface(s) {
  const {g, w, h} = NNPlot.context($("traj-canvas"));
  const clamp = (v) => Math.max(-1e4, Math.min(1e4, v));
  const px = (x) => clamp(((x - s.xlim[0]) / (s.xlim[1] - s.xlim[0])) * w);
  const py = (y) => clamp(h - ((y - s.ylim[0]) / (s.ylim[1] - s.ylim[0])) * h);
  g.clearRect(0, 0, w, h);
  g.drawImage(state.bg.img, 0, 0, w, h);
  g.font = "14px system-ui, sans-serif";
  g.fillStyle = "#c90";
  for (const [x, y] of s.minima) g.fillText("★", px(x) - 6, py(y) + 5);
  g.font = "11px system-ui, sans-serif";
  label(g, `x ∈ [${s.xlim}], y ∈ [${s.ylim}]`, 8, h - 8, "#222");
  return {g, px, py};
}

// Text on the contour image, on a white box so any colour stays readable.
function label(g, text, x, y, color) {
  const w = g.measureText(text).width;
  g.fillStyle = "rgba(255, 255, 255, 0.85)";
  g.fillRect(x - 3, y - 11, w + 6, 15);
  g.fillStyle = color;
  g.fillText(text, x, y);
}

// One frame of the 2-D view: contours, the first k iterates of every run, and loss vs step.
function drawTrajectories(k) {
  const t0 = performance.now();
  const s = state.surfaces[state.traj.surface];
  const {g, px, py} = drawSurface(s);
  state.traj.runs.forEach((run, i) => {
    const pts = run.points.slice(0, k);
    g.strokeStyle = g.fillStyle = COLORS[i % COLORS.length];
    g.lineWidth = 2;
    g.beginPath();
    pts.forEach(([x, y], j) => (j ? g.lineTo(px(x), py(y)) : g.moveTo(px(x), py(y))));
    g.stroke();
    g.beginPath(); g.arc(px(pts[0][0]), py(pts[0][1]), 5, 0, 2 * Math.PI); g.stroke();
    const [cx, cy] = pts[pts.length - 1];
    g.beginPath(); g.arc(px(cx), py(cy), 4, 0, 2 * Math.PI); g.fill();
    g.font = "bold 12px system-ui, sans-serif";
    label(g, run.optimizer, 8, 18 + 17 * i, COLORS[i % COLORS.length]);
    if (run.diverged) label(g, "diverged", 14 + g.measureText(run.optimizer).width, 18 + 17 * i, "#b00020");
    g.font = "11px system-ui, sans-serif";
  });
  NNPlot.lineChart($("traj-loss"), state.traj.runs.map((run, i) => ({
    name: run.optimizer + (run.diverged ? " (diverged)" : ""), color: COLORS[i % COLORS.length],
    points: run.losses.slice(0, k).map((v, j) => [j, v]),
  })), {title: "f(θ_t), clipped to f's range over the view", xLabel: "step t", logY: trajLog(s), yRange: s.zlim});
  state.frameTimes.push(performance.now() - t0);
}

// Log y for f only where the toggle asks and f > 0 over the whole view (the surface decides, not a frame).
function trajLog(s) {
  return $("traj-log").checked && s.zlim[0] > 0;
}

// The chosen function's formula and contours, shown before any run.
function showSurface() {
  const s = state.surfaces[$("surface-select").value];
  $("traj-log").disabled = !(s.zlim[0] > 0);
  $("traj-log").parentElement.title = s.zlim[0] > 0 ? "" : "f takes values ≤ 0 on this view: linear only";
  $("surface-formula").textContent = `f = ${s.formula}   (default start ${s.start.map((v) => +v.toPrecision(3))})`;
  cancelAnimationFrame(state.anim);
  loadBackground(s.name).then(() => drawSurface(s), (err) => { $("traj-error").textContent = err.message; });
}

function initSurfaces(list) {
  for (const s of list) {
    state.surfaces[s.name] = s;
    $("surface-select").append(el("option", {value: s.name}, s.name));
  }
  $("surface-select").addEventListener("change", showSurface);
  showSurface();
  const sched = section("schedule");
  renderComponent($("traj-schedule"), "schedule", sched, {"schedule.name": "constant"}, "traj-", sched.extra);
  for (const [o, v] of RUN_DEFAULTS) addRun(o, v);
  $("add-run").addEventListener("click", () => addRun("adam", {lr: "0.05"}));
  $("traj-run").addEventListener("click", runTrajectories);
  $("traj-log").addEventListener("change", () => { if (state.traj && state.trajDone) drawTrajectories(Infinity); });
}

// ---- view 2: a network training live ------------------------------------------------------------
const OPEN_SECTIONS = ["data", "model", "optimizer", "penalty", "regularization", "train"];

function initTrainForm() {
  const form = $("recipe-form");
  const values = state.schema.defaults;
  for (const sec of state.schema.sections) {
    const box = el("details", {testid: "section-" + sec.name}, el("summary", {}, sec.name));
    box.open = OPEN_SECTIONS.includes(sec.name);
    if (sec.component) renderComponent(box, sec.name, sec, values);
    else renderFields(box, sec.name, sec.fields, values);
    form.append(box);
  }
  form.addEventListener("submit", (e) => e.preventDefault());
  for (const kind of ["input", "change"]) form.addEventListener(kind, clearExport); // the export no longer matches
  form.addEventListener("change", () => { if (state.train.status === "idle") drawTrain(); });
  $("train-speed").addEventListener("change", () => api(`/api/sessions/${state.sid}/speed`, {speed: $("train-speed").value})
    .catch((err) => { $("form-error").textContent = err.message; }));
  $("loss-log").addEventListener("change", drawTrain);
  $("copy-recipe").addEventListener("click", () => copy($("recipe-toml").textContent, $("copy-recipe")));
  $("download-recipe").addEventListener("click", downloadRecipe);
  $("train-start").addEventListener("click", () => control("start"));
  $("train-pause").addEventListener("click", () => control("pause"));
  $("train-step").addEventListener("click", () => control("step"));
  $("train-reset").addEventListener("click", () => control("reset"));
  $("export-recipe").addEventListener("click", exportRecipe);
}

function freshTrain() {
  return {status: "idle", step: 0, epoch: 0, epochs: 0, frames: 0, arrivals: [], loss: [], lr: [],
    layers: [], norms: [], records: [], boundary: null, verdict: null};
}

function clearExport() {
  $("recipe-toml").textContent = "";
  $("lab-links").replaceChildren();
  $("export").classList.add("hidden");
}

// Text to the clipboard; the button says whether it worked.
async function copy(text, button) {
  const was = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "copied";
  } catch (err) {
    button.textContent = "select and copy by hand";
  }
  setTimeout(() => { button.textContent = was; }, 1500);
}

function downloadRecipe() {
  const link = el("a", {href: URL.createObjectURL(new Blob([$("recipe-toml").textContent], {type: "application/toml"})),
    download: "recipe.toml"});
  document.body.append(link);
  link.click();
  link.remove();
}

async function control(action) {
  const form = $("recipe-form");
  clearErrors(form, $("form-error"));
  const needsForm = (action === "start" || action === "step") && !["running", "paused"].includes(state.train.status);
  try {
    if (action === "reset") { state.train = freshTrain(); clearExport(); drawTrain(); }
    if (needsForm) await api(`/api/sessions/${state.sid}/speed`, {speed: $("train-speed").value});
    await api(`/api/sessions/${state.sid}/${action}`, needsForm ? {values: collect(form)} : {});
  } catch (err) {
    showError(err, form, "", $("form-error"));
  }
}

async function exportRecipe() {
  const form = $("recipe-form");
  clearErrors(form, $("form-error"));
  try {
    const out = await api("/api/export", {values: collect(form)});
    $("recipe-toml").textContent = out.toml;
    showLab($("lab-links"), out.lab);
    $("export").classList.remove("hidden");
  } catch (err) {
    showError(err, form, "", $("form-error"));
  }
}

// "open in lab": the experiments of `nnopt lab` about the techniques in use, each command copyable.
function showLab(box, links) {
  box.replaceChildren(...(links.length ? links.map((x) => {
    const button = el("button", {type: "button", class: "small", testid: `copy-lab-${x.name}`}, "copy");
    button.addEventListener("click", () => copy(x.command, button));
    return el("p", {class: "lab"}, "open in lab: ", el("code", {}, x.command), " ", button, " — " + x.claim);
  }) : [el("p", {class: "desc"}, "no lab experiment matches these choices (nnopt lab list shows them all)")]));
}

function onMessage(m) {
  const t = state.train;
  if (m.type === "hello") {
    state.sid = m.sid;
    $("connection").textContent = "connected";
  } else if (m.type === "state") {
    t.status = m.state;
    t.verdict = m.verdict || null;
    if (m.error) $("form-error").textContent = m.error;
  } else if (m.type === "start") {
    state.train = Object.assign(freshTrain(), {status: t.status, epochs: m.epochs, layers: m.layers,
      norms: m.layers.map(() => []), boundary: m.boundary});
  } else if (m.type === "frame") {
    t.frames += 1;
    t.arrivals.push(performance.now());
    t.step = m.step;
    if (m.epoch !== undefined) t.epoch = m.epoch;
    if (m.loss !== undefined) {
      t.loss.push([m.step, m.loss]);
      t.lr.push([m.step, m.lr]);
      m.layers.forEach((v, i) => t.norms[i].push([m.step, v]));
    }
    t.records.push(...m.epochs);
    if (m.boundary && t.boundary) t.boundary.probs = m.boundary;
  }
  const t0 = performance.now();
  drawTrain();
  state.drawTimes.push(performance.now() - t0);
}

function drawTrain() {
  const t = state.train;
  const last = t.records[t.records.length - 1];
  $("train-status").textContent = `${t.status} — step ${t.step}` + (t.epochs ? `, epoch ${Math.min(Math.floor(t.epoch), t.epochs)}/${t.epochs}` : "") +
    (last && last.val_acc != null ? `, val acc ${last.val_acc.toFixed(3)}` : "");
  $("train-verdict").textContent = t.verdict || "";
  const log = $("loss-log").checked;
  NNPlot.lineChart($("plot-loss"), [
    {name: "train (step)", color: "#9ecae1", points: t.loss},
    {name: "train (epoch)", color: COLORS[0], points: t.records.map((r) => [r.step, r.train_loss])},
    {name: "val", color: COLORS[1], points: t.records.map((r) => [r.step, r.val_loss])},
  ], {title: "loss", xLabel: "step", logY: log});
  NNPlot.lineChart($("plot-acc"), [
    {name: "train", color: COLORS[0], points: t.records.map((r) => [r.epoch, r.train_acc])},
    {name: "val", color: COLORS[1], points: t.records.map((r) => [r.epoch, r.val_acc])},
  ], {title: "accuracy", xLabel: "epoch"});
  NNPlot.lineChart($("plot-lr"), [{name: "lr", points: t.lr}], {title: "learning rate", xLabel: "step"});
  NNPlot.lineChart($("plot-gradnorms"), t.layers.map((name, i) => ({name, points: t.norms[i]})),
    {title: "gradient 2-norm per layer", xLabel: "step", logY: log});
  drawBoundary(t.boundary);
}

// P(class 1) on the server's grid as an image, the training points on top.
function drawBoundary(b) {
  const data = $("recipe-form").querySelector('[data-field="data.name"]');
  const twoD = b || (data && state.schema.datasets_2d.includes(data.value));
  $("boundary-box").classList.toggle("hidden", !twoD); // 2-D data sets only: no empty box on digits
  if (!b) return;
  const {g, w, h} = NNPlot.context($("plot-boundary"));
  g.clearRect(0, 0, w, h);
  if (b.probs) {
    const n = b.grid, img = new ImageData(n, n);
    b.probs.forEach((p, i) => {
      const q = p / 255;
      for (let c = 0; c < 3; c++) img.data[4 * i + c] = 255 - (255 - (q * CLASS_RGB[1][c] + (1 - q) * CLASS_RGB[0][c])) * 0.55;
      img.data[4 * i + 3] = 255;
    });
    const off = document.createElement("canvas");
    off.width = off.height = n;
    off.getContext("2d").putImageData(img, 0, 0);
    g.imageSmoothingEnabled = true;
    g.drawImage(off, 0, 0, w, h);
    state.boundaryDraws += 1;
  }
  const [x0, x1, y0, y1] = b.box;
  for (const [x, y, c] of b.points) {
    g.beginPath();
    g.arc(((x - x0) / (x1 - x0)) * w, h - ((y - y0) / (y1 - y0)) * h, 2.5, 0, 2 * Math.PI);
    g.fillStyle = `rgb(${CLASS_RGB[c]})`;
    g.fill();
    g.strokeStyle = "#fff"; g.lineWidth = 0.8; g.stroke();
  }
}

function connect() {
  const source = new EventSource("/api/events");
  source.onmessage = (e) => onMessage(JSON.parse(e.data));
  source.onerror = () => { $("connection").textContent = "disconnected (reconnecting…)"; };
  state.source = source;
}

// ---- start -------------------------------------------------------------------------------------
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
    for (const v of document.querySelectorAll(".view")) v.classList.toggle("hidden", v.id !== "view-" + tab.dataset.view);
    if (tab.dataset.view === "train") drawTrain();
  });
}

(async () => {
  state.train = freshTrain();
  const [schema, surfaces] = await Promise.all([api("/api/schema"), api("/api/surfaces")]);
  state.schema = schema;
  initSurfaces(surfaces);
  initTrainForm();
  connect();
  document.body.dataset.ready = "true";
})();
