// initlab playground: plain JavaScript, no build step, no network beyond this server.
// The server trains (initlab.engine); this page sends the configuration, plays the
// server-sent-event stream of frames and draws them on canvases.
"use strict";

const COLORS = [[245, 158, 11], [59, 130, 246], [16, 185, 129], [168, 85, 247],
  [239, 68, 68], [20, 184, 166], [234, 179, 8], [100, 116, 139]];
const rgb = (c, a = 1) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;
const $ = (id) => document.getElementById(id);
const ICON_PLAY = '<svg viewBox="0 0 24 24" width="20" height="20"><path d="M7 4.5l13 7.5-13 7.5z" fill="currentColor"/></svg>';
const ICON_PAUSE = '<svg viewBox="0 0 24 24" width="20" height="20"><rect x="6" y="5" width="4" height="14" rx="1" fill="currentColor"/><rect x="14" y="5" width="4" height="14" rx="1" fill="currentColor"/></svg>';
const layerColor = (l) => `hsl(${(l * 67 + 210) % 360}, 65%, 45%)`;
// the optimizer hyperparameters: the run schema's fields that belong to an optimizer
const hyperNames = () => state.options.fields.filter((f) => f.owner === "optimizer").map((f) => f.name);
const AXIS_DEFAULTS = {
  activation: "sigmoid, tanh, relu, leaky_relu",
  init: "zeros, random, xavier_normal, he_normal",
  bias_init: "zeros, normal",
  optimizer: "gd, momentum, rmsprop, adam",
  learning_rate: "0.001, 0.01, 0.1, 1",
  seed: "0, 1, 2, 3",
};

const state = {
  options: null,
  session: null, // the server's description of the current session
  playing: false,
  controller: null, // AbortController of the running stream
  history: null, // {train_loss: [[...M]], ...} indexed by epoch
  grads: [], // [{epoch, values: [per layer]}]
  updates: [], // per epoch Float32Array(P)
  mode: "single",
  pending: null, // debounce timer
  generation: 0, // bumps on every new session, so stale frames are dropped
};

// ------------------------------------------------------------------------------ helpers
function showError(message) {
  const box = $("error");
  if (!message) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = message;
}

function setStatus(text) { $("status").textContent = text; }

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) {
    const err = new Error(data.error || `HTTP ${response.status}`);
    err.field = data.field;
    err.status = response.status;
    throw err;
  }
  return data;
}

function markField(field) {
  document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  if (!field) return;
  const id = { "rows.values": "rows-values", "cols.values": "cols-values",
    "rows.axis": "rows-axis", "cols.axis": "cols-axis" }[field] || field;
  const el = $(id);
  if (el) el.classList.add("invalid");
}

function fmt(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  return Number(x).toFixed(digits);
}

function pct(x) {
  if (x === null || x === undefined) return "–";
  return `${(100 * x).toFixed(1)}%`;
}

function decodeBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function decodeFloats(b64) {
  const bytes = decodeBytes(b64);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

// ------------------------------------------------------------------------------ form <-> config
function fillSelect(id, items, selected) {
  const el = $(id);
  el.innerHTML = "";
  for (const item of items) {
    const opt = document.createElement("option");
    opt.value = item.name || item;
    opt.textContent = item.name || item;
    if (item.description) opt.title = item.description;
    el.appendChild(opt);
  }
  if (selected !== undefined) el.value = selected;
}

function renderHyper(optimizer, values = {}) {
  const spec = state.options.optimizers.find((o) => o.name === optimizer);
  const box = $("hyper");
  const old = {};
  box.querySelectorAll("input").forEach((i) => { old[i.name] = i.value; });
  box.innerHTML = "";
  for (const [name, def] of Object.entries(spec ? spec.defaults : {})) {
    const label = document.createElement("label");
    label.textContent = name.replace("_", " ") + " ";
    const input = document.createElement("input");
    input.type = "number"; input.step = "any"; input.id = name; input.name = name;
    input.value = values[name] ?? old[name] ?? def;
    input.addEventListener("change", scheduleRestart);
    label.appendChild(input);
    box.appendChild(label);
  }
}

function num(id) {
  const v = $(id).value.trim();
  if (v === "") return NaN;
  return Number(v);
}

function parseList(text, axis) {
  const parts = text.split(",").map((t) => t.trim()).filter((t) => t.length);
  return parts.map((t) => (axis === "learning_rate" || axis === "seed") && t !== "" && !Number.isNaN(Number(t)) ? Number(t) : t);
}

function readForm() {
  const cfg = {
    mode: state.mode,
    dataset: $("dataset").value,
    noise: num("noise"),
    n_samples: num("n_samples"),
    val_size: num("val_size"),
    data_seed: num("data_seed"),
    hidden: $("hidden").value.split(",").map((t) => t.trim()).filter((t) => t.length)
      .map((t) => (/^-?\d+$/.test(t) ? Number(t) : t)),
    activation: $("activation").value,
    leaky_slope: num("leaky_slope"),
    init: $("init").value,
    bias_init: $("bias_init").value,
    optimizer: $("optimizer").value,
    learning_rate: num("learning_rate"),
    hyperparameters: {},
    batch_size: num("batch_size"),
    shuffle: $("shuffle").checked,
    rng_kind: $("rng_kind").value,
    seed: num("seed"),
    epochs: num("epochs"),
  };
  $("hyper").querySelectorAll("input").forEach((i) => {
    if (i.value.trim() !== "") cfg.hyperparameters[i.name] = Number(i.value);
  });
  if (state.mode === "compare") {
    const ra = $("rows-axis").value, ca = $("cols-axis").value;
    cfg.rows = { axis: ra, values: parseList($("rows-values").value, ra) };
    cfg.cols = { axis: ca, values: parseList($("cols-values").value, ca) };
  }
  return cfg;
}

function writeForm(cfg) {
  const set = (id, v) => { if (v !== undefined && v !== null && $(id)) $(id).value = v; };
  setMode(cfg.mode || "single", false);
  for (const k of ["dataset", "noise", "n_samples", "val_size", "data_seed", "activation",
    "leaky_slope", "init", "bias_init", "optimizer", "learning_rate", "batch_size", "seed", "epochs",
    "rng_kind"]) {
    set(k, cfg[k]);
  }
  if (cfg.hidden !== undefined) $("hidden").value = [].concat(cfg.hidden).join(", ");
  if (cfg.shuffle !== undefined) $("shuffle").checked = !!cfg.shuffle;
  renderHyper($("optimizer").value, cfg.hyperparameters || {});
  if (cfg.rows) { set("rows-axis", cfg.rows.axis); $("rows-values").value = cfg.rows.values.join(", "); }
  if (cfg.cols) { set("cols-axis", cfg.cols.axis); $("cols-values").value = cfg.cols.values.join(", "); }
  syncVisibility();
}

function syncVisibility() {
  $("leaky-row").hidden = !($("activation").value === "leaky_relu" ||
    (state.mode === "compare" && /leaky/.test($("rows-values").value + $("cols-values").value)));
  const fixed = $("dataset").value.startsWith("blog");
  document.querySelectorAll(".gen").forEach((el) => { el.hidden = fixed; });
  $("noise-out").textContent = Number($("noise").value).toFixed(2);
  $("val_size-out").textContent = `${Math.round(100 * Number($("val_size").value))}%`;
  $("compare-controls").hidden = state.mode !== "compare";
}

// The URL holds the configuration: ?dataset=moons&hidden=8,8&...&rows=activation:sigmoid,tanh
function configToQuery(cfg) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(cfg)) {
    if (k === "hyperparameters") {
      for (const [h, hv] of Object.entries(v)) q.set(h, hv);
    } else if (k === "rows" || k === "cols") {
      q.set(k, `${v.axis}:${v.values.join(",")}`);
    } else if (k === "hidden") {
      q.set(k, v.join(","));
    } else {
      q.set(k, v);
    }
  }
  return q.toString();
}

