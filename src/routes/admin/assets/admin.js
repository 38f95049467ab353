// spawner's admin page: the instances' table, kept current by the event stream.
// One row per instance, kept in a Map by name: an event changes only its own row (and the
// totals, counted incrementally), so the page stays fast with thousands of instances.
"use strict";

// Set once per page load: a reload would set it again (the browser test checks it stays).
window.spawnerAdminLoadedAt = Date.now();

const $ = (id) => document.getElementById(id);
const tbody = $("rows");
const template = $("row-template");
const CHANGES = ["created", "starting", "ready", "stopped", "paused", "resumed", "evicted",
  "recreated", "removed"];
const OCCUPYING = ["running", "paused", "restarting"];

const rows = new Map();   // name -> { tr, cells, buttons, view }
let names = [];           // sorted, for inserting a new row in its place
const counts = new Map(); // state -> number of instances
let maxRunning = null;
let canPause = true;
let loaded = false;
let queued = [];          // events that came while the list was being read
const filter = { name: "", state: "" };

function say(text, isError) {
  const message = $("message");
  message.textContent = text;
  message.className = isError ? "error" : "";
}

function setText(cell, text) {
  if (cell.textContent !== text) cell.textContent = text;
}

function when(t) {
  return t ? t.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–";
}

function limitsText(l) {
  if (!l) return "–";
  const memory = l.memory_bytes ? Math.round(l.memory_bytes / 1048576) + " MiB" : "no memory limit";
  const cpus = l.cpus ? l.cpus + " CPU" : "no CPU limit";
  const pids = l.pids ? l.pids + " pids" : "no pids limit";
  return memory + " · " + cpus + " · " + pids;
}

// Readiness is proven by a wake's probe (or Docker's health check); an API start awaits none.
function stateText(v) {
  return v.state === "running" && v.ready ? "running (ready)" : v.state;
}

function matches(v) {
  return (!filter.name || v.name.includes(filter.name)) &&
    (!filter.state || v.state === filter.state);
}

function count(state, delta) {
  counts.set(state, (counts.get(state) || 0) + delta);
}

function fill(entry, v) {
  const c = entry.cells;
  entry.tr.dataset.state = v.state;
  setText(c.state, stateText(v));
  setText(c.image, v.image);
  setText(c.address, v.address ? v.address + ":" + v.port : "none (port " + v.port + ")");
  setText(c.limits, limitsText(v.limits));
  setText(c.activity, when(v.last_activity));
  setText(c.sleeps, when(v.sleeps_at));
  const volumes = (v.volumes || []).map((x) => x.name + " → " + x.target).join(", ");
  setText(c.volumes, volumes || "–");
  const b = entry.buttons;
  const occupying = OCCUPYING.includes(v.state);
  b.start.disabled = v.state === "running";
  b.stop.disabled = !occupying;
  b.pause.disabled = !canPause || v.state !== "running";
  entry.tr.hidden = !matches(v);
}

function makeRow(v) {
  const tr = template.content.firstElementChild.cloneNode(true);
  tr.dataset.name = v.name;
  const cell = (name) => tr.querySelector("td." + name);
  const button = (action) => tr.querySelector('button[data-action="' + action + '"]');
  const entry = {
    tr,
    view: v,
    cells: {
      state: cell("state"), image: cell("image"), address: cell("address"),
      limits: cell("limits"), activity: cell("activity"), sleeps: cell("sleeps"),
      volumes: cell("volumes"),
    },
    buttons: { start: button("start"), stop: button("stop"), pause: button("pause") },
  };
  cell("name").textContent = v.name;
  fill(entry, v);
  return entry;
}

function insertionPoint(name) {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (names[mid] < name) low = mid + 1; else high = mid;
  }
  return low;
}

function upsert(v) {
  const entry = rows.get(v.name);
  if (entry) {
    count(entry.view.state, -1);
    count(v.state, 1);
    entry.view = v;
    fill(entry, v);
    return;
  }
  const created = makeRow(v);
  rows.set(v.name, created);
  count(v.state, 1);
  const at = insertionPoint(v.name);
  const before = at < names.length ? rows.get(names[at]).tr : null;
  names.splice(at, 0, v.name);
  tbody.insertBefore(created.tr, before);
}

function remove(name) {
  const entry = rows.get(name);
  if (!entry) return;
  count(entry.view.state, -1);
  entry.tr.remove();
  rows.delete(name);
  names.splice(insertionPoint(name), 1);
}

let totalsPending = false;
function scheduleTotals() {
  if (totalsPending) return;
  totalsPending = true;
  requestAnimationFrame(() => {
    totalsPending = false;
    renderTotals();
  });
}

function renderTotals() {
  const totals = $("totals");
  const parts = [];
  const occupying = OCCUPYING.reduce((n, s) => n + (counts.get(s) || 0), 0);
  const cap = document.createElement("span");
  cap.className = "cap" + (maxRunning !== null && occupying >= maxRunning ? " full" : "");
  cap.textContent = "running or paused: " + occupying + " / " +
    (maxRunning === null ? "no limit" : maxRunning) + " (max_running)";
  parts.push(cap);
  const all = document.createElement("span");
  all.textContent = "instances: " + rows.size;
  parts.push(all);
  for (const [state, n] of [...counts.entries()].sort()) {
    if (!n) continue;
    const span = document.createElement("span");
    span.dataset.state = state;
    span.textContent = state + ": " + n;
    parts.push(span);
  }
  totals.replaceChildren(...parts);
  let shown = 0;
  for (const entry of rows.values()) if (!entry.tr.hidden) shown++;
  setText($("shown"), shown === rows.size ? "" : shown + " shown");
}

