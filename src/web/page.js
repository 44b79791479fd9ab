// genred's live view: the records of the results file as they are written
// (Server-Sent Events from /events), the recent ones from /api/recent when the
// page (re)connects, and the sources' state from /healthz. No library, no
// network beyond genred itself.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
// Tableau 10: distinct for the ten GTZAN genres, readable on white.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const MAX_FILES = 50;            // rows in the drop-folder table
const MAX_SPAN_S = 900;          // the longest chart span offered; older mic records are let go
const RECENT_ON_CONNECT = 500;   // records asked for when the page (re)connects
const RECONNECT_MS = 5000;       // after a refusal or a closed stream (EventSource retries the rest itself)
const HEALTH_EVERY_MS = 2000;
const TOP_TAGS_NOW = 5;
const TOP_TAGS_PER_FILE = 3;

const state = {
  health: null,
  clockOffsetMs: 0,  // server clock minus this browser's, from /healthz
  seen: new Set(),   // the keys of the records held, so one given twice (recent + event) counts once
  mic: [],           // oldest first
  files: [],         // newest first
  labels: [],        // the model's genre labels, in its order
};

const $ = (id) => document.getElementById(id);

function now() { return Date.now() + state.clockOffsetMs; }

function colorOf(label) {
  let index = state.labels.indexOf(label);
  if (index < 0) { state.labels.push(label); index = state.labels.length - 1; }
  return PALETTE[index % PALETTE.length];
}

function hopMs() { return 1000 * ((state.health && state.health.sources.mic.hop_s) || 5); }
function downAfterMs() { return 1000 * ((state.health && state.health.sources.mic.down_after_s) || 15); }

// ---- records -------------------------------------------------------------

// A record's identity: a source writes one record per file version or window end.
function keyOf(record) {
  return [record.source, record.time, record.path, record.device, record.size, record.mtime].join("|");
}

function addRecord(record) {
  record.key = keyOf(record);
  record.t = Date.parse(record.time);
  if (state.seen.has(record.key) || !Number.isFinite(record.t)) return false;
  state.seen.add(record.key);
  if (record.source === "mic") {
    let at = state.mic.length;
    while (at > 0 && state.mic[at - 1].t > record.t) at--;
    state.mic.splice(at, 0, record);
    const oldest = now() - MAX_SPAN_S * 1000;
    while (state.mic.length > 1 && state.mic[0].t < oldest) state.seen.delete(state.mic.shift().key);
  } else if (record.source === "file") {
    let at = 0;
    while (at < state.files.length && state.files[at].t > record.t) at++;
    state.files.splice(at, 0, record);
    while (state.files.length > MAX_FILES) state.seen.delete(state.files.pop().key);
  }
  return true;
}

// The best tags over every vocabulary; a tag two vocabularies share counts once, at its higher score.
function topTags(tags, n) {
  const best = new Map();
  for (const vocabulary of Object.values(tags || {})) {
    for (const [tag, p] of Object.entries(vocabulary)) best.set(tag, Math.max(p, best.get(tag) ?? -1));
  }
  return [...best.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

// ---- connection ----------------------------------------------------------

function setPill(id, text, kind) {
  const pill = $(id);
  pill.textContent = text;
  pill.className = "pill " + kind;
}

async function loadRecent() {
  try {
    const response = await fetch("/api/recent?n=" + RECENT_ON_CONNECT, { cache: "no-store" });
    const records = await response.json();
    let added = false;
    for (const record of records) added = addRecord(record) || added;
    if (added) render();
  } catch (_) { /* the event stream's own error handler reports the outage */ }
}

function connect() {
  const events = new EventSource("/events");
  events.onopen = () => {
    setPill("connection", "live", "ok");
    refreshHealth();
    loadRecent();
  };
  events.onmessage = (event) => {
    let record;
    try { record = JSON.parse(event.data); } catch (_) { return; }
    if (addRecord(record)) render();
  };
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) {
      // Refused (too many live views) or not an event stream: try again later.
      events.close();
      setPill("connection", "not connected, retrying", "bad");
      setTimeout(connect, RECONNECT_MS);
    } else {
      setPill("connection", "reconnecting…", "wait");
    }
  };
}

async function refreshHealth() {
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    const health = await response.json();
    state.health = health;
    state.clockOffsetMs = Date.parse(health.time) - Date.now();
    for (const label of health.model.labels) colorOf(label);
    showHealth(health);
    render();
  } catch (_) {
    setPill("mic-state", "microphone: unknown", "wait");
  }
}

const MIC_STATES = {
  up: ["listening", "ok"], silence: ["silence", "wait"], starting: ["starting", "wait"],
  down: ["no input", "bad"], off: ["off", "plain"],
};