function queryToConfig(search) {
  const q = new URLSearchParams(search);
  const cfg = { hyperparameters: {} };
  const numeric = ["noise", "n_samples", "val_size", "data_seed", "leaky_slope", "learning_rate",
    "batch_size", "seed", "epochs"];
  for (const [k, v] of q.entries()) {
    if (hyperNames().includes(k)) cfg.hyperparameters[k] = Number(v);
    else if (numeric.includes(k)) cfg[k] = Number(v);
    else if (k === "hidden") cfg.hidden = v.split(",").filter((t) => t.length).map(Number);
    else if (k === "shuffle") cfg.shuffle = v === "true";
    else if (k === "rows" || k === "cols") {
      const [axis, values] = v.split(":");
      cfg[k] = { axis, values: parseList(values || "", axis) };
    } else cfg[k] = v;
  }
  return cfg;
}

function updateURL(cfg) {
  const url = `${location.pathname}?${configToQuery(cfg)}`;
  history.replaceState(null, "", url);
}

// ------------------------------------------------------------------------------ sessions
function scheduleRestart() {
  syncVisibility();
  clearTimeout(state.pending);
  state.pending = setTimeout(restart, 250);
}

async function restart() {
  const wasPlaying = state.playing;
  await stopStream(false);
  const cfg = readForm();
  updateURL(cfg);
  const old = state.session ? state.session.id : null;
  try {
    const path = "/api/sessions" + (old ? `?replace=${encodeURIComponent(old)}` : "");
    const data = await api("POST", path, cfg);
    showError(null); markField(null);
    startSession(data);
    if (wasPlaying) play();
  } catch (err) {
    showError(err.message); markField(err.field);
    if (err.status === 404 || err.status === 503) state.session = null;
  }
}

function startSession(data) {
  state.generation += 1;
  state.session = data;
  document.body.dataset.session = data.id;
  document.body.dataset.mode = data.mode;
  state.history = null;
  state.grads = [];
  state.updates = [];
  $("max-epochs").textContent = ` / ${data.max_epochs}`;
  buildLegend();
  if (data.mode === "compare") buildCompareGrid();
  buildSparks();
  applyFrame(data.frame, state.generation);
  setStatus(`session ${data.id.slice(0, 6)} · ${data.layer_sizes.join("-")} · ${data.n_params} parameters per network`);
}

function applyFrame(frame, generation) {
  if (generation !== state.generation || !state.session) return;
  if (frame.from_epoch === 0 || !state.history) {
    state.history = { train_loss: [], train_acc: [], val_loss: [], val_acc: [] };
    state.grads = [];
    state.updates = [];
  }
  for (const key of Object.keys(state.history)) {
    const rows = frame.history[key];
    for (let i = 0; i < rows.length; i++) state.history[key][frame.from_epoch + i] = rows[i];
  }
  state.epoch = frame.epoch;
  $("epoch").textContent = frame.epoch;
  if (frame.layers) state.grads.push({ epoch: frame.epoch, values: frame.layers.map((l) => l.grad_rms) });
  if (frame.updates) {
    const flat = decodeFloats(frame.updates);
    const P = state.session.n_params;
    for (let e = 0; e < frame.n_updates; e++) state.updates.push(flat.slice(e * P, (e + 1) * P));
    if (state.updates.length > 200) state.updates.splice(0, state.updates.length - 200);
  }
  const probs = decodeBytes(frame.boundary);
  state.lastProbs = probs;
  state.lastFrame = frame;
  if (state.session.mode === "single") {
    drawBoundary($("boundary"), probs, 0, true);
    const m = frame.metrics;
    $("train-loss").textContent = fmt(m.train_loss[0]);
    $("val-loss").textContent = fmt(m.val_loss[0]);
    $("train-acc").textContent = pct(m.train_acc[0]);
    $("val-acc").textContent = pct(m.val_acc[0]);
    drawCurves();
    drawLayers(frame.layers);
    drawGradChart();
    drawSparks();
  } else {
    drawCompare(frame, probs);
  }
  if (frame.finished && state.playing) setPlaying(false);
}

