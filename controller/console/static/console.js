// citypulse operator console: login, the live model over a websocket, the controls, the looks.
// No framework, no CDN: everything this page needs is served by the console itself.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { csrf: null, loginCsrf: null, user: null, show: null, socket: null, model: null,
  views: new Map(), retry: null, dragging: false };

// -- time and numbers ---------------------------------------------------------------------------
function pad(n, w = 2) { return String(n).padStart(w, "0"); }
function mmss(seconds) {
  if (seconds === null || seconds === undefined) return "--:--.-";
  const s = Math.max(0, seconds);
  return `${pad(Math.floor(s / 60))}:${pad(Math.floor(s % 60))}.${Math.floor((s * 10) % 10)}`;
}
function utc(t, ms = false) {
  if (t === null || t === undefined) return "-";
  const d = new Date(t * 1000);
  const base = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return ms ? `${base}.${pad(d.getUTCMilliseconds(), 3)}` : base;
}
function num(v, digits = 1) { return v === null || v === undefined ? "-" : Number(v).toFixed(digits); }
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

// -- HTTP -----------------------------------------------------------------------------------------
async function api(method, path, body, token) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["X-CSRF-Token"] = token;
  const response = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  return { status: response.status, data };
}

async function boot() {
  const { data } = await api("GET", "/api/session");
  if (data.user) start(data); else showLogin(data.login_csrf);
}

function showLogin(token) {
  state.loginCsrf = token;
  $("console").hidden = true;
  $("login").hidden = false;
  $("login-user").focus();
}

async function login(event) {
  event.preventDefault();
  const user = $("login-user").value.trim();
  const password = $("login-password").value;
  const { status, data } = await api("POST", "/api/login", { user, password }, state.loginCsrf);
  $("login-password").value = "";
  if (status === 200) { $("login-error").textContent = ""; start(data); return; }
  $("login-error").textContent = data.error || `login failed (${status})`;
  if (status === 403) { const fresh = await api("GET", "/api/session"); state.loginCsrf = fresh.data.login_csrf; }
}

async function logout() {
  await api("POST", "/api/logout", {}, state.csrf);
  if (state.socket) state.socket.close();
  state.csrf = null;
  boot();
}

function start(session) {
  state.user = session.user;
  state.csrf = session.csrf;
  $("login").hidden = true;
  $("console").hidden = false;
  $("who").textContent = session.user;
  connect();
}

// -- the live socket ------------------------------------------------------------------------------
function connect() {
  clearTimeout(state.retry);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  state.socket = socket;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "hello") hello(message);
    else if (message.type === "model") render(message);
    else if (message.type === "look") drawLook(message);
  };
  socket.onclose = (event) => {
    if (state.socket !== socket) return;
    setBadge($("bus"), "console offline", "bad");
    if (event.code === 4001) { boot(); return; }
    state.retry = setTimeout(async () => {
      const { data } = await api("GET", "/api/session");
      if (data.user) connect(); else showLogin(data.login_csrf);
    }, 1000);
  };
}

function hello(message) {
  const show = message.show;
  state.show = show;
  $("show-name").textContent = show.name;
  $("duration").textContent = `/ ${mmss(show.duration_s)}`;
  const select = $("cue-select");
  select.replaceChildren(...show.cues.map((c) => el("option", { value: c.name, textContent: c.name })));
  $("cue-list").replaceChildren(...show.cues.map((c) => {
    const item = el("li", {}, el("span", { className: "t", textContent: mmss(c.t) }),
      el("span", { className: "name", textContent: c.name }));
    if (c.hold) item.append(el("span", { className: "hold", textContent: "HOLD" }));
    item.dataset.cue = c.name;
    item.addEventListener("click", () => { select.value = c.name; });
    return item;
  }));
  $("venue-rows").replaceChildren(...show.venues.map((v) => {
    const row = el("tr");
    row.dataset.venue = v;
    row.append(el("th", { scope: "row", textContent: v }));
    for (let i = 0; i < 8; i++) row.append(el("td", { textContent: "-" }));
    return row;
  }));
  const grid = $("look-grid");
  grid.replaceChildren();
  state.views.clear();
  for (const twin of show.twins) {
    const view = makeView(twin);
    state.views.set(twin.venue, view);
    grid.append(view.figure);
  }
}

// -- rendering the model --------------------------------------------------------------------------
function setBadge(node, text, kind) { node.textContent = text; node.className = `badge ${kind || ""}`; }

