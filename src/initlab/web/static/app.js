// initlab playground: plain JavaScript, no build step, no network beyond this server.
// The server trains (initlab.engine); this page sends the configuration, plays the
// server-sent-event stream of frames and draws them on canvases.
"use strict";

const COLORS = [[245, 158, 11], [59, 130, 246], [16, 185, 129], [168, 85, 247],
  [239, 68, 68], [20, 184, 166], [234, 179, 8], [100, 116, 139]];
// TensorFlow Playground's diverging scale: orange negative, white 0, blue positive
const NEG = [245, 147, 34], POS = [8, 119, 189], MID = [236, 238, 240];
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
const DATASET_LABELS = { blog: "blog blobs (4 classes)", blog_mod2: "blog blobs mod 2",
  multigauss: "multi-Gaussian" };
// which part of the run a control belongs to: changing it restarts and says so
const GROUPS = {
  data: ["problem", "dataset", "noise", "n_samples", "val_size", "data_seed", "features"],
  architecture: ["hidden", "activation", "leaky_slope", "loss"],
  initialization: ["init", "bias_init", "seed", "rng_kind"],
  optimizer: ["optimizer", "batch_size", "shuffle", "learning_rate", "epochs"],
  regularization: ["l1", "l2"],
  "compare axes": ["rows-axis", "rows-values", "cols-axis", "cols-values"],
};
// settings of the page itself (not of the run), kept in the URL too
const PAGE_KEYS = ["lesson", "hide", "discretize", "speed", "sparks"];
// controls the URL's hide= and lessons may name that are not form fields
const HIDE_TARGETS = { mode: ".modes", features: "#features-row", speed: "#speed-row",
  discretize: "#discretize-row", problem: "#problem-row", hyperparameters: "#hyper",
  regenerate: "#regenerate", rows: "#compare-controls", cols: "#compare-controls",
  sparks: "#show-sparks", export: "#export", share: "#share", "show-val": "#show-val-row" };
const FLAG = 0.95; // a unit inactive on this share of samples is dead/saturated (server's rule)

const state = {
  options: null,
  session: null, // the server's description of the current session
  playing: false,
  controller: null, // AbortController of the running stream
  history: null, // {train_loss: [[...M]], ...} indexed by epoch
  stats: [], // per epoch Float32Array(L * 4 * 6): quantiles and RMS per layer and kind
  updates: [], // per epoch Float32Array(P)
  mode: "single",
  pending: null, // debounce timer
  changed: new Set(), // controls changed since the last applied change
  chain: Promise.resolve(), // every action runs after the previous one (no lost clicks)
  generation: 0, // bumps on every new session, so stale frames are dropped
  lastGood: null, // the last boundary of a network with finite parameters
  acknowledged: new Set(), // divergences already paused on
  lesson: null,
  hidden: [],
  net: null, // geometry of the drawn network, for hover and clicks
};

// ------------------------------------------------------------------------------ helpers
function showError(message) {
  const box = $("error");
  if (!message) { box.hidden = true; $("error-text").textContent = ""; return; }
  box.hidden = false;
  $("error-text").textContent = message;
}

function showNote(message) {
  const box = $("note");
  if (!message) { box.hidden = true; $("note-text").textContent = ""; return; }
  box.hidden = false;
  $("note-text").textContent = message;
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

// Every action (apply a change, play, step, reset, new seed, edit a weight) runs in order.
function enqueue(fn) {
  const run = state.chain.then(fn);
  state.chain = run.catch(() => {});
  return run;
}

function markField(field) {
  document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  if (!field) return;
  const id = { "rows.values": "rows-values", "cols.values": "cols-values",
    "rows.axis": "rows-axis", "cols.axis": "cols-axis", hyperparameters: "hyper" }[field] || field;
  const el = $(id);
  if (el) el.classList.add("invalid");
}

function fmt(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  const v = Number(x);
  return Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toFixed(digits);
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

function diverging(v) {
  const t = Math.min(1, Math.abs(v));
  const c = v < 0 ? NEG : POS;
  return [MID[0] + (c[0] - MID[0]) * t, MID[1] + (c[1] - MID[1]) * t, MID[2] + (c[2] - MID[2]) * t];
}

const isRegression = () => state.session && state.session.task === "regression";
const taskOf = (dataset) => (state.options.dataset_tasks || {})[dataset] || "classification";

// ------------------------------------------------------------------------------ form <-> config
function fillSelect(id, items, selected) {
  const el = $(id);
  el.innerHTML = "";
  for (const item of items) {
    const opt = document.createElement("option");
    opt.value = item.name || item;
    opt.textContent = item.label || item.name || item;
    if (item.description) opt.title = item.description;
    el.appendChild(opt);
  }
  if (selected !== undefined && [...el.options].some((o) => o.value === String(selected))) el.value = selected;
}

function fillTaskControls(task, dataset, loss) {
  $("problem").value = task;
  const sets = state.options.datasets.filter((d) => taskOf(d) === task)
    .map((d) => ({ name: d, label: DATASET_LABELS[d] || d }));
  fillSelect("dataset", sets, dataset);
  const losses = state.options.losses.filter((l) => l.task === task);
  fillSelect("loss", losses, loss);
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
    input.addEventListener("change", onControlChange);
    label.appendChild(input);
    box.appendChild(label);
  }
  applyHide(state.hidden);
}

function renderFeatures(selected) {
  const box = $("features");
  box.innerHTML = "";
  for (const f of state.options.features) {
    const label = document.createElement("label");
    const pretty = f.replace("^2", "²").replace("*", "·").replace("sin(", "sin ").replace(")", "");
    label.innerHTML = `<input type="checkbox" name="features" value="${f}"> ${pretty}`;
    label.querySelector("input").checked = selected.includes(f);
    label.querySelector("input").addEventListener("change", onControlChange);
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
    features: [...document.querySelectorAll("#features input:checked")].map((i) => i.value),
    hidden: $("hidden").value.split(",").map((t) => t.trim()).filter((t) => t.length)
      .map((t) => (/^-?\d+$/.test(t) ? Number(t) : t)),
    activation: $("activation").value,
    leaky_slope: num("leaky_slope"),
    loss: $("loss").value,
    init: $("init").value,
    bias_init: $("bias_init").value,
    optimizer: $("optimizer").value,
    learning_rate: num("learning_rate"),
    l1: num("l1"),
    l2: num("l2"),
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
  const dataset = cfg.dataset || $("dataset").value || "moons";
  fillTaskControls(taskOf(dataset), dataset, cfg.loss);
  for (const k of ["noise", "n_samples", "val_size", "data_seed", "activation",
    "leaky_slope", "init", "bias_init", "optimizer", "learning_rate", "l1", "l2", "batch_size", "seed",
    "epochs", "rng_kind"]) {
    set(k, cfg[k]);
  }
  if (cfg.hidden !== undefined) $("hidden").value = [].concat(cfg.hidden).join(", ");
  if (cfg.shuffle !== undefined) $("shuffle").checked = !!cfg.shuffle;
  if (cfg.features) renderFeatures([].concat(cfg.features));
  renderHyper($("optimizer").value, cfg.hyperparameters || {});
  if (cfg.rows) { set("rows-axis", cfg.rows.axis); $("rows-values").value = cfg.rows.values.join(", "); }
  if (cfg.cols) { set("cols-axis", cfg.cols.axis); $("cols-values").value = cfg.cols.values.join(", "); }
  syncVisibility();
}

function syncVisibility() {
  $("leaky-row").hidden = !($("activation").value === "leaky_relu" ||
    (state.mode === "compare" && /leaky/.test($("rows-values").value + $("cols-values").value)));
  const fixed = (state.options.fixed_datasets || []).includes($("dataset").value);
  document.querySelectorAll(".gen").forEach((el) => { el.hidden = fixed; });
  $("noise-out").textContent = Number($("noise").value).toFixed(2);
  $("val_size-out").textContent = `${Math.round(100 * Number($("val_size").value))}%`;
  $("compare-controls").hidden = state.mode !== "compare";
  applyHide(state.hidden);
}

// The URL holds the configuration: ?dataset=moons&hidden=8,8&...&rows=activation:sigmoid,tanh
function configToQuery(cfg) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(cfg)) {
    if (k === "hyperparameters") {
      for (const [h, hv] of Object.entries(v)) q.set(h, hv);
    } else if (k === "rows" || k === "cols") {
      q.set(k, `${v.axis}:${v.values.join(",")}`);
    } else if (k === "hidden" || k === "features") {
      q.set(k, v.join(","));
    } else {
      q.set(k, v);
    }
  }
  if (state.lesson) q.set("lesson", state.lesson.name);
  const extraHide = state.hidden.filter((h) => !(state.lesson && state.lesson.hide.includes(h)));
  if (extraHide.length) q.set("hide", extraHide.join(","));
  if ($("discretize").checked) q.set("discretize", "1");
  if ($("speed").value !== "30") q.set("speed", $("speed").value);
  if ($("show-sparks").checked) q.set("sparks", "1");
  return q.toString();
}