// ------------------------------------------------------------------------------ play / pause
function setPlaying(on) {
  state.playing = on;
  const b = $("play");
  b.innerHTML = on ? ICON_PAUSE : ICON_PLAY;
  b.setAttribute("aria-label", on ? "pause" : "play");
  b.classList.toggle("playing", on);
}

async function play() {
  if (!state.session || state.playing) return;
  if (state.epoch >= state.session.max_epochs) {
    showError(`reached the epoch limit of this run (${state.session.max_epochs}); reset, or raise "Stop after epochs"`);
    return;
  }
  setPlaying(true);
  const controller = new AbortController();
  state.controller = controller;
  const generation = state.generation;
  try {
    const response = await fetch(`/api/sessions/${state.session.id}/stream`, { signal: controller.signal });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new Error(data.error || `HTTP ${response.status}`);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (event === "frame") applyFrame(JSON.parse(data), generation);
      }
    }
  } catch (err) {
    if (err.name !== "AbortError") showError(err.message);
  } finally {
    if (state.controller === controller) {
      state.controller = null;
      setPlaying(false);
    }
  }
}

async function stopStream(tellServer = true) {
  const controller = state.controller;
  state.controller = null;
  setPlaying(false);
  if (tellServer && state.session) {
    await api("POST", `/api/sessions/${state.session.id}/pause`).catch(() => {});
  }
  if (controller) controller.abort();
}

async function togglePlay() {
  if (state.playing) await stopStream(true);
  else play();
}

async function stepOnce() {
  if (!state.session) return;
  await stopStream(true);
  try {
    applyFrame(await api("POST", `/api/sessions/${state.session.id}/step`, { epochs: 1 }), state.generation);
  } catch (err) { showError(err.message); }
}

async function reset() {
  if (!state.session) return;
  await stopStream(true);
  try {
    state.history = null;
    applyFrame(await api("POST", `/api/sessions/${state.session.id}/reset`), state.generation);
  } catch (err) { showError(err.message); }
}

async function reseed() {
  if (!state.session) return;
  await stopStream(true);
  const seed = Math.floor(Math.random() * 100000);
  $("seed").value = seed;
  updateURL(readForm());
  try {
    startSession(await api("POST", `/api/sessions/${state.session.id}/reseed`, { seed }));
  } catch (err) { showError(err.message); }
}

// ------------------------------------------------------------------------------ drawing
const offscreen = document.createElement("canvas");