function render(model) {
  state.model = model;
  const clock = model.clock;
  $("utc").textContent = `${utc(model.now)} UTC`;
  setBadge($("bus"), model.connected ? "bus ok" : "bus down", model.connected ? "ok" : "bad");
  const c = model.conductor;
  setBadge($("conductor"), c ? `conductor ${c.online ? "online" : "OFFLINE"} (${c.conductor})` : "no conductor",
    c && c.online ? "ok" : "bad");
  if (clock) {
    setBadge($("state"), clock.state.toUpperCase(), clock.state);
    $("blackout-badge").hidden = !clock.blackout;
    $("position").textContent = mmss(clock.position_s);
    if (clock.waiting_at) {
      $("next-cue").textContent = `waiting at ${clock.waiting_at}:`;
      $("countdown").textContent = "GO / RESUME";
    } else {
      $("next-cue").textContent = clock.next_cue ? `next: ${clock.next_cue} in` : "next: -";
      $("countdown").textContent = clock.next_cue_in_s === null ? (clock.state === "armed" ? "at GO" : "-")
        : `${clock.next_cue_in_s.toFixed(1)} s`;
    }
    if (!state.dragging) {
      $("master").value = Math.round(clock.master * 100);
      $("master-value").textContent = `${Math.round(clock.master * 100)} %`;
    }
    for (const item of $("cue-list").children) {
      item.classList.toggle("current", item.dataset.cue === clock.cue);
      item.classList.toggle("next", item.dataset.cue === clock.next_cue);
    }
  } else {
    setBadge($("state"), "no state", "bad");
  }
  renderVenues(model.venues);
  renderFate(model);
  renderAudit(model.audit || []);
}

function cell(td, text, kind) { td.textContent = text; td.className = kind || ""; }

function renderVenues(venues) {
  for (const v of venues) {
    const row = document.querySelector(`#venue-rows tr[data-venue="${CSS.escape(v.venue)}"]`);
    if (!row) continue;
    const td = row.querySelectorAll("td");
    if (v.online === null) { cell(td[0], "unknown", "warn"); continue; }
    cell(td[0], v.online ? (v.stale ? "stale" : "yes") : "NO", v.online && !v.stale ? "ok" : "bad");
    const tb = v.timebase_state || "-";
    cell(td[1], tb, tb === "locked" ? "ok" : tb === "holdover" ? "warn" : "bad");
    cell(td[2], num(v.error_bound_ms, 2), v.error_bound_ms !== null && v.error_bound_ms > 5 ? "warn" : "");
    cell(td[3], num(v.rtt_ms, 1));
    const skew = v.frame_skew;
    cell(td[4], skew === null || skew === undefined ? "-" : `${skew > 0 ? "+" : ""}${skew} f`,
      skew === null || skew === undefined ? "" : Math.abs(skew) <= 1 ? "ok" : "bad");
    cell(td[5], String(v.frames_dropped ?? "-"), v.frames_dropped > 0 ? "warn" : "");
    const hash = { true: ["match", "ok"], false: ["DIFFERS", "bad"] }[v.show_hash_ok] || ["-", ""];
    cell(td[6], hash[0], hash[1]);
    const out = { true: ["ok", "ok"], false: ["FAULT", "bad"] }[v.outputs_ok] || ["-", ""];
    cell(td[7], out[0], out[1]);
  }
}

function fateText(r, now) {
  const who = `${r.text} (${r.id}) by ${r.user}`;
  if (r.fate === "accepted") {
    const wait = r.exec_at - now;
    return `${who}: accepted, every venue executes it at ${utc(r.exec_at, true)} UTC (in ${wait.toFixed(1)} s)`;
  }
  if (r.fate === "executed") return `${who}: executed at ${utc(r.exec_at, true)} UTC`;
  if (r.fate === "rejected") return `${who}: rejected: ${r.reason}`;
  if (r.fate === "no answer") return `${who}: no answer from the conductor`;
  return `${who}: sent, waiting for the conductor`;
}

function renderFate(model) {
  const latest = model.commands[0];
  if (!latest) return;
  const fate = $("fate");
  fate.textContent = fateText(latest, model.now);
  fate.className = latest.fate.replace(" ", "-");
}

function renderAudit(lines) {
  $("audit-lines").replaceChildren(...lines.map((line) => {
    let text = `${utc(line.shared_time, true)} ${line.event} ${line.command} ${line.id} by ${line.origin}`;
    if (line.exec_at) text += ` at ${utc(line.exec_at, true)}`;
    if (line.detail) text += `: ${line.detail}`;
    return el("li", { className: `ev-${line.event}`, textContent: text });
  }));
}