function showHealth(health) {
  const mic = health.sources.mic;
  const [micText, micKind] = MIC_STATES[mic.state] || [mic.state, "wait"];
  setPill("mic-state", "microphone: " + micText + (mic.device ? " (" + mic.device + ")" : ""), micKind);
  const folder = health.sources.folder;
  setPill("folder-state", folder.state === "up" ? "drop folder: " + folder.paths.join(", ") : "drop folder: off",
    folder.state === "up" ? "ok" : "plain");
  setPill("model", "model: " + health.model.name, "plain");
  setPill("uptime", "up " + duration(health.uptime_s), "plain");
}

function duration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

// A record's own time, as genred wrote it, in this browser's time zone.
// A tick of the time axis: the spans offered are whole minutes.
function axisDuration(seconds) {
  const s = Math.round(seconds);
  return s < 60 ? s + " s" : (s % 60 === 0 ? s / 60 + " min" : Math.floor(s / 60) + " min " + (s % 60) + " s");
}

function clock(t) {
  return new Date(t).toLocaleTimeString([], { hour12: false });
}

// ---- the chart -----------------------------------------------------------

function svg(name, attributes, parent) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (parent) parent.appendChild(element);
  return element;
}

function svgText(text, attributes, parent) {
  const element = svg("text", attributes, parent);
  element.textContent = text;
  return element;
}

// Periods with no prediction for longer than the health report's down_after_s:
// the device was lost or being reopened. Includes the time since the last record.
function lostPeriods(records, end) {
  const periods = [];
  const limit = downAfterMs();
  for (let i = 1; i < records.length; i++) {
    if (records[i].t - records[i - 1].t > limit) periods.push([records[i - 1].t, records[i].t]);
  }
  const last = records[records.length - 1];
  if (last && end - last.t > limit) periods.push([last.t, end]);
  const micDown = state.health && state.health.sources.mic.state === "down";
  if (!last && micDown) periods.push([end - MAX_SPAN_S * 1000, end]);
  return periods;
}

function renderChart() {
  const chart = $("chart");
  const width = chart.clientWidth || 900;
  const height = chart.clientHeight || 260;
  const margin = { left: 64, right: 12, top: 24, bottom: 22 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const spanMs = 1000 * Number($("span").value);
  const end = now();
  const start = end - spanMs;
  const x = (t) => margin.left + ((Math.min(Math.max(t, start), end) - start) / spanMs) * plotWidth;
  const y = (p) => margin.top + (1 - p) * plotHeight;

  chart.replaceChildren();
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const defs = svg("defs", {}, chart);
  const hatch = svg("pattern", { id: "hatch", width: 8, height: 8, patternUnits: "userSpaceOnUse",
    patternTransform: "rotate(45)" }, defs);
  svg("rect", { width: 8, height: 8, fill: "#fff5f5" }, hatch);
  svg("line", { x1: 0, y1: 0, x2: 0, y2: 8, stroke: "#f3b5b9", "stroke-width": 3 }, hatch);

  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    svg("line", { class: "grid", x1: margin.left, x2: width - margin.right, y1: y(p), y2: y(p) }, chart);
    svgText(p.toFixed(2), { class: "axis", x: margin.left - 4, y: y(p) + 4, "text-anchor": "end" }, chart);
  }
  for (let i = 0; i <= 5; i++) {
    const t = start + (spanMs * i) / 5;
    const label = i === 5 ? "now" : "−" + axisDuration((end - t) / 1000);
    svgText(label, { class: "axis", x: x(t), y: height - 6, "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle" }, chart);
  }

  const records = state.mic;
  const visible = records.filter((r) => r.t >= start - hopMs());
  chart.dataset.micRecords = String(records.length);
  const hop = hopMs();

  for (const r of visible.filter((r) => r.silence)) {
    const left = x(r.t - hop), right = x(r.t);
    svg("rect", { class: "silence", x: left, y: margin.top, width: Math.max(right - left, 1), height: plotHeight }, chart);
    if (right - left > 40) svgText("silence", { class: "period-label", x: (left + right) / 2, y: margin.top + 14, "text-anchor": "middle" }, chart);
  }
  for (const [from, to] of lostPeriods(records, end)) {
    if (to < start) continue;
    const left = x(from), right = x(to);
    svg("rect", { class: "lost", x: left, y: margin.top, width: Math.max(right - left, 1), height: plotHeight }, chart);
    if (right - left > 50) svgText("no input", { class: "lost-label", x: (left + right) / 2, y: margin.top + 14, "text-anchor": "middle" }, chart);
  }

  // One line per genre, broken at silence and at lost periods.
  const labels = [...state.labels];
  for (const r of visible) for (const label of Object.keys(r.probabilities || {})) if (!labels.includes(label)) { colorOf(label); labels.push(label); }
  for (const label of labels) {
    let d = "", previous = null;
    for (const r of visible) {
      const p = r.probabilities && r.probabilities[label];
      if (r.silence || p === undefined) { previous = null; continue; }
      const joined = previous && r.t - previous.t <= downAfterMs();
      d += (joined ? "L" : "M") + x(r.t).toFixed(1) + " " + y(p).toFixed(1) + " ";
      previous = r;
    }
    if (d) svg("path", { class: "genre-line", "data-genre": label, d, stroke: colorOf(label) }, chart);
  }

  // The smoothed genre, as a band above the plot: what genred would say now.
  svgText("smoothed", { class: "axis", x: margin.left - 4, y: 15, "text-anchor": "end" }, chart);
  for (let i = 0; i < visible.length; i++) {
    const r = visible[i];
    if (!r.smoothed_genre) continue;
    const from = i > 0 && r.t - visible[i - 1].t <= downAfterMs() ? visible[i - 1].t : r.t - hop;
    const band = svg("rect", { class: "smoothed", "data-genre": r.smoothed_genre, x: x(from), y: 6,
      width: Math.max(x(r.t) - x(from), 2), height: 12, fill: colorOf(r.smoothed_genre) }, chart);
    svgText(r.smoothed_genre + " (smoothed) at " + clock(r.t), {}, svg("title", {}, band));
  }
  renderLegend(labels, records[records.length - 1]);
}