function queryToConfig(search) {
  const q = new URLSearchParams(search);
  const cfg = { hyperparameters: {} };
  const numeric = ["noise", "n_samples", "val_size", "data_seed", "leaky_slope", "learning_rate",
    "batch_size", "seed", "epochs", "l1", "l2"];
  for (const [k, v] of q.entries()) {
    if (PAGE_KEYS.includes(k)) continue;
    if (hyperNames().includes(k)) cfg.hyperparameters[k] = Number(v);
    else if (numeric.includes(k)) cfg[k] = Number(v);
    else if (k === "hidden") cfg.hidden = v.split(",").filter((t) => t.length).map(Number);
    else if (k === "features") cfg.features = v.split(",").filter((t) => t.length);
    else if (k === "shuffle") cfg.shuffle = v === "true";
    else if (k === "rows" || k === "cols") {
      const [axis, values] = v.split(":");
      cfg[k] = { axis, values: parseList(values || "", axis) };
    } else cfg[k] = v;
  }
  return cfg;
}

function updateURL(cfg) {
  history.replaceState(null, "", `${location.pathname}?${configToQuery(cfg)}`);
}

// ------------------------------------------------------------------------------ changes
function controlName(el) {
  if (el.name === "features") return "features";
  return el.id || el.name;
}

function groupOf(names) {
  for (const [group, members] of Object.entries(GROUPS)) {
    if (names.some((n) => members.includes(n))) return group;
  }
  if (names.some((n) => hyperNames().includes(n))) return "optimizer";
  return "settings";
}

const liveNames = () => (state.options && state.options.live) || [];

function isLive(name) {
  if (!liveNames().includes(name)) return false;
  if (state.mode !== "compare") return true;
  return $("rows-axis").value !== name && $("cols-axis").value !== name; // an axis is not one value
}

function onControlChange(event) {
  syncVisibility();
  state.changed.add(controlName(event.target));
  schedule();
}

function scheduleRestart() { state.changed.add("restart"); syncVisibility(); schedule(); }

function schedule() {
  clearTimeout(state.pending);
  state.pending = setTimeout(() => { state.pending = null; enqueue(applyChanges); }, 250);
}

// A click right after a change: the pending change goes first, then the click.
function flushPending() {
  if (state.pending === null) return;
  clearTimeout(state.pending);
  state.pending = null;
  enqueue(applyChanges);
}

async function applyChanges() {
  const changed = [...state.changed];
  state.changed.clear();
  if (!changed.length) return;
  if (state.session && changed.every(isLive) && await patchLive(changed)) return;
  await restart(`${groupOf(changed)} changed: restarted at epoch 0`);
}

function liveValue(name) {
  return name === "epochs" || name === "learning_rate" || name === "l1" || name === "l2" ? num(name) : Number($(name).value);
}

// live fields change the running session (same weights, same epoch); false: restart instead
async function patchLive(names) {
  const body = {};
  for (const n of names) body[n] = liveValue(n);
  try {
    const data = await api("PATCH", `/api/sessions/${state.session.id}`, body);
    showError(null); markField(null);
    const epochs = (data && data.max_epochs) || (body.epochs ?? state.session.max_epochs);
    state.session.max_epochs = epochs;
    $("max-epochs").textContent = ` / ${epochs}`;
    updateURL(readForm());
    showNote(`${names.join(", ")} changed live: training goes on from epoch ${state.epoch}`);
    return true;
  } catch (err) {
    if (err.status === 422) { showError(err.message); markField(err.field); return true; }
    return false; // a server without live changes: restart
  }
}

// ------------------------------------------------------------------------------ sessions
async function restart(note) {
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
    if (note && old) showNote(note);
    if (wasPlaying) startPlay();
  } catch (err) {
    showError(err.message); markField(err.field);
    if (err.status === 404 || err.status === 503) state.session = null;
  }
}

function resetKey(cfg, field) {
  const d = state.options.defaults;
  const key = String(field).split(".")[0];
  if (hyperNames().includes(key)) { delete cfg.hyperparameters[key]; return key; }
  if (key === "rows" || key === "cols") {
    const axis = key === "rows" ? "activation" : "init";
    cfg[key] = { axis, values: parseList(AXIS_DEFAULTS[axis], axis) };
    return key;
  }
  if (key in d) { cfg[key] = d[key]; return key; }
  delete cfg[key]; // not a setting at all
  return key;
}

// The first session: a bad URL parameter falls back to its default, and the page says so.
async function createFirst(cfg, notes) {
  const tried = new Set();
  for (;;) {
    try {
      return await api("POST", "/api/sessions", cfg);
    } catch (err) {
      if (err.status !== 422) throw err;
      const key = String(err.field || "config").split(".")[0];
      if (tried.has(key) || key === "config" || key === "body") {
        notes.push(`the URL's settings were refused (${err.message}); using the defaults`);
        Object.assign(cfg, JSON.parse(JSON.stringify(state.options.defaults)));
        delete cfg.rows; delete cfg.cols;
        return api("POST", "/api/sessions", cfg);
      }
      tried.add(key);
      notes.push(`URL parameter "${key}" ignored: ${err.message}; using the default`);
      resetKey(cfg, key);
      if (cfg.mode === "compare" && !cfg.rows) resetKey(cfg, "rows");
      if (cfg.mode === "compare" && !cfg.cols) resetKey(cfg, "cols");
    }
  }
}