// -- commands -----------------------------------------------------------------------------------
async function send(verb, arg) {
  if (!state.csrf) return;
  const { status, data } = await api("POST", "/api/command", { verb, arg: arg ?? null }, state.csrf);
  const fate = $("fate");
  if (status === 202) { fate.textContent = fateText(data, data.sent_at); fate.className = "sent"; return; }
  fate.textContent = `${verb.toUpperCase()}: ${data.error || `refused (${status})`}`;
  fate.className = "rejected";
  if (status === 401) boot();
}

function askGo() { $("go-confirm").hidden = false; $("btn-go-confirm").focus(); }
function cancelGo() { $("go-confirm").hidden = true; }
function confirmGo() { cancelGo(); send("go"); }
function gotoCue() { const cue = $("cue-select").value; if (cue) send("goto", cue); }
function master(level) { send("master", String(Math.min(1, Math.max(0, level)))); }
function stepCue(delta) {
  const select = $("cue-select");
  select.selectedIndex = Math.min(select.options.length - 1, Math.max(0, select.selectedIndex + delta));
}

const ACTIONS = {
  a: () => send("arm"), g: askGo, h: () => send("hold"), r: () => send("resume"), c: gotoCue,
  "-": () => master((Number($("master").value) - 10) / 100),
  "+": () => master((Number($("master").value) + 10) / 100),
  "=": () => master((Number($("master").value) + 10) / 100),
  arrowup: () => stepCue(-1), arrowdown: () => stepCue(1),
};

function onKey(event) {
  if ($("console").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (!$("go-confirm").hidden) {
    if (key === "enter") { event.preventDefault(); confirmGo(); return; }
    if (key === "escape") { event.preventDefault(); cancelGo(); return; }
  }
  if (key === "b") { // BLACKOUT works from anywhere; only Shift+B (not Caps Lock) restores
    event.preventDefault();
    send("blackout", event.shiftKey ? "off" : "on");
    return;
  }
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement) return;
  const action = ACTIONS[key];
  if (action) { event.preventDefault(); action(); }
}