function boundaryImage(probs, model, g, K) {
  offscreen.width = g; offscreen.height = g;
  const ctx = offscreen.getContext("2d");
  const img = ctx.createImageData(g, g);
  const base = model * g * g * K;
  for (let i = 0; i < g * g; i++) {
    let best = 0, bestP = -1;
    let r = 0, gg = 0, b = 0;
    for (let k = 0; k < K; k++) {
      const p = probs[base + i * K + k] / 255;
      if (p > bestP) { bestP = p; best = k; }
      r += p * COLORS[k][0]; gg += p * COLORS[k][1]; b += p * COLORS[k][2];
    }
    // confidence 0 at a uniform guess, 1 when sure; mixes the class colour with white
    const conf = Math.max(0, (bestP - 1 / K) / (1 - 1 / K));
    const t = 0.15 + 0.6 * conf;
    img.data[4 * i] = 255 + (r - 255) * t;
    img.data[4 * i + 1] = 255 + (gg - 255) * t;
    img.data[4 * i + 2] = 255 + (b - 255) * t;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return offscreen;
}

function drawBoundary(canvas, probs, model, withPoints) {
  const s = state.session;
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(boundaryImage(probs, model, s.grid, s.n_classes), 0, 0, W, H);
  if (!withPoints) return;
  const [x0, x1, y0, y1] = s.extent;
  const px = (x) => ((x - x0) / (x1 - x0)) * W;
  const py = (y) => H - ((y - y0) / (y1 - y0)) * H;
  const dot = (pt, label, stroke) => {
    ctx.beginPath();
    ctx.arc(px(pt[0]), py(pt[1]), W > 300 ? 3.2 : 1.6, 0, 2 * Math.PI);
    ctx.fillStyle = rgb(COLORS[label]);
    ctx.fill();
    ctx.lineWidth = stroke === "#fff" ? 1 : 1.4;
    ctx.strokeStyle = stroke;
    ctx.stroke();
  };
  if (W < 300) { // small multiples: train points only, no outlines
    for (let i = 0; i < s.train.x.length; i++) {
      const pt = s.train.x[i];
      ctx.fillStyle = rgb(COLORS[s.train.y[i]], 0.9);
      ctx.fillRect(px(pt[0]) - 1.2, py(pt[1]) - 1.2, 2.4, 2.4);
    }
    return;
  }
  s.train.x.forEach((pt, i) => dot(pt, s.train.y[i], "#fff"));
  if ($("show-val").checked) s.val.x.forEach((pt, i) => dot(pt, s.val.y[i], "#111827"));
}

function buildLegend() {
  const s = state.session;
  $("legend").innerHTML = s.classes.map((c, k) =>
    `<span><i style="background:${rgb(COLORS[k])}"></i>class ${c}</span>`).join("") +
    '<span><i class="ring-white"></i>train</span><span><i class="ring-dark"></i>validation</span>';
}

function chartFrame(canvas) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  return ctx;
}

function drawLines(canvas, series, { ymin, ymax, log = false, xmax, ticks = 3, fmtTick = (v) => v.toFixed(2) }) {
  const ctx = chartFrame(canvas);
  const W = canvas.width, H = canvas.height, L = 44, R = 8, T = 8, B = 18;
  const tr = (v) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  const lo = tr(ymin), hi = tr(ymax) === lo ? lo + 1 : tr(ymax);
  const X = (i) => L + (i / Math.max(1, xmax)) * (W - L - R);
  const Y = (v) => T + (1 - (tr(v) - lo) / (hi - lo)) * (H - T - B);
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillStyle = "#6b7280";
  ctx.strokeStyle = "#e5e7eb";
  ctx.lineWidth = 1;
  for (let t = 0; t <= ticks; t++) {
    const v = lo + (t / ticks) * (hi - lo);
    const y = T + (1 - t / ticks) * (H - T - B);
    ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(W - R, y); ctx.stroke();
    ctx.fillText(fmtTick(log ? 10 ** v : v), 2, y + 3);
  }
  ctx.fillText("0", L, H - 4);
  ctx.fillText(String(xmax), W - R - 6 * String(xmax).length, H - 4);
  for (const s of series) {
    ctx.beginPath();
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width || 1.6;
    ctx.setLineDash(s.dash || []);
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined || !Number.isFinite(v)) { pen = false; return; }
      const y = Math.min(H - B, Math.max(T, Y(v)));
      if (pen) ctx.lineTo(X(i), y); else { ctx.moveTo(X(i), y); pen = true; }
    });
    ctx.stroke();
    ctx.setLineDash([]);
  }
}

function column(key, m = 0) {
  return state.history[key].map((row) => (row ? row[m] : null));
}