function renderLegend(labels, latest) {
  const legend = $("legend");
  legend.replaceChildren();
  const current = latest && latest.smoothed_genre;
  for (const label of labels) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colorOf(label);
    item.append(swatch, label + (label === current ? " (smoothed)" : ""));
    if (label === current) item.className = "current";
    legend.appendChild(item);
  }
}

function renderNow() {
  const latest = state.mic[state.mic.length - 1];
  const box = $("now-playing");
  box.replaceChildren();
  if (!latest) { box.textContent = "no prediction yet"; return; }
  if (now() - latest.t > downAfterMs()) {
    box.textContent = "no input since " + clock(latest.t);
    return;
  }
  if (latest.silence) {
    box.textContent = "silence" + (latest.smoothed_genre ? " (last heard: " + latest.smoothed_genre + ")" : "");
    return;
  }
  const genre = document.createElement("strong");
  genre.textContent = latest.genre;
  box.append(genre, " " + latest.confidence.toFixed(2));
  if (latest.smoothed_genre) box.append(" · smoothed: " + latest.smoothed_genre);
  if (latest.provisional) box.append(" · provisional (" + Math.round(latest.window_s) + " s heard)");
}

function renderTags() {
  const list = $("tags");
  list.replaceChildren();
  const tagged = [...state.mic].reverse().find((r) => r.tags && !r.silence);
  if (!tagged) {
    const none = document.createElement("li");
    none.className = "dim";
    none.textContent = state.mic.length ? "no tags in the microphone's records" : "none yet";
    list.appendChild(none);
    return;
  }
  for (const [tag, p] of topTags(tagged.tags, TOP_TAGS_NOW)) {
    const chip = document.createElement("li");
    chip.className = "tag";
    const score = document.createElement("span");
    score.className = "p";
    score.textContent = " " + p.toFixed(2);
    chip.append(tag, score);
    list.appendChild(chip);
  }
}

// ---- the drop-folder table ------------------------------------------------

function cell(row, className, text) {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function baseName(path) { return String(path).split("/").pop(); }

// Where the record says the file went, as `sorted/<genre>/<name>` (the last parts).
function actionOf(record) {
  const tail = (path) => String(path).split("/").slice(-3).join("/");
  if (record.action_error) return [record.action_error, "action error"];
  if (record.moved_to) return ["moved to …/" + tail(record.moved_to), "action"];
  if (record.copied_to) return ["copied to …/" + tail(record.copied_to), "action"];
  return ["left in place", "action dim"];
}

function renderFiles() {
  const body = $("files").tBodies[0];
  body.replaceChildren();
  $("no-files").hidden = state.files.length > 0;
  for (const record of state.files) {
    const row = document.createElement("tr");
    row.dataset.path = record.path;
    cell(row, "time", clock(record.t));
    cell(row, "file", baseName(record.path)).title = record.path;
    if (record.error) {
      row.className = "failed";
      cell(row, "error", record.error).colSpan = 3;
    } else {
      cell(row, "genre", record.genre);
      cell(row, "confidence", record.confidence.toFixed(2));
      const tags = topTags(record.tags, TOP_TAGS_PER_FILE);
      cell(row, "tags", tags.length ? tags.map(([tag, p]) => tag + " " + p.toFixed(2)).join(", ") : "—");
    }
    const [action, className] = actionOf(record);
    cell(row, className, action);
    body.appendChild(row);
  }
}

function render() {
  renderChart();
  renderNow();
  renderTags();
  renderFiles();
}

$("span").addEventListener("change", render);
window.addEventListener("resize", render);
// The time axis moves on even when nothing is heard.
setInterval(() => { renderChart(); renderNow(); }, 1000);
setInterval(refreshHealth, HEALTH_EVERY_MS);
render();
connect();
