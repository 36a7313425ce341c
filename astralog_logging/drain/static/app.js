// The local drain's page: read-only, no framework, no build step.
// Everything logged is put on the page with textContent, never parsed as HTML.
"use strict";

const FILTERS = ["level", "q", "service", "logger", "trace_id", "request_id", "since", "until"];
const LEVELS = ["debug", "info", "warn", "error", "critical"];
const COLORS = { debug: "#9aa3b2", info: "#3fa35b", warn: "#e0a100", error: "#d6334a", critical: "#7a0016" };
const MAX_ROWS = 1000;
const state = { filters: {}, next: null, top: 0, paused: false, held: [], heldCount: 0,
                source: null, timer: null };
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function readFilters() {
  const params = new URLSearchParams(location.search);
  const found = {};
  for (const name of FILTERS) if (params.get(name)) found[name] = params.get(name);
  return found;
}

function query(extra) {
  const params = new URLSearchParams(state.filters);
  for (const [name, value] of Object.entries(extra || {})) params.set(name, value);
  return params.toString();
}

async function getJSON(path) {
  const reply = await fetch(path, { cache: "no-store" });
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error || "HTTP " + reply.status);
  return body;
}

function navigate(filters) {
  const search = new URLSearchParams(filters).toString();
  history.pushState(null, "", search ? "?" + search : location.pathname);
  load();
}

function narrow(name, value) {
  return (event) => {
    event.stopPropagation();
    navigate({ ...state.filters, [name]: value });
  };
}

function chip(name, label, value) {
  const button = el("button", "chip " + name, label + " " + value);
  button.type = "button";
  button.title = "show only " + label + " " + value;
  button.addEventListener("click", narrow(name, value));
  return button;
}

function requestId(entry) {
  const meta = entry.meta;
  return meta && typeof meta.request_id === "string" ? meta.request_id : null;
}

function levelBadge(level) {
  const known = LEVELS.includes(level) ? level : "other";
  return el("span", "level level-" + known, String(level).toUpperCase());
}

function makeRow(item) {
  const entry = item.entry;
  const row = el("tr", "row");
  row.dataset.id = item.id;
  const stamp = String(entry.timestamp);
  const time = el("td", "time", stamp.slice(11, 23));
  time.title = stamp;
  const level = el("td");
  level.append(levelBadge(entry.level));
  const message = el("td", "message");
  message.append(el("span", "text", entry.message));
  if (entry.exception) {
    message.append(el("span", "exc-summary", entry.exception.type + ": " + entry.exception.message));
  }
  const request = requestId(entry);
  if (request) message.append(chip("request_id", "request", request));
  if (entry.trace_id) message.append(chip("trace_id", "trace", entry.trace_id));
  row.append(time, level, el("td", "service", item.service), el("td", "logger", entry.logger),
             el("td", "where", entry.host + "/" + entry.pid), message);
  row.addEventListener("click", () => toggle(row, item));
  return row;
}

function toggle(row, item) {
  const open = row.nextElementSibling;
  if (open && open.classList.contains("detail")) { open.remove(); return; }
  const detail = el("tr", "detail");
  const cell = el("td");
  cell.colSpan = 6;
  cell.append(details(item));
  detail.append(cell);
  row.after(detail);
}

function field(list, name, value) {
  if (value === undefined || value === null || value === "") return;
  list.append(el("dt", null, name));
  const dd = el("dd");
  if (value instanceof Node) dd.append(value); else dd.textContent = typeof value === "string" ? value : JSON.stringify(value);
  list.append(dd);
}