function drawCurves() {
  const xmax = Math.max(10, state.epoch);
  const tl = column("train_loss"), vl = column("val_loss");
  const finite = tl.concat(vl).filter((v) => v !== null && Number.isFinite(v));
  const ymax = finite.length ? Math.min(Math.max(...finite), 10) * 1.05 : 1;
  drawLines($("loss-chart"), [
    { values: tl, color: "#111827" },
    { values: vl, color: "#111827", dash: [4, 3] },
  ], { ymin: 0, ymax, xmax });
  drawLines($("acc-chart"), [
    { values: column("train_acc"), color: "#2563eb" },
    { values: column("val_acc"), color: "#2563eb", dash: [4, 3] },
  ], { ymin: 0, ymax: 1, xmax, fmtTick: (v) => `${Math.round(100 * v)}%` });
}

function drawLayers(layers) {
  if (!layers) return;
  const head = "<tr><th>layer</th><th>units</th><th>activation mean ± std</th>" +
    "<th>pre-activation std</th><th>weight RMS</th><th>gradient RMS</th><th>inactive</th></tr>";
  const rows = layers.map((l) => {
    const dots = l.inactive.map((f, i) => {
      const c = `hsl(${Math.round(140 * (1 - f))}, 70%, ${l.kind ? 45 : 80}%)`;
      const tip = l.kind ? `unit ${i + 1}: ${l.kind} on ${Math.round(100 * f)}% of samples` : `output ${i + 1}`;
      return `<i class="unit" style="background:${c}" title="${tip}"></i>`;
    }).join("");
    const flag = l.kind
      ? (l.flagged ? `<span class="warn">${l.flagged} of ${l.units} ${l.kind}</span>` : `<span class="ok">none ${l.kind}</span>`)
      : "";
    return `<tr><td>${l.name}</td><td class="dots">${dots}</td>` +
      `<td>${fmt(l.a_mean, 2)} ± ${fmt(l.a_std, 2)}</td><td>${fmt(l.z_std, 2)}</td>` +
      `<td>${fmt(l.w_rms, 3)}</td><td>${l.grad_rms === null ? "–" : l.grad_rms.toExponential(1)}</td><td>${flag}</td></tr>`;
  }).join("");
  $("layers").innerHTML = head + rows;
}