function applyFilter() {
  filter.name = $("filter-name").value.trim();
  filter.state = $("filter-state").value;
  for (const entry of rows.values()) entry.tr.hidden = !matches(entry.view);
  renderTotals();
}

async function call(method, path, body) {
  const init = { method, headers: { "X-Spawner-Admin": "1" }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    say("spawner cannot be reached: " + e.message, true);
    return null;
  }
  if (response.status === 401) {
    say("Your sign-in expired: reload the page to sign in again.", true);
    return null;
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const why = data && data.error ? data.error : response.status + " " + response.statusText;
    say(why + (data && data.cause ? " (" + data.cause + ")" : ""), true);
    return null;
  }
  return data;
}

async function load() {
  loaded = false;
  const data = await call("GET", "/admin/api/instances");
  if (!data) {
    // Not synced with Docker yet, or unreachable: try again (events queue meanwhile).
    setTimeout(load, 3000);
    return;
  }
  maxRunning = data.max_running;
  canPause = data.can_pause;
  rows.clear();
  counts.clear();
  names = data.instances.map((v) => v.name).sort();
  const fragment = document.createDocumentFragment();
  const byName = new Map(data.instances.map((v) => [v.name, v]));
  for (const name of names) {
    const entry = makeRow(byName.get(name));
    rows.set(name, entry);
    count(entry.view.state, 1);
    fragment.appendChild(entry.tr);
  }
  tbody.replaceChildren(fragment);
  loaded = true;
  const missed = queued;
  queued = [];
  missed.forEach(apply);
  renderTotals();
}

function apply(event) {
  if (event.change === "removed") remove(event.instance.name);
  else upsert(event.instance);
  scheduleTotals();
}

function connect() {
  const source = new EventSource("/admin/api/events");
  const connection = $("connection");
  source.onopen = () => {
    connection.textContent = "live";
    connection.className = "connection live";
    // The stream is subscribed before it answers: a list read now misses nothing.
    if (!loaded) load();
  };
  source.onerror = () => {
    connection.textContent = source.readyState === EventSource.CLOSED
      ? "disconnected: reload the page" : "reconnecting…";
    connection.className = "connection";
  };
  for (const change of CHANGES) {
    source.addEventListener(change, (message) => {
      const event = JSON.parse(message.data);
      if (loaded) apply(event); else queued.push(event);
    });
  }
  // The stream lost changes (spawner restarted, or this page fell behind): read it all again.
  source.addEventListener("reset", () => load());
}

const base = (name) => "/admin/api/instances/" + encodeURIComponent(name) + "/";

async function act(name, action) {
  say(action + " " + name + "…");
  const view = await call("POST", base(name) + action);
  if (!view) return;
  upsert(view);
  scheduleTotals();
  say(name + ": " + action + " done");
}

function showDialog(dialogId, name) {
  const dialog = $(dialogId);
  dialog.dataset.name = name;
  dialog.querySelector(".subject").textContent = name;
  dialog.showModal();
  return dialog;
}

function envLines(text) {
  const envs = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at < 1) throw new Error("each line must be NAME=value: " + line);
    envs[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return envs;
}

tbody.addEventListener("click", async (click) => {
  const button = click.target.closest("button[data-action]");
  if (!button) return;
  const name = button.closest("tr").dataset.name;
  const action = button.dataset.action;
  if (action === "recreate") {
    $("recreate-image").value = rows.get(name).view.image;
    $("recreate-envs").value = "";
    showDialog("recreate-dialog", name);
  } else if (action === "delete") {
    $("delete-purge").checked = false;
    $("delete-confirm-name").value = "";
    $("delete-confirm-name").disabled = true;
    showDialog("delete-dialog", name);
  } else if (action === "session") {
    const session = await call("POST", base(name) + "session");
    if (!session) return;
    $("session-cookie").textContent = session.cookie;
    $("session-expires").textContent = when(session.expires);
    showDialog("session-dialog", name);
  } else {
    await act(name, action);
  }
});

$("recreate-confirm").addEventListener("click", async () => {
  const dialog = $("recreate-dialog");
  const name = dialog.dataset.name;
  const body = { image: $("recreate-image").value.trim() };
  try {
    const text = $("recreate-envs").value;
    if (text.trim()) body.envs = envLines(text);
  } catch (e) {
    say(e.message, true);
    return;
  }
  dialog.close();
  say("recreating " + name + "…");
  const view = await call("POST", base(name) + "recreate", body);
  if (!view) return;
  upsert(view);
  scheduleTotals();
  say(name + ": recreated from " + view.image);
});

$("delete-purge").addEventListener("change", (e) => {
  $("delete-confirm-name").disabled = !e.target.checked;
});

$("delete-confirm").addEventListener("click", async () => {
  const dialog = $("delete-dialog");
  const name = dialog.dataset.name;
  const purge = $("delete-purge").checked;
  dialog.close();
  say("deleting " + name + "…");
  const body = { purge, confirm: $("delete-confirm-name").value.trim() };
  const done = await call("POST", base(name) + "delete", body);
  if (!done) return;
  remove(name);
  scheduleTotals();
  const volumes = done.volumes_removed ? " (volumes removed: " + done.volumes_removed.join(", ") + ")" : "";
  say(name + ": deleted" + volumes);
});

for (const cancel of document.querySelectorAll("dialog .cancel")) {
  cancel.addEventListener("click", () => cancel.closest("dialog").close());
}
$("filter-name").addEventListener("input", applyFilter);
$("filter-state").addEventListener("change", applyFilter);

connect();