function details(item) {
  const entry = item.entry;
  const box = el("div");
  const list = el("dl", "fields");
  field(list, "timestamp", entry.timestamp);
  field(list, "service", item.service);
  field(list, "process", entry.process_name + " (pid " + entry.pid + ") on " + entry.host);
  field(list, "thread", entry.thread_name);
  if (entry.source) field(list, "source", entry.source.file + ":" + entry.source.line + " in " + entry.source.function);
  if (entry.trace_id) field(list, "trace id", chip("trace_id", "trace", entry.trace_id));
  field(list, "span id", entry.span_id);
  if (requestId(entry)) field(list, "request id", chip("request_id", "request", requestId(entry)));
  if (Array.isArray(entry.tags) && entry.tags.length) field(list, "tags", entry.tags.join(", "));
  for (const [key, value] of Object.entries(entry.meta || {})) field(list, "meta." + key, value);
  if (Array.isArray(entry.notes)) field(list, "notes", entry.notes.join("; "));
  if (entry.truncated) field(list, "truncated", "yes: the sender cut it to fit");
  box.append(list);
  if (entry.exception) box.append(exceptionView(entry.exception));
  const raw = el("details");
  raw.append(el("summary", null, "the entry as stored (JSON)"), el("pre", null, JSON.stringify(entry, null, 2)));
  box.append(raw);
  return box;
}

function exceptionView(exception) {
  const box = el("div", "exc");
  let link = exception;
  for (let depth = 0; link && depth < 20; depth += 1, link = link.cause) {
    if (depth) box.append(el("div", "exc-link", "cause"));
    const head = el("div", "exc-head");
    const module = link.module && link.module !== "builtins" ? link.module + "." : "";
    head.append(el("span", "exc-type", module + link.type), el("span", "exc-message", ": " + link.message));
    const frames = el("ol", "frames");
    for (const frame of link.frames || []) frames.append(el("li", null, frame.file + ":" + frame.line + " in " + frame.function));
    box.append(head, frames);
    for (const note of link.notes || []) box.append(el("div", "exc-note", note));
    if (Array.isArray(link.exceptions)) {
      const group = el("div", "exc-group");
      group.append(el("div", "exc-link", "group of " + link.exceptions.length));
      for (const member of link.exceptions) group.append(exceptionView(member));
      box.append(group);
    }
  }
  if (exception.stacktrace) {
    const text = el("details");
    text.append(el("summary", null, "traceback as printed"), el("pre", null, exception.stacktrace));
    box.append(text);
  }
  return box;
}

// Keeps the newest MAX_ROWS rows; "Load older" then starts at the newest row removed.
function trim() {
  const body = $("entries").tBodies[0];
  let rows = body.querySelectorAll("tr.row").length;
  while (rows > MAX_ROWS) {
    const last = body.lastElementChild;
    if (last.classList.contains("row")) {
      state.next = Number(last.dataset.id) + 1;  // "before" is exclusive
      rows -= 1;
    }
    last.remove();
  }
  $("older").hidden = state.next === null;
}

function prepend(rows) {
  const body = $("entries").tBodies[0];
  const fresh = document.createDocumentFragment();
  for (const item of rows.filter((r) => r.id > state.top).reverse()) fresh.append(makeRow(item));
  for (const item of rows) state.top = Math.max(state.top, item.id);
  body.prepend(fresh);
  trim();
}

function showPaused() {
  const status = $("live-status");
  status.className = state.paused ? "paused" : "";
  status.textContent = state.paused ? "paused: " + state.heldCount + " new since" : "live";
  $("pause").textContent = state.paused ? "Resume" : "Pause";
}

function onEntries(event) {
  const data = JSON.parse(event.data);
  if (state.paused) {
    state.held.push(...data.rows);
    state.held = state.held.slice(-MAX_ROWS);
    state.heldCount += data.rows.length + data.skipped;
    showPaused();
    return;
  }
  prepend(data.rows);
  if (data.skipped) $("error").textContent = data.skipped + " entries arrived faster than shown live; Filter reloads them";
}