function drawGradChart() {
  const g = state.grads;
  const n = g.length ? g[0].values.length : 0;
  const xmax = Math.max(10, state.epoch);
  const series = [];
  let lo = Infinity, hi = -Infinity;
  for (let l = 0; l < n; l++) {
    const values = new Array(xmax + 1).fill(null);
    for (const p of g) {
      const v = p.values[l];
      values[p.epoch] = v;
      if (v > 0 && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    // connect the sampled epochs
    let last = null;
    for (let i = 0; i < values.length; i++) { if (values[i] === null) values[i] = last; else last = values[i]; }
    series.push({ values, color: layerColor(l), width: 1.4 });
  }
  if (!Number.isFinite(lo)) { lo = 1e-6; hi = 1; }
  const names = (state.lastFrame && state.lastFrame.layers || []).map((l) => l.name);
  $("grad-key").innerHTML = names.map((n, l) => `<i style="border-color:${layerColor(l)}"></i>${n}`).join(" ");
  drawLines($("grad-chart"), series, { ymin: lo / 2, ymax: hi * 2, log: true, xmax, ticks: 2,
    fmtTick: (v) => v.toExponential(0) });
}

function buildSparks() {
  const box = $("sparks");
  box.innerHTML = "";
  const names = state.session.param_names || [];
  $("spark-note").innerHTML = names.length
    ? "W<sub>t+1</sub> &minus; W<sub>t</sub> per epoch (last 200), one scale for all, as in the blog; a flat line means the parameter does not learn"
    : `shown for networks with at most ${state.options.limits.max_spark_params} parameters (this one has ${state.session.n_params})`;
  for (const name of names) {
    const cell = document.createElement("div");
    cell.className = "spark";
    cell.innerHTML = `<canvas width="96" height="30"></canvas><span>${name}</span>`;
    box.appendChild(cell);
  }
}

function drawSparks() {
  const cells = $("sparks").querySelectorAll("canvas");
  if (!cells.length) return;
  let scale = 1e-12;
  for (const u of state.updates) for (const v of u) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  const n = state.updates.length;
  cells.forEach((canvas, p) => {
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    ctx.strokeStyle = "#d1d5db"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(0, H / 2); ctx.lineTo(W, H / 2); ctx.stroke();
    ctx.strokeStyle = "#2563eb"; ctx.lineWidth = 1.2;
    ctx.beginPath();
    for (let e = 0; e < n; e++) {
      const v = state.updates[e][p];
      const x = (e / Math.max(1, 199)) * W;
      const y = H / 2 - (Number.isFinite(v) ? v / scale : 0) * (H / 2 - 2);
      if (e === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    }
    ctx.stroke();
  });
}

// ------------------------------------------------------------------------------ compare
function buildCompareGrid() {
  const s = state.session;
  const grid = $("compare-grid");
  const nc = s.cols.values.length;
  grid.style.gridTemplateColumns = `auto repeat(${nc}, minmax(0, 1fr))`;
  let html = `<div class="corner">${s.rows.axis} ↓ · ${s.cols.axis} →</div>`;
  html += s.cols.values.map((v) => `<div class="col-head">${v}</div>`).join("");
  s.rows.values.forEach((rv, r) => {
    html += `<div class="row-head">${rv}</div>`;
    for (let c = 0; c < nc; c++) {
      const m = r * nc + c;
      html += `<div class="panel" data-model="${m}"><canvas width="150" height="150"></canvas>` +
        `<div class="acc" id="acc-${m}">–</div></div>`;
    }
  });
  grid.innerHTML = html;
  $("compare-title").textContent = `${s.rows.values.length} × ${nc} networks: ${s.rows.axis} by ${s.cols.axis}`;
}

function drawCompare(frame, probs) {
  const panels = $("compare-grid").querySelectorAll(".panel");
  const acc = frame.metrics.val_acc;
  let best = -1, bestAcc = -1;
  acc.forEach((a, m) => { if (a !== null && a > bestAcc) { bestAcc = a; best = m; } });
  panels.forEach((panel) => {
    const m = Number(panel.dataset.model);
    drawBoundary(panel.querySelector("canvas"), probs, m, true);
    const diverged = frame.diverged[m];
    panel.classList.toggle("best", m === best);
    panel.classList.toggle("diverged", diverged);
    $(`acc-${m}`).textContent = diverged ? "diverged" :
      `val ${pct(acc[m])} · train ${pct(frame.metrics.train_acc[m])}`;
  });
  const s = state.session, nc = s.cols.values.length;
  const xmax = Math.max(10, state.epoch);
  const series = acc.map((_, m) => ({
    values: column("val_acc", m),
    color: rgb(COLORS[Math.floor(m / nc) % COLORS.length], 0.85), width: 1.2,
  }));
  drawLines($("compare-chart"), series, { ymin: 0, ymax: 1, xmax, fmtTick: (v) => `${Math.round(100 * v)}%` });
}

function setMode(mode, restartNow = true) {
  state.mode = mode;
  document.querySelectorAll(".mode").forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
  $("single-view").hidden = mode !== "single";
  $("compare-view").hidden = mode !== "compare";
  if (mode === "compare" && !$("rows-values").value) {
    $("rows-axis").value = "activation"; $("rows-values").value = AXIS_DEFAULTS.activation;
    $("cols-axis").value = "init"; $("cols-values").value = AXIS_DEFAULTS.init;
  }
  syncVisibility();
  if (restartNow) { clearTimeout(state.pending); restart(); }
}

// ------------------------------------------------------------------------------ export
async function openExport() {
  try {
    const data = await api("POST", "/api/export", readForm());
    $("export-toml").textContent = data.toml;
    $("export-python").textContent = data.python;
    showError(null);
    $("export-dialog").showModal();
  } catch (err) { showError(err.message); markField(err.field); }
}

function copy(text, button) {
  const done = () => { const t = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = t; }, 1200); };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => {});
  else {
    const area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* ignore */ }
    area.remove();
  }
}