function startSession(data) {
  state.generation += 1;
  state.session = data;
  document.body.dataset.session = data.id;
  document.body.dataset.mode = data.mode;
  document.body.dataset.task = data.task;
  state.history = null;
  state.stats = [];
  state.updates = [];
  state.lastGood = null;
  state.acknowledged = new Set();
  showDivergence(null);
  $("max-epochs").textContent = ` / ${data.max_epochs}`;
  buildLegend();
  drawAxes();
  if (data.mode === "compare") buildCompareGrid();
  else { buildSparks(); buildBands(); }
  $("acc-card").hidden = data.task === "regression";
  $("boundary-title").textContent = data.task === "regression" ? "Predicted value" : "Decision boundary";
  applyFrame(data.frame, state.generation);
  setStatus(`session ${data.id.slice(0, 6)} · ${data.layer_sizes.join("-")} · ${data.n_params} parameters per network`);
}

function storeFrame(frame) {
  if (frame.from_epoch === 0 || !state.history) {
    state.history = { train_loss: [], train_acc: [], val_loss: [], val_acc: [] };
    state.stats = [];
    state.updates = [];
  }
  for (const key of Object.keys(state.history)) {
    const rows = frame.history[key];
    for (let i = 0; i < rows.length; i++) state.history[key][frame.from_epoch + i] = rows[i];
  }
  if (frame.stats) {
    const flat = decodeFloats(frame.stats);
    const size = flat.length / frame.n_stats;
    for (let e = 0; e < frame.n_stats; e++) state.stats[frame.from_epoch + e] = flat.slice(e * size, (e + 1) * size);
  }
  if (frame.updates) {
    const flat = decodeFloats(frame.updates);
    const P = state.session.n_params;
    for (let e = 0; e < frame.n_updates; e++) state.updates.push(flat.slice(e * P, (e + 1) * P));
    if (state.updates.length > 200) state.updates.splice(0, state.updates.length - 200);
  }
}

function applyFrame(frame, generation) {
  if (generation !== state.generation || !state.session) return;
  storeFrame(frame);
  state.epoch = frame.epoch;
  $("epoch").textContent = frame.epoch;
  const probs = decodeBytes(frame.boundary);
  state.lastProbs = probs;
  state.lastFrame = frame;
  if (state.session.mode === "single") {
    const div = (frame.divergence || []).find((d) => d.model === 0) || null;
    if (!frame.diverged[0]) state.lastGood = probs;
    drawBoundary($("boundary"), div && frame.diverged[0] && state.lastGood ? state.lastGood : probs, 0, true);
    $("boundary").classList.toggle("greyed", !!div);
    const m = frame.metrics;
    const broken = div && frame.diverged[0];
    $("train-loss").textContent = broken ? "NaN" : fmt(m.train_loss[0]);
    $("val-loss").textContent = broken ? "NaN" : fmt(m.val_loss[0]);
    $("train-acc").textContent = div ? "diverged" : pct(m.train_acc[0]);
    $("val-acc").textContent = div ? "diverged" : pct(m.val_acc[0]);
    drawCurves();
    drawLayers(frame.layers);
    drawNetwork();
    drawBands();
    drawGradChart();
    if ($("show-sparks").checked) drawSparks();
    showDivergence(div);
  } else {
    drawCompare(frame, probs);
  }
  if (frame.finished && state.playing) setPlaying(false);
}

function divergenceText(d) {
  const last = state.session.layer_sizes.length - 1;
  const name = d.layer === last ? `layer ${d.layer}, the output` : `layer ${d.layer}`;
  return `diverged at epoch ${d.epoch}` + (d.layer ? ` (first non-finite in ${name})` : "");
}

function showDivergence(div) {
  const box = $("diverged-note");
  if (!div) { box.hidden = true; return; }
  const text = divergenceText(div);
  box.hidden = false;
  box.textContent = `${text}; the last finite picture is shown greyed`;
  const key = `${state.generation}:${div.epoch}:${div.layer}`;
  if (!state.acknowledged.has(key)) {
    state.acknowledged.add(key);
    showNote(`${text}: paused. Lower the learning rate and reset.`);
    if (state.playing) enqueue(() => stopStream(true));
  }
}

// ------------------------------------------------------------------------------ play / pause
function setPlaying(on) {
  state.playing = on;
  const b = $("play");
  b.innerHTML = on ? ICON_PAUSE : ICON_PLAY;
  b.setAttribute("aria-label", on ? "pause" : "play");
  b.classList.toggle("playing", on);
}

function startPlay() {
  if (!state.session || state.playing) return;
  if (state.epoch >= state.session.max_epochs) {
    showError(`reached the epoch limit of this run (${state.session.max_epochs}); reset, or raise "Stop after epochs"`);
    return;
  }
  setPlaying(true);
  stream(); // runs until paused or finished; not awaited, so later actions can queue
}