function showCounters(counts) {
  const box = $("counters");
  box.replaceChildren();
  const add = (text, bad) => box.append(el("span", bad ? "bad" : null, text));
  add(counts.stored.toLocaleString() + " stored");
  add(counts.batches.toLocaleString() + " batches, " + counts.entries.toLocaleString() + " entries since start");
  add(counts.duplicates.toLocaleString() + " duplicate batches ignored");
  const refused = Object.entries(counts.rejected);
  add(refused.length ? "refused: " + refused.map(([status, n]) => status + " ×" + n).join(", ") : "no request refused", refused.length > 0);
  if (counts.last_rejected) box.lastElementChild.title = "last: " + counts.last_rejected.status + " " + counts.last_rejected.error;
}

function openStream(after) {
  if (state.source) state.source.close();
  const source = new EventSource("/api/stream?" + query({ after: after }));
  source.addEventListener("entries", onEntries);
  source.addEventListener("counters", (event) => showCounters(JSON.parse(event.data)));
  source.onopen = () => showPaused();
  source.onerror = () => { $("live-status").textContent = "reconnecting…"; };
  state.source = source;
}

async function drawHistogram() {
  const data = await getJSON("/api/histogram?" + query());
  const canvas = $("histogram");
  const width = canvas.width = canvas.clientWidth || 1200;
  const height = canvas.height;
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, width, height);
  const buckets = new Map();
  for (const [at, level, n] of data.counts) {
    if (!buckets.has(at)) buckets.set(at, {});
    buckets.get(at)[level] = n;
  }
  const keys = [...buckets.keys()];
  const totals = keys.map((key) => Object.values(buckets.get(key)).reduce((a, b) => a + b, 0));
  const highest = Math.max(1, ...totals);
  const step = Math.min(width / Math.max(keys.length, 1), width / 15);
  keys.forEach((key, index) => {
    let y = height;
    for (const level of LEVELS) {
      const n = buckets.get(key)[level] || 0;
      const h = (n / highest) * (height - 4);
      context.fillStyle = COLORS[level];
      context.fillRect(index * step, y - h, Math.max(step - 1, 1), h);
      y -= h;
    }
  });
  const span = keys.length ? keys[0] + " to " + keys[keys.length - 1] : "nothing in range";
  const partial = data.partial ? "; partial: only the newest entries were counted in time, narrow the range for all" : "";
  $("histogram-legend").textContent = "entries per " + data.bucket + " (highest " + highest + "), " + span + " UTC" + partial;
}

function fillForm() {
  const form = $("filters");
  for (const name of FILTERS) form.elements[name].value = state.filters[name] || "";
}

async function loadPage(before) {
  const data = await getJSON("/api/entries?" + query(before ? { before: before } : {}));
  const body = $("entries").tBodies[0];
  const rows = document.createDocumentFragment();
  for (const item of data.entries) rows.append(makeRow(item));
  body.append(rows);
  state.next = data.next;
  $("older").hidden = state.next === null;
  const shown = body.querySelectorAll("tr.row").length;
  $("search-status").textContent = shown + " shown" + (data.partial
    ? "; searched back to entry " + data.next + " within the time limit: Load older goes on" : "");
  return data;
}

async function load() {
  state.filters = readFilters();
  fillForm();
  if (state.source) state.source.close();
  state.held = [];
  state.heldCount = 0;
  $("entries").tBodies[0].replaceChildren();
  $("error").textContent = "";
  try {
    const data = await loadPage(null);
    state.top = data.top;
    openStream(data.top);
    await drawHistogram();
  } catch (error) {
    $("error").textContent = String(error.message || error);
  }
}

function start() {
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const chosen = {};
    for (const name of FILTERS) if (form.get(name)) chosen[name] = String(form.get(name)).trim();
    navigate(chosen);
  });
  $("clear").addEventListener("click", () => navigate({}));
  $("older").addEventListener("click", () => loadPage(state.next).catch((error) => { $("error").textContent = String(error.message || error); }));
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    if (!state.paused) {
      prepend(state.held);
      state.held = [];
      state.heldCount = 0;
    }
    showPaused();
  });
  window.addEventListener("popstate", load);
  state.timer = setInterval(() => { if (!state.paused) drawHistogram().catch(() => {}); }, 10000);
  load();
}

document.addEventListener("DOMContentLoaded", start);