// -- looks: each city from above ----------------------------------------------------------------
const GLOW = 10; // the glow layer's resolution divisor
function makeView(twin) {
  const canvas = el("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${twin.name}, ${twin.city}: the lights from above`);
  const info = el("span", { className: "info", textContent: "no look yet" });
  const caption = el("figcaption", {},
    el("span", {}, el("strong", { textContent: twin.venue }), ` ${twin.name}, ${twin.city}`), info);
  const figure = el("figure", { className: "look" }, canvas, caption);
  const [x0, y0, x1, y1] = twin.bounds;
  const width = 720;
  const aspect = Math.min(1.1, Math.max(0.4, (y1 - y0) / Math.max(1, x1 - x0)));
  canvas.width = width;
  canvas.height = Math.round(width * aspect);
  const scale = Math.min(canvas.width / (x1 - x0), canvas.height / (y1 - y0));
  const ox = (canvas.width - (x1 - x0) * scale) / 2;
  const oy = (canvas.height - (y1 - y0) * scale) / 2;
  const px = (x, y) => [ox + (x - x0) * scale, canvas.height - oy - (y - y0) * scale];
  const cells = [];
  for (let i = 0; i < twin.cells; i++) cells.push(px(twin.xy[2 * i], twin.xy[2 * i + 1]));
  const spacing = Math.sqrt((canvas.width * canvas.height) / Math.max(1, twin.cells));
  const view = { twin, figure, canvas, info, cells, base: drawBase(twin, canvas, px, scale),
    glow: el("canvas"), dot: Math.max(2, Math.min(6, Math.round(spacing / 5))), arrivals: [] };
  view.glow.width = Math.ceil(canvas.width / GLOW);
  view.glow.height = Math.ceil(canvas.height / GLOW);
  canvas.getContext("2d").drawImage(view.base, 0, 0);
  return view;
}

function drawBase(twin, canvas, px, scale) {
  const base = el("canvas");
  base.width = canvas.width;
  base.height = canvas.height;
  const ctx = base.getContext("2d");
  const sky = ctx.createLinearGradient(0, 0, 0, base.height);
  sky.addColorStop(0, "#080c1c");
  sky.addColorStop(1, "#02030a");
  ctx.fillStyle = sky;
  ctx.fillRect(0, 0, base.width, base.height);
  const step = scale > 1.5 ? 50 : scale > 0.5 ? 100 : 500;
  ctx.strokeStyle = "#12182c";
  ctx.lineWidth = 1;
  const [x0, y0, x1, y1] = twin.bounds;
  for (let x = Math.ceil(x0 / step) * step; x <= x1; x += step) {
    const [a] = px(x, y0); ctx.beginPath(); ctx.moveTo(a, 0); ctx.lineTo(a, base.height); ctx.stroke();
  }
  for (let y = Math.ceil(y0 / step) * step; y <= y1; y += step) {
    const [, b] = px(x0, y); ctx.beginPath(); ctx.moveTo(0, b); ctx.lineTo(base.width, b); ctx.stroke();
  }
  const tallest = Math.max(1, ...twin.buildings.map((b) => b.height));
  for (const b of twin.buildings) {
    const shade = Math.round(30 + 40 * (b.height / tallest));
    ctx.beginPath();
    b.footprint.forEach(([x, y], i) => { const [a, c] = px(x, y); if (i) ctx.lineTo(a, c); else ctx.moveTo(a, c); });
    ctx.closePath();
    ctx.fillStyle = `rgb(${shade >> 1}, ${(shade >> 1) + 4}, ${shade + 10})`;
    ctx.fill();
    ctx.strokeStyle = "#465a82";
    ctx.stroke();
  }
  return base;
}

function drawLook(message) {
  const view = state.views.get(message.venue);
  if (!view) return;
  const raw = atob(message.light);
  const n = Math.min(view.cells.length, Math.floor(raw.length / 3));
  const ctx = view.canvas.getContext("2d");
  ctx.globalCompositeOperation = "source-over";
  ctx.drawImage(view.base, 0, 0);
  const glow = view.glow.getContext("2d");
  const image = glow.createImageData(view.glow.width, view.glow.height);
  const data = image.data;
  const gx = view.glow.width / view.canvas.width;
  let lit = 0;
  ctx.globalCompositeOperation = "lighter";
  const dot = view.dot;
  for (let i = 0; i < n; i++) {
    const r = raw.charCodeAt(3 * i), g = raw.charCodeAt(3 * i + 1), b = raw.charCodeAt(3 * i + 2);
    if (r + g + b < 6) continue;
    lit++;
    const [x, y] = view.cells[i];
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x - dot, y - dot, 2 * dot, 2 * dot);
    const k = 4 * (Math.min(view.glow.height - 1, Math.floor(y * gx)) * view.glow.width
      + Math.min(view.glow.width - 1, Math.floor(x * gx)));
    data[k] = Math.max(data[k], r); data[k + 1] = Math.max(data[k + 1], g);
    data[k + 2] = Math.max(data[k + 2], b); data[k + 3] = 255;
  }
  glow.putImageData(image, 0, 0);
  // the glow: the lights at a tenth of the resolution, smoothed back up (cheap, no filter)
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  for (let k = 0; k < 3; k++) ctx.drawImage(view.glow, 0, 0, view.canvas.width, view.canvas.height);
  ctx.globalCompositeOperation = "source-over";
  const now = performance.now();
  view.arrivals.push(now);
  while (view.arrivals.length > 2 && now - view.arrivals[0] > 3000) view.arrivals.shift();
  const span = (now - view.arrivals[0]) / 1000;
  const rate = span > 0.5 ? ((view.arrivals.length - 1) / span).toFixed(1) : "-";
  view.info.textContent = `frame ${message.frame} · ${lit}/${n} lit · ${rate} looks/s`;
}

// -- wiring ---------------------------------------------------------------------------------------
function wire() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("btn-arm").addEventListener("click", () => send("arm"));
  $("btn-go").addEventListener("click", askGo);
  $("btn-go-confirm").addEventListener("click", confirmGo);
  $("btn-go-cancel").addEventListener("click", cancelGo);
  $("btn-hold").addEventListener("click", () => send("hold"));
  $("btn-resume").addEventListener("click", () => send("resume"));
  $("btn-goto").addEventListener("click", gotoCue);
  $("btn-blackout").addEventListener("click", () => send("blackout", "on"));
  $("btn-restore").addEventListener("click", () => send("blackout", "off"));
  const slider = $("master");
  slider.addEventListener("pointerdown", () => { state.dragging = true; });
  slider.addEventListener("input", () => { $("master-value").textContent = `${slider.value} %`; });
  slider.addEventListener("change", () => { state.dragging = false; master(Number(slider.value) / 100); });
  document.addEventListener("keydown", onKey);
}

wire();
boot();