async function stream() {
  const controller = new AbortController();
  state.controller = controller;
  const generation = state.generation;
  try {
    const speed = encodeURIComponent($("speed").value);
    const response = await fetch(`/api/sessions/${state.session.id}/stream?speed=${speed}`, { signal: controller.signal });
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
        if (event === "frame" && state.controller === controller) applyFrame(JSON.parse(data), generation);
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

function togglePlay() {
  const wantPlay = !state.playing; // decided at the click, run after pending changes
  if (!wantPlay) setPlaying(false);
  flushPending();
  enqueue(async () => {
    if (wantPlay) startPlay();
    else await stopStream(true);
  });
}

function stepOnce() {
  flushPending();
  enqueue(async () => {
    if (!state.session) return;
    await stopStream(true);
    try {
      applyFrame(await api("POST", `/api/sessions/${state.session.id}/step`, { epochs: 1 }), state.generation);
    } catch (err) { showError(err.message); }
  });
}

function reset() {
  flushPending();
  enqueue(async () => {
    if (!state.session) return;
    await stopStream(true);
    try {
      state.history = null;
      state.lastGood = null;
      state.acknowledged = new Set();
      showNote(null);
      applyFrame(await api("POST", `/api/sessions/${state.session.id}/reset`), state.generation);
    } catch (err) { showError(err.message); }
  });
}

function seedAxis() {
  if (state.mode !== "compare") return null;
  if ($("rows-axis").value === "seed") return "rows";
  if ($("cols-axis").value === "seed") return "cols";
  return null;
}

function reseed() {
  flushPending();
  enqueue(async () => {
    if (!state.session) return;
    await stopStream(true);
    const axis = seedAxis();
    if (axis) { // every seed of the axis shifts: new weights for every panel
      const values = parseList($(`${axis}-values`).value, "seed");
      const shift = 1 + Math.floor(Math.random() * 10000);
      $(`${axis}-values`).value = values.map((v) => Number(v) + shift).join(", ");
      await restart(`new seeds: every seed of the ${axis} shifted by ${shift}`);
      return;
    }
    const seed = Math.floor(Math.random() * 100000);
    $("seed").value = seed;
    updateURL(readForm());
    try {
      startSession(await api("POST", `/api/sessions/${state.session.id}/reseed`, { seed }));
    } catch (err) { showError(err.message); }
  });
}

function regenerate() {
  flushPending();
  enqueue(async () => {
    $("data_seed").value = (Math.max(0, num("data_seed") || 0) + 1 + Math.floor(Math.random() * 1000)) % 2147483647;
    await restart("data regenerated (new data seed): restarted at epoch 0");
  });
}

function editWeight(layer, from, to, value) {
  enqueue(async () => {
    if (!state.session) return;
    const body = { layer, to, value };
    if (from !== null) body.from = from;
    try {
      applyFrame(await api("POST", `/api/sessions/${state.session.id}/weights`, body), state.generation);
      showError(null);
    } catch (err) { showError(err.message); }
  });
}

// A paused page keeps its session: the server drops sessions it has not heard from for
// limits.idle_timeout seconds (a killed tab must not hold its slot).
let heartbeatPath = "heartbeat";

async function heartbeat() {
  if (!state.session || state.playing) return; // a stream keeps it alive by itself
  const id = state.session.id;
  const response = await fetch(heartbeatPath === "heartbeat" ? `/api/sessions/${id}/heartbeat` : `/api/sessions/${id}`,
    { method: heartbeatPath === "heartbeat" ? "POST" : "GET" }).catch(() => null);
  if (!response || response.ok || !state.session || state.session.id !== id) return;
  const data = await response.json().catch(() => null);
  if (response.status === 404 && data && data.error) { // the session itself is gone
    enqueue(() => restart("the session had expired: started a new one at epoch 0"));
  } else if (heartbeatPath === "heartbeat") {
    heartbeatPath = "show"; // a server without the heartbeat route: any request keeps it
  }
}

function startHeartbeat() {
  const idle = (state.options.limits && state.options.limits.idle_timeout) || 300;
  setInterval(heartbeat, Math.max(1000, (1000 * idle) / 4));
}

// ------------------------------------------------------------------------------ drawing
const offscreen = document.createElement("canvas");

function boundaryImage(probs, model, g, K) {
  offscreen.width = g; offscreen.height = g;
  const ctx = offscreen.getContext("2d");
  const img = ctx.createImageData(g, g);
  const hard = $("discretize").checked;
  if (isRegression()) {
    for (let i = 0; i < g * g; i++) {
      let v = (probs[model * g * g + i] - 128) / 127;
      if (hard) v = v < 0 ? -1 : 1;
      const c = diverging(v);
      img.data.set([c[0], c[1], c[2], 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    return offscreen;
  }
  const base = model * g * g * K;
  for (let i = 0; i < g * g; i++) {
    let best = 0, bestP = -1;
    let r = 0, gg = 0, b = 0;
    for (let k = 0; k < K; k++) {
      const p = probs[base + i * K + k] / 255;
      if (p > bestP) { bestP = p; best = k; }
      r += p * COLORS[k][0]; gg += p * COLORS[k][1]; b += p * COLORS[k][2];
    }
    if (hard) { r = COLORS[best][0]; gg = COLORS[best][1]; b = COLORS[best][2]; }
    // confidence 0 at a uniform guess, 1 when sure; mixes the class colour with white
    const conf = hard ? 1 : Math.max(0, (bestP - 1 / K) / (1 - 1 / K));
    const t = 0.15 + 0.6 * conf;
    img.data[4 * i] = 255 + (r - 255) * t;
    img.data[4 * i + 1] = 255 + (gg - 255) * t;
    img.data[4 * i + 2] = 255 + (b - 255) * t;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return offscreen;
}

function pointColor(y) {
  if (isRegression()) return rgb(diverging(y / state.session.value_scale));
  return rgb(COLORS[y]);
}

function drawBoundary(canvas, probs, model, withPoints) {
  const s = state.session;
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.imageSmoothingEnabled = !$("discretize").checked;
  ctx.drawImage(boundaryImage(probs, model, s.grid, s.n_classes || 1), 0, 0, W, H);
  if (!withPoints) return;
  const [x0, x1, y0, y1] = s.extent;
  const px = (x) => ((x - x0) / (x1 - x0)) * W;
  const py = (y) => H - ((y - y0) / (y1 - y0)) * H;
  const dot = (pt, label, stroke) => {
    ctx.beginPath();
    ctx.arc(px(pt[0]), py(pt[1]), W > 300 ? 3.2 : 1.6, 0, 2 * Math.PI);
    ctx.fillStyle = pointColor(label);
    ctx.fill();
    ctx.lineWidth = stroke === "#fff" ? 1 : 1.4;
    ctx.strokeStyle = stroke;
    ctx.stroke();
  };
  if (W < 300) { // small multiples: train points only, no outlines
    for (let i = 0; i < s.train.x.length; i++) {
      const pt = s.train.x[i];
      ctx.fillStyle = pointColor(s.train.y[i]);
      ctx.fillRect(px(pt[0]) - 1.2, py(pt[1]) - 1.2, 2.4, 2.4);
    }
    return;
  }
  s.train.x.forEach((pt, i) => dot(pt, s.train.y[i], "#fff"));
  if ($("show-val").checked) s.val.x.forEach((pt, i) => dot(pt, s.val.y[i], "#111827"));
}

function niceTicks(lo, hi, n = 5) {
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.abs(v) < 1e-9 ? 0 : v);
  return out;
}

// axes with ticks around the boundary (the plane's standardized inputs x1, x2)
function drawAxes() {
  const canvas = $("boundary-axes");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const s = state.session;
  if (!s || s.mode !== "single") return;
  const [x0, x1, y0, y1] = s.extent;
  const L = 38, T = 6, S = 440;
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillStyle = "#6b7280"; ctx.strokeStyle = "#9ca3af"; ctx.lineWidth = 1;
  for (const v of niceTicks(x0, x1)) {
    const x = L + ((v - x0) / (x1 - x0)) * S;
    ctx.beginPath(); ctx.moveTo(x, T + S); ctx.lineTo(x, T + S + 4); ctx.stroke();
    ctx.fillText(String(+v.toFixed(2)), x - 6, T + S + 14);
  }
  for (const v of niceTicks(y0, y1)) {
    const y = T + S - ((v - y0) / (y1 - y0)) * S;
    ctx.beginPath(); ctx.moveTo(L - 4, y); ctx.lineTo(L, y); ctx.stroke();
    ctx.fillText(String(+v.toFixed(2)), 4, y + 3);
  }
  ctx.fillStyle = "#111827";
  ctx.fillText("x1", L + S - 12, T + S + 22);
  ctx.fillText("x2", 6, T + 10);
}

function drawColorbar() {
  const canvas = $("colorbar");
  const ctx = canvas.getContext("2d");
  const W = canvas.width;
  ctx.clearRect(0, 0, W, canvas.height);
  const s = state.session;
  ctx.font = "10px system-ui, sans-serif";
  if (isRegression()) {
    for (let x = 0; x < W; x++) { ctx.fillStyle = rgb(diverging((2 * x) / (W - 1) - 1)); ctx.fillRect(x, 0, 1, 12); }
    ctx.fillStyle = "#374151";
    const sc = s.value_scale;
    ctx.fillText(`${(-sc).toFixed(2)}`, 0, 24);
    ctx.fillText("0", W / 2 - 3, 24);
    ctx.fillText(`${sc.toFixed(2)}`, W - 26, 24);
    ctx.fillText("predicted value (points: their target), same scale", 70, 40);
    return;
  }
  const K = s.n_classes;
  const seg = W / K;
  for (let k = 0; k < K; k++) {
    for (let x = 0; x < seg - 6; x++) {
      const t = 0.15 + 0.6 * (x / (seg - 7));
      const c = COLORS[k].map((v) => 255 + (v - 255) * t);
      ctx.fillStyle = rgb(c); ctx.fillRect(k * seg + x, 0, 1, 12);
    }
    ctx.fillStyle = "#374151";
    ctx.fillText(`class ${s.classes[k]}: unsure → sure`, k * seg, 24);
  }
  ctx.fillText("colour = most likely class; strength = confidence (1/K → 1)", 0, 40);
}

function buildLegend() {
  const s = state.session;
  const classes = s.task === "regression" ? "" : s.classes.map((c, k) =>
    `<span><i style="background:${rgb(COLORS[k])}"></i>class ${c}</span>`).join("");
  $("legend").innerHTML = classes +
    '<span><i class="ring-white"></i>train</span><span><i class="ring-dark"></i>validation</span>';
  if (s.mode === "single") drawColorbar();
}

function chartFrame(canvas) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  return ctx;
}

function drawLines(canvas, series, { ymin, ymax, log = false, xmax, ticks = 3, fmtTick = (v) => v.toFixed(2), bands = [] }) {
  const ctx = chartFrame(canvas);
  const W = canvas.width, H = canvas.height, L = 44, R = 8, T = 8, B = 18;
  const tr = (v) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  const lo = tr(ymin), hi = tr(ymax) === lo ? lo + 1 : tr(ymax);
  const X = (i) => L + (i / Math.max(1, xmax)) * (W - L - R);
  const Y = (v) => Math.min(H - B, Math.max(T, T + (1 - (tr(v) - lo) / (hi - lo)) * (H - T - B)));
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
  for (const b of bands) { // a filled band between lo[i] and hi[i]
    ctx.fillStyle = b.color;
    ctx.beginPath();
    let started = false;
    const idx = [];
    b.lo.forEach((v, i) => { if (Number.isFinite(v) && Number.isFinite(b.hi[i])) idx.push(i); });
    for (const i of idx) { if (!started) { ctx.moveTo(X(i), Y(b.hi[i])); started = true; } else ctx.lineTo(X(i), Y(b.hi[i])); }
    for (const i of idx.slice().reverse()) ctx.lineTo(X(i), Y(b.lo[i]));
    if (started) { ctx.closePath(); ctx.fill(); }
  }
  for (const s of series) {
    ctx.beginPath();
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width || 1.6;
    ctx.setLineDash(s.dash || []);
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined || !Number.isFinite(v)) { pen = false; return; }
      if (pen) ctx.lineTo(X(i), Y(v)); else { ctx.moveTo(X(i), Y(v)); pen = true; }
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
  if (isRegression()) return;
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

// statistics recorded every epoch: stats[e][((layer * 4) + kind) * 6 + q], q = 5 is the RMS
function statSeries(layer, kind, q) {
  const nk = state.session.stat_kinds.length, nq = state.session.quantiles.length + 1;
  const out = new Array(state.stats.length).fill(null);
  state.stats.forEach((s, e) => { if (s) out[e] = s[(layer * nk + kind) * nq + q]; });
  return out;
}

const layerName = (l) => (l === state.session.layer_sizes.length - 2 ? "output" : `hidden ${l + 1}`);

function drawGradChart() {
  const n = state.session.layer_sizes.length - 1;
  const xmax = Math.max(10, state.epoch);
  const series = [];
  let lo = Infinity, hi = -Infinity;
  for (let l = 0; l < n; l++) {
    const values = statSeries(l, 3, 5);
    for (const v of values) if (v > 0 && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    series.push({ values, color: layerColor(l), width: 1.4 });
  }
  if (!Number.isFinite(lo)) { lo = 1e-6; hi = 1; }
  $("grad-key").innerHTML = series.map((_, l) => `<i style="border-color:${layerColor(l)}"></i>${layerName(l)}`).join(" ");
  drawLines($("grad-chart"), series, { ymin: lo / 2, ymax: hi * 2, log: true, xmax, ticks: 2,
    fmtTick: (v) => v.toExponential(0) });
}

function buildBands() {
  const box = $("bands");
  box.innerHTML = "";
  const n = state.session.layer_sizes.length - 1;
  for (let l = 0; l < n; l++) {
    const cell = document.createElement("div");
    cell.className = "band";
    cell.innerHTML = `<canvas width="260" height="110"></canvas><span>${layerName(l)}</span>`;
    box.appendChild(cell);
  }
}

function drawBands() {
  const kind = Number($("stat-kind").value);
  const xmax = Math.max(10, state.epoch);
  const color = layerColor(0);
  $("bands").querySelectorAll("canvas").forEach((canvas, l) => {
    const q = [0, 1, 2, 3, 4].map((i) => statSeries(l, kind, i));
    const finite = q[0].concat(q[4]).filter((v) => v !== null && Number.isFinite(v));
    let ymin = finite.length ? Math.min(...finite) : -1, ymax = finite.length ? Math.max(...finite) : 1;
    if (ymax - ymin < 1e-12) { ymin -= 1e-6; ymax += 1e-6; }
    drawLines(canvas, [{ values: q[2], color, width: 1.4 }], {
      ymin, ymax, xmax, ticks: 2, fmtTick: (v) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(2) : v.toExponential(0)),
      bands: [{ lo: q[0], hi: q[4], color: "rgba(37, 99, 235, 0.15)" }, { lo: q[1], hi: q[3], color: "rgba(37, 99, 235, 0.35)" }],
    });
  });
}

// ------------------------------------------------------------------------------ network view
const unitCanvas = document.createElement("canvas");

function unitImage(bytes, offset, G, nan) {
  const g = Math.round(Math.sqrt(G));
  unitCanvas.width = g; unitCanvas.height = g;
  const ctx = unitCanvas.getContext("2d");
  const img = ctx.createImageData(g, g);
  for (let i = 0; i < G; i++) {
    const c = nan ? [220, 38, 38] : diverging((bytes[offset + i] - 128) / 127);
    img.data.set([c[0], c[1], c[2], 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  return unitCanvas;
}

function featureLabel(f) { return f.replace("^2", "²").replace("*", "·"); }

function drawNetwork() {
  const frame = state.lastFrame;
  const canvas = $("network");
  if (!frame || !frame.diagram) return;
  const layers = frame.diagram.layers;
  const maxShown = Math.max(...layers.map((l) => l.shown));
  const height = Math.max(260, Math.min(560, 32 * maxShown + 40)); // units stay legible
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const W = canvas.width, H = canvas.height, top = 22, bottom = 18;
  const n = layers.length;
  const S = Math.max(10, Math.min(34, (H - top - bottom) / maxShown - 8));
  const colX = (i) => 60 + (i * (W - 120 - S)) / Math.max(1, n - 1);
  const G = state.session.unit_grid ** 2;
  const geo = { units: [], links: [], S };
  const pos = layers.map((layer, i) => {
    const gap = (H - top - bottom) / layer.shown;
    return Array.from({ length: layer.shown }, (_, u) => ({ x: colX(i), y: top + gap * (u + 0.5) - S / 2 }));
  });
  // links first, under the units
  let wmax = 1e-9;
  layers.forEach((l) => (l.weights || []).forEach((row) => row.forEach((w) => { if (w !== null) wmax = Math.max(wmax, Math.abs(w)); })));
  for (let i = 1; i < n; i++) {
    const layer = layers[i];
    layer.weights.forEach((row, a) => row.forEach((w, b) => {
      const p = pos[i - 1][a], q = pos[i][b];
      const x1 = p.x + S, y1 = p.y + S / 2, x2 = q.x, y2 = q.y + S / 2;
      const t = w === null ? 1 : Math.abs(w) / wmax;
      ctx.strokeStyle = w === null ? "rgba(220,38,38,0.9)" : rgb(w < 0 ? NEG : POS, 0.25 + 0.7 * t);
      ctx.lineWidth = 0.4 + 4 * t;
      ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke();
      const g = layer.grads ? layer.grads[a][b] : null;
      geo.links.push({ layer: i, from: a, to: b, w, g, x1, y1, x2, y2 });
    }));
  }
  // gradient sizes of all units on one log scale
  const grads = layers.flatMap((l) => (l.unit_grad || []).filter((g) => g !== null && g > 0));
  const glo = grads.length ? Math.log10(Math.min(...grads)) : 0, ghi = grads.length ? Math.log10(Math.max(...grads)) : 1;
  ctx.font = "10px system-ui, sans-serif";
  layers.forEach((layer, i) => {
    const bytes = decodeBytes(layer.pictures);
    const stat = i > 0 && frame.layers ? frame.layers[i - 1] : null;
    ctx.fillStyle = "#374151";
    const title = i === 0 ? "inputs" : i === n - 1 ? "output" : `hidden ${i} (${layer.units})`;
    ctx.fillText(title, colX(i) - 4, 12);
    if (layer.shown < layer.units) ctx.fillText(`${layer.shown} of ${layer.units} shown`, colX(i) - 4, H - 4);
    pos[i].forEach((p, u) => {
      const nan = layer.nan[u];
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(unitImage(bytes, u * G, G, nan), p.x, p.y, S, S);
      const frac = stat && stat.kind ? stat.inactive[u] : 0;
      const flagged = frac >= FLAG;
      ctx.lineWidth = nan || flagged ? 2.5 : 1;
      ctx.strokeStyle = nan ? "#dc2626" : flagged ? "#b45309" : "#9ca3af";
      ctx.strokeRect(p.x, p.y, S, S);
      if (nan) { ctx.fillStyle = "#fff"; ctx.fillText("NaN", p.x + 2, p.y + S / 2 + 3); }
      if (i === 0) { ctx.fillStyle = "#374151"; ctx.fillText(featureLabel(state.session.features[u]), p.x - 44, p.y + S / 2 + 3); }
      const g = layer.unit_grad ? layer.unit_grad[u] : null;
      if (g !== null && g !== undefined && g > 0) {
        const t = ghi > glo ? (Math.log10(g) - glo) / (ghi - glo) : 1;
        ctx.fillStyle = "#7c3aed";
        ctx.fillRect(p.x, p.y + S + 1, Math.max(1, t * S), 2.5);
      }
      geo.units.push({ layer: i, unit: u, x: p.x, y: p.y, nan, frac, kind: stat ? stat.kind : "",
        grad: g, bias: layer.bias ? layer.bias[u] : null, offset: u * G, bytes });
    });
  });
  state.net = geo;
}

function canvasPoint(event, canvas) {
  const r = canvas.getBoundingClientRect();
  return { x: ((event.clientX - r.left) * canvas.width) / r.width, y: ((event.clientY - r.top) * canvas.height) / r.height,
    px: event.clientX - r.left, py: event.clientY - r.top };
}

function hitNetwork(pt) {
  const geo = state.net;
  if (!geo) return null;
  const unit = geo.units.find((u) => pt.x >= u.x && pt.x <= u.x + geo.S && pt.y >= u.y && pt.y <= u.y + geo.S);
  if (unit) return { unit };
  let best = null, bestD = 5;
  for (const l of geo.links) {
    const dx = l.x2 - l.x1, dy = l.y2 - l.y1;
    const t = Math.max(0, Math.min(1, ((pt.x - l.x1) * dx + (pt.y - l.y1) * dy) / (dx * dx + dy * dy)));
    const d = Math.hypot(pt.x - (l.x1 + t * dx), pt.y - (l.y1 + t * dy));
    if (d < bestD) { bestD = d; best = l; }
  }
  return best ? { link: best } : null;
}

function unitTitle(layer, unit) {
  if (layer === 0) return `input ${featureLabel(state.session.features[unit])}`;
  const last = state.session.layer_sizes.length - 1;
  return layer === last ? `output ${unit + 1}` : `hidden ${layer}, unit ${unit + 1}`;
}

function onNetworkMove(event) {
  const canvas = $("network");
  const pt = canvasPoint(event, canvas);
  const hit = hitNetwork(pt);
  const tip = $("net-tip");
  if (!hit) { tip.hidden = true; canvas.style.cursor = "default"; return; }
  tip.hidden = false;
  tip.style.left = `${Math.min(pt.px + 14, canvas.getBoundingClientRect().width - 250)}px`;
  tip.style.top = `${pt.py + 14}px`;
  const zoom = $("unit-zoom");
  if (hit.unit) {
    const u = hit.unit, G = state.session.unit_grid ** 2;
    zoom.hidden = false;
    const z = zoom.getContext("2d");
    z.imageSmoothingEnabled = true;
    z.drawImage(unitImage(u.bytes, u.offset, G, u.nan), 0, 0, zoom.width, zoom.height);
    let text = unitTitle(u.layer, u.unit);
    if (u.nan) text += ": non-finite (NaN or inf)";
    if (u.kind) text += ` · ${u.kind} on ${Math.round(100 * u.frac)}% of samples`;
    if (u.grad !== null && u.grad !== undefined) text += ` · gradient RMS ${u.grad.toExponential(1)}`;
    if (u.layer > 0) text += ` · bias ${fmt(u.bias, 3)} (click to edit)`;
    $("net-tip-text").textContent = text;
    canvas.style.cursor = u.layer > 0 ? "pointer" : "default";
  } else {
    const l = hit.link;
    zoom.hidden = true;
    $("net-tip-text").textContent = `W${l.layer}[${l.from}→${l.to}] = ${fmt(l.w, 4)}` +
      (l.g !== null && l.g !== undefined ? ` · gradient ${l.g.toExponential(1)}` : "") + " (click to edit)";
    canvas.style.cursor = "pointer";
  }
}

function onNetworkClick(event) {
  const canvas = $("network");
  const pt = canvasPoint(event, canvas);
  const hit = hitNetwork(pt);
  if (!hit || (hit.unit && hit.unit.layer === 0)) return;
  const form = $("weight-editor");
  const target = hit.link
    ? { layer: hit.link.layer, from: hit.link.from, to: hit.link.to, value: hit.link.w, label: `W${hit.link.layer}[${hit.link.from}→${hit.link.to}]` }
    : { layer: hit.unit.layer, from: null, to: hit.unit.unit, value: hit.unit.bias, label: `bias of ${unitTitle(hit.unit.layer, hit.unit.unit)}` };
  state.editing = target;
  $("weight-label").textContent = target.label;
  $("weight-value").value = target.value === null ? "" : target.value;
  form.hidden = false;
  form.style.left = `${Math.min(pt.px, canvas.getBoundingClientRect().width - 260)}px`;
  form.style.top = `${pt.py + 10}px`;
  $("net-tip").hidden = true;
  $("weight-value").focus();
  $("weight-value").select();
}

// ------------------------------------------------------------------------------ sparklines
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
  box.hidden = !$("show-sparks").checked;
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
      html += `<div class="panel" data-model="${m}" title="open ${s.rows.axis}=${rv}, ${s.cols.axis}=${s.cols.values[c]} as a single network"><canvas width="150" height="150"></canvas>` +
        `<div class="acc" id="acc-${m}">–</div></div>`;
    }
  });
  grid.innerHTML = html;
  grid.querySelectorAll(".panel").forEach((p) => p.addEventListener("click", () => openPanel(Number(p.dataset.model))));
  $("compare-title").textContent = `${s.rows.values.length} × ${nc} networks: ${s.rows.axis} by ${s.cols.axis}`;
}

// a compare panel opened as a single network: the grid's settings with this panel's values
function openPanel(m) {
  flushPending();
  enqueue(async () => {
    const s = state.session;
    const nc = s.cols.values.length;
    const cfg = readForm();
    cfg[s.rows.axis] = s.rows.values[Math.floor(m / nc)];
    cfg[s.cols.axis] = s.cols.values[m % nc];
    cfg.mode = "single";
    delete cfg.rows; delete cfg.cols;
    writeForm(cfg);
    await restart(`opened ${s.rows.axis}=${cfg[s.rows.axis]}, ${s.cols.axis}=${cfg[s.cols.axis]} as a single network`);
  });
}

function drawCompare(frame, probs) {
  const panels = $("compare-grid").querySelectorAll(".panel");
  const reg = isRegression();
  const key = reg ? "val_loss" : "val_acc";
  const score = frame.metrics[key];
  const divs = {};
  for (const d of frame.divergence || []) divs[d.model] = d;
  let best = -1, bestScore = reg ? Infinity : -1;
  score.forEach((a, m) => {
    if (a === null || divs[m]) return;
    if (reg ? a < bestScore : a > bestScore) { bestScore = a; best = m; }
  });
  panels.forEach((panel) => {
    const m = Number(panel.dataset.model);
    drawBoundary(panel.querySelector("canvas"), probs, m, true);
    const diverged = frame.diverged[m] || !!divs[m];
    panel.classList.toggle("best", m === best);
    panel.classList.toggle("diverged", diverged);
    $(`acc-${m}`).textContent = diverged ? `diverged at epoch ${divs[m] ? divs[m].epoch : "?"}` : reg
      ? `val loss ${fmt(score[m], 4)}`
      : `val ${pct(score[m])} · train ${pct(frame.metrics.train_acc[m])}`;
  });
  drawCompareChart(key);
}

function drawCompareChart(key) {
  const s = state.session, nr = s.rows.values.length, nc = s.cols.values.length;
  const xmax = Math.max(10, state.epoch);
  const reg = key === "val_loss";
  const opts = reg
    ? { ymin: 0, ymax: 1, xmax }
    : { ymin: 0, ymax: 1, xmax, fmtTick: (v) => `${Math.round(100 * v)}%` };
  const hist = state.history[key];
  if (reg) {
    const finite = hist.flat().filter((v) => v !== null && Number.isFinite(v));
    opts.ymax = finite.length ? Math.min(Math.max(...finite), 10) * 1.05 : 1;
  }
  $("compare-chart-title").textContent = reg ? "Validation loss" : "Validation accuracy";
  const seedOn = s.rows.axis === "seed" ? "rows" : s.cols.axis === "seed" ? "cols" : null;
  if (!seedOn) {
    $("compare-chart-note").textContent = "one line per panel, coloured by row";
    const series = [];
    for (let m = 0; m < nr * nc; m++) {
      series.push({ values: column(key, m), color: rgb(COLORS[Math.floor(m / nc) % COLORS.length], 0.85), width: 1.2 });
    }
    drawLines($("compare-chart"), series, opts);
    return;
  }
  // seeds are repeats: one mean line per value of the other axis, a band from min to max
  const other = seedOn === "rows" ? s.cols : s.rows;
  const members = other.values.map((_, g) => (seedOn === "rows"
    ? s.rows.values.map((__, r) => r * nc + g)
    : s.cols.values.map((__, c) => g * nc + c)));
  const series = [], bands = [];
  members.forEach((ms, g) => {
    const mean = [], lo = [], hi = [];
    hist.forEach((row, e) => {
      const v = row ? ms.map((m) => row[m]).filter((x) => x !== null && Number.isFinite(x)) : [];
      mean[e] = v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
      lo[e] = v.length ? Math.min(...v) : null;
      hi[e] = v.length ? Math.max(...v) : null;
    });
    const color = COLORS[g % COLORS.length];
    series.push({ values: mean, color: rgb(color), width: 1.8 });
    bands.push({ lo, hi, color: rgb(color, 0.18) });
  });
  $("compare-chart-note").innerHTML = `mean over the ${members[0].length} seeds with a band from the lowest to the highest, one per ${other.axis}: ` +
    other.values.map((v, g) => `<span style="color:${rgb(COLORS[g % COLORS.length])}">■</span> ${v}`).join(" ");
  drawLines($("compare-chart"), series, { ...opts, bands });
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
  if (restartNow) {
    clearTimeout(state.pending); state.pending = null; state.changed.clear();
    enqueue(() => restart(null));
  }
}

// ------------------------------------------------------------------------------ classroom
function hideTarget(name) {
  if (HIDE_TARGETS[name]) return document.querySelector(HIDE_TARGETS[name]);
  const el = $(name);
  if (!el) return null;
  return el.closest("label") || el;
}

function applyHide(names) {
  for (const name of names) {
    const el = hideTarget(name);
    if (el) { el.hidden = true; el.classList.add("lesson-hidden"); }
  }
}

function openLesson(name, notes) {
  if (!name) return {};
  const lesson = (state.options.lessons || []).find((l) => l.name === name);
  if (!lesson) {
    notes.push(`unknown lesson "${name}"; the lessons are: ${(state.options.lessons || []).map((l) => l.name).join(", ")}`);
    return {};
  }
  state.lesson = lesson;
  $("lesson").hidden = false;
  $("lesson-title").textContent = lesson.title;
  $("lesson-text").textContent = lesson.text;
  return lesson.settings;
}

function pageSettings(q, notes) {
  const speed = q.get("speed");
  if (speed !== null) {
    if ([...$("speed").options].some((o) => o.value === speed)) $("speed").value = speed;
    else notes.push(`URL parameter "speed" ignored: ${speed} is not one of ${[...$("speed").options].map((o) => o.value).join(", ")}; using 30`);
  }
  $("discretize").checked = q.get("discretize") === "1" || q.get("discretize") === "true";
  $("show-sparks").checked = q.get("sparks") === "1" || q.get("sparks") === "true";
  const hide = (q.get("hide") || "").split(",").map((t) => t.trim()).filter((t) => t);
  const unknown = hide.filter((h) => !hideTarget(h));
  if (unknown.length) notes.push(`hide= names no control: ${unknown.join(", ")}`);
  state.hidden = [...(state.lesson ? state.lesson.hide : []), ...hide.filter((h) => hideTarget(h))];
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
function wire() {
  document.querySelectorAll("#controls input, #controls select").forEach((el) => {
    el.addEventListener(el.type === "range" ? "input" : "change", onControlChange);
  });
  $("problem").addEventListener("change", () => {
    fillTaskControls($("problem").value, undefined, undefined);
    syncVisibility();
  });
  $("dataset").addEventListener("change", () => fillTaskControls(taskOf($("dataset").value), $("dataset").value, $("loss").value));
  $("optimizer").addEventListener("change", () => renderHyper($("optimizer").value));
  $("rows-axis").addEventListener("change", () => { $("rows-values").value = AXIS_DEFAULTS[$("rows-axis").value]; });
  $("cols-axis").addEventListener("change", () => { $("cols-values").value = AXIS_DEFAULTS[$("cols-axis").value]; });
  document.querySelectorAll(".mode").forEach((b) => b.addEventListener("click", () => { flushPending(); setMode(b.dataset.mode); }));
  $("play").addEventListener("click", togglePlay);
  $("step").addEventListener("click", stepOnce);
  $("reset").addEventListener("click", reset);
  $("reseed").addEventListener("click", reseed);
  $("regenerate").addEventListener("click", regenerate);
  $("export").addEventListener("click", openExport);
  $("share").addEventListener("click", (e) => copy(location.href, e.target));
  $("copy-toml").addEventListener("click", (e) => copy($("export-toml").textContent, e.target));
  $("copy-python").addEventListener("click", (e) => copy($("export-python").textContent, e.target));
  $("error-close").addEventListener("click", () => showError(null));
  $("note-close").addEventListener("click", () => showNote(null));
  $("show-val").addEventListener("change", redraw);
  $("discretize").addEventListener("change", () => { updateURL(readForm()); redraw(); });
  $("show-sparks").addEventListener("change", () => {
    $("sparks").hidden = !$("show-sparks").checked; updateURL(readForm()); if ($("show-sparks").checked) drawSparks();
  });
  $("stat-kind").addEventListener("change", drawBands);
  $("speed").addEventListener("change", () => {
    updateURL(readForm());
    if (state.playing) enqueue(async () => { await stopStream(true); startPlay(); });
  });
  $("network").addEventListener("mousemove", onNetworkMove);
  $("network").addEventListener("mouseleave", () => { $("net-tip").hidden = true; });
  $("network").addEventListener("click", onNetworkClick);
  $("weight-editor").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = state.editing;
    $("weight-editor").hidden = true;
    if (t) editWeight(t.layer, t.from, t.to, Number($("weight-value").value));
  });
  $("weight-cancel").addEventListener("click", () => { $("weight-editor").hidden = true; });
  $("blog-grid").addEventListener("click", () => {
    $("rows-axis").value = "activation"; $("rows-values").value = AXIS_DEFAULTS.activation;
    $("cols-axis").value = "init"; $("cols-values").value = AXIS_DEFAULTS.init;
    scheduleRestart();
  });
  $("blog-recipe").addEventListener("click", () => {
    // the blog: make_blobs, [2, 2, 4], np.random.seed(0), its "xavier" = LeCun normal,
    // N(0, 1) biases (zeros with zero init), full-batch GD with eta 1 for 50 epochs
    writeForm({ dataset: "blog", hidden: [2], optimizer: "gd", learning_rate: 1, batch_size: 0,
      bias_init: "blog", rng_kind: "legacy", seed: 0, epochs: 50, mode: "compare", features: ["x1", "x2"],
      loss: "cross_entropy", rows: { axis: "activation", values: ["sigmoid", "tanh", "relu", "leaky_relu"] },
      cols: { axis: "init", values: ["zeros", "random", "lecun_normal", "he_normal"] } });
    setMode("compare", false);
    scheduleRestart();
  });
  window.addEventListener("beforeunload", () => {
    if (state.session) fetch(`/api/sessions/${state.session.id}`, { method: "DELETE", keepalive: true });
  });
}

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
  const notes = [];
  const q = new URLSearchParams(location.search);
  const lessonSettings = openLesson(q.get("lesson"), notes);
  pageSettings(q, notes);
  const cfg = { ...JSON.parse(JSON.stringify(o.defaults)), ...lessonSettings, ...queryToConfig(location.search) };
  cfg.hyperparameters = { ...(o.defaults.hyperparameters || {}), ...(cfg.hyperparameters || {}) };
  if (cfg.dataset && !o.datasets.includes(cfg.dataset)) {
    notes.push(`URL parameter "dataset" ignored: unknown data set "${cfg.dataset}"; using the default`);
    cfg.dataset = o.defaults.dataset;
  }
  if (!["single", "compare"].includes(cfg.mode)) {
    notes.push(`URL parameter "mode" ignored: "${cfg.mode}" is not single or compare`);
    cfg.mode = "single";
  }
  if (!cfg.loss || !o.losses.some((l) => l.name === cfg.loss && l.task === taskOf(cfg.dataset))) {
    if (q.has("loss")) notes.push(`URL parameter "loss" ignored: "${cfg.loss}" does not fit a ${taskOf(cfg.dataset)} data set`);
    cfg.loss = o.losses.find((l) => l.task === taskOf(cfg.dataset)).name;
  }
  writeForm(cfg);
  wire();
  startHeartbeat();
  try {
    const data = await createFirst(readFormOr(cfg), notes);
    startSession(data);
    performance.mark("first-picture"); // benchmarks/playground.py reads it
    writeForm({ ...data.config, loss: data.config.loss });
    updateURL(readForm());
  } catch (err) {
    showError(err.message); markField(err.field);
  }
  if (notes.length) showNote(notes.join(" · "));
}

// the form as read back, with the URL's values where the form could not hold them
function readFormOr(cfg) {
  const form = readForm();
  for (const k of ["noise", "n_samples", "val_size", "data_seed", "learning_rate", "seed", "epochs", "batch_size", "l1", "l2", "leaky_slope"]) {
    if (typeof cfg[k] === "number" && !Number.isFinite(cfg[k])) form[k] = cfg[k]; // refused below, with a note
  }
  for (const k of ["activation", "init", "bias_init", "optimizer", "rng_kind", "loss"]) {
    if (cfg[k] !== undefined && $(k).value !== String(cfg[k])) form[k] = cfg[k]; // not an option here
  }
  return form;
}

function redraw() {
  if (!state.session || !state.lastProbs) return;
  if (state.session.mode === "single") {
    const f = state.lastFrame;
    const div = f && (f.divergence || []).some((d) => d.model === 0) && f.diverged[0];
    drawBoundary($("boundary"), div && state.lastGood ? state.lastGood : state.lastProbs, 0, true);
  } else if (state.lastFrame) drawCompare(state.lastFrame, state.lastProbs);
}

main();