// ------------------------------------------------------------------------------ start
async function main() {
  setPlaying(false);
  try {
    state.options = await api("GET", "/api/options");
  } catch (err) { showError(`cannot reach the server: ${err.message}`); return; }
  const o = state.options;
  fillSelect("activation", o.activations);
  fillSelect("init", o.inits);
  fillSelect("bias_init", o.bias_inits);
  fillSelect("optimizer", o.optimizers);
  fillSelect("rows-axis", o.axes);
  fillSelect("cols-axis", o.axes);
  $("n_samples").max = o.limits.max_points;
  $("epochs").max = o.limits.max_epochs;
  const cfg = { ...o.defaults, ...queryToConfig(location.search) };
  cfg.hyperparameters = { ...(o.defaults.hyperparameters || {}), ...(cfg.hyperparameters || {}) };
  writeForm(cfg);

  document.querySelectorAll("#controls input, #controls select").forEach((el) => {
    el.addEventListener(el.type === "range" ? "input" : "change", scheduleRestart);
  });
  $("optimizer").addEventListener("change", () => renderHyper($("optimizer").value));
  $("rows-axis").addEventListener("change", () => { $("rows-values").value = AXIS_DEFAULTS[$("rows-axis").value]; scheduleRestart(); });
  $("cols-axis").addEventListener("change", () => { $("cols-values").value = AXIS_DEFAULTS[$("cols-axis").value]; scheduleRestart(); });
  document.querySelectorAll(".mode").forEach((b) => b.addEventListener("click", () => setMode(b.dataset.mode)));
  $("play").addEventListener("click", togglePlay);
  $("step").addEventListener("click", stepOnce);
  $("reset").addEventListener("click", reset);
  $("reseed").addEventListener("click", reseed);
  $("export").addEventListener("click", openExport);
  $("share").addEventListener("click", (e) => copy(location.href, e.target));
  $("copy-toml").addEventListener("click", (e) => copy($("export-toml").textContent, e.target));
  $("copy-python").addEventListener("click", (e) => copy($("export-python").textContent, e.target));
  $("show-val").addEventListener("change", redraw);
  $("blog-grid").addEventListener("click", () => {
    $("rows-axis").value = "activation"; $("rows-values").value = AXIS_DEFAULTS.activation;
    $("cols-axis").value = "init"; $("cols-values").value = AXIS_DEFAULTS.init;
    scheduleRestart();
  });
  $("blog-recipe").addEventListener("click", () => {
    // the blog: make_blobs, [2, 2, 4], np.random.seed(0), its "xavier" = LeCun normal,
    // N(0, 1) biases (zeros with zero init), full-batch GD with eta 1 for 50 epochs
    writeForm({ dataset: "blog", hidden: [2], optimizer: "gd", learning_rate: 1, batch_size: 0,
      bias_init: "blog", rng_kind: "legacy", seed: 0, epochs: 50, mode: "compare",
      rows: { axis: "activation", values: ["sigmoid", "tanh", "relu", "leaky_relu"] },
      cols: { axis: "init", values: ["zeros", "random", "lecun_normal", "he_normal"] } });
    setMode("compare", false);
    scheduleRestart();
  });
  window.addEventListener("beforeunload", () => {
    if (state.session) fetch(`/api/sessions/${state.session.id}`, { method: "DELETE", keepalive: true });
  });
  await restart();
}

function redraw() {
  if (!state.session || !state.lastProbs) return;
  if (state.session.mode === "single") drawBoundary($("boundary"), state.lastProbs, 0, true);
  else if (state.lastFrame) drawCompare(state.lastFrame, state.lastProbs);
}

main();
