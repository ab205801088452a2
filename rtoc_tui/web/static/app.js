/* rtoc web view: plots, events and status from the logger's read-only JSON API.
 *
 * Plain JavaScript, no build step. Charts are uPlot (vendored in this folder). The server
 * sends min/max-decimated points for what is visible (about one point per pixel column);
 * while following live data only what is newer than the newest point is fetched.
 */
"use strict";

(function () {
  const LIVE_MS = 1000;           // live data poll while following
  const RESYNC_MS = 30000;        // full refetch while following (re-decimates, catches resets)
  const SIGNALS_MS = 5000;        // signal list refresh
  const STATUS_MS = 2000;         // status refresh (header and status page)
  const EVENTS_MS = 2000;         // events poll
  const MAX_SELECTED = 32;        // the server's limit per data request
  const MAX_ROWS = 500;           // event rows kept in the table
  const MAX_MARKS = 500;          // event marks kept for the charts
  const XY_THRESHOLD = 1e8;
  const COLORS = ["#4ea1ff", "#ff9f43", "#3ecf8e", "#ff5c8a", "#b48cff", "#f0e14a", "#43d9d9",
                  "#ff6b3d", "#9ad14b", "#e87bd8"];
  const PRIO = ["info", "warning", "error"];
  const MARK_COLORS = ["rgba(160,170,185,0.55)", "rgba(240,180,41,0.8)", "rgba(255,92,92,0.9)"];

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  // ---------------------------------------------------------------------------------------
  // state
  const state = {
    page: "plots",
    signals: new Map(),      // name -> {name, dname, sname, unit, count, epoch, latest}
    selected: [],            // names, in the order picked
    view: { mode: "span", span: 600 },   // span | last | range | all
    follow: true,
    series: new Map(),       // name -> {x: number[], y: number[], epoch, xy}
    charts: new Map(),       // group key -> {u, names, box}
    marks: [],               // {x, priority, text}
    eventsCursor: 0,
    marksCursor: 0,
    serverOffset: 0,         // server clock - browser clock (s)
    lastFull: 0,
    inflight: { data: false, live: false, events: false, status: false, signals: false },
    gen: 0,                  // bumped whenever the view changes: stale replies are dropped
    status: null,
    evFilterTimer: 0,
  };
  window.rtocState = state;  // for the browser tests (and curious users)

  function nowS() { return Date.now() / 1000 + state.serverOffset; }

  async function api(path) {
    const resp = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) {
      let msg = resp.status + " " + resp.statusText;
      try { const j = await resp.json(); if (j.error) msg = j.error; } catch (e) { /* text reply */ }
      throw new Error(msg);
    }
    return resp.json();
  }

  function showError(msg) {
    const box = $("#error");
    if (!msg) { box.hidden = true; box.textContent = ""; return; }
    box.hidden = false;
    box.textContent = msg;
  }

  // ---------------------------------------------------------------------------------------
  // formatting
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  function fmtTime(x, withDate) {
    if (x < XY_THRESHOLD) return fmtNum(x);
    const d = new Date(x * 1000);
    const t = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    if (!withDate) return t;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + t;
  }
  function fmtNum(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(4);
    return Number(v.toPrecision(6)).toString();
  }
  function fmtSpan(s) {
    if (s === null || s === undefined) return "–";
    if (s < 120) return s.toFixed(0) + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    if (s < 172800) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }

  // ---------------------------------------------------------------------------------------
  // navigation (#plots?s=A,B&span=600 | #events | #status)
  function parseHash() {
    const h = location.hash.replace(/^#/, "");
    const [page, query] = h.split("?");
    const params = new URLSearchParams(query || "");
    return { page: ["plots", "events", "status"].includes(page) ? page : "plots", params };
  }

  function showPage(page) {
    state.page = page;
    for (const p of ["plots", "events", "status"]) $("#page-" + p).hidden = p !== page;
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
    if (page === "plots") { resizeCharts(); }
    if (page === "events") refreshEvents(true);
    if (page === "status") refreshStatus();
  }

  function writeHash() {
    if (state.page !== "plots") return;
    const p = new URLSearchParams();
    if (state.selected.length) p.set("s", state.selected.join(","));
    const v = state.view;
    if (v.mode === "span") p.set("span", String(v.span));
    else if (v.mode === "last") p.set("last", String(v.n));
    else if (v.mode === "all") p.set("span", "all");
    else if (v.mode === "range") { p.set("xmin", v.xmin.toFixed(3)); p.set("xmax", v.xmax.toFixed(3)); }
    history.replaceState(null, "", "#plots?" + p.toString());
  }

  function applyHashParams(params) {
    const s = params.get("s");
    if (s) state.selected = s.split(",").filter(Boolean).slice(0, MAX_SELECTED);
    const span = params.get("span"), last = params.get("last");
    const xmin = parseFloat(params.get("xmin")), xmax = parseFloat(params.get("xmax"));
    if (last && +last > 0) { state.view = { mode: "last", n: Math.floor(+last) }; state.follow = true; }
    else if (span === "all") { state.view = { mode: "all" }; state.follow = false; }
    else if (span && +span > 0) { state.view = { mode: "span", span: +span }; state.follow = true; }
    else if (isFinite(xmin) && isFinite(xmax) && xmax > xmin) {
      state.view = { mode: "range", xmin, xmax }; state.follow = false;
    }
  }

  // ---------------------------------------------------------------------------------------
  // signal picker
  async function refreshSignals() {
    if (state.inflight.signals) return;
    state.inflight.signals = true;
    try {
      const j = await api("/api/signals");
      state.serverOffset = j.now - Date.now() / 1000;
      const m = new Map();
      for (const s of j.signals) m.set(s.name, s);
      let reset = false;
      for (const name of state.selected) {
        const old = state.signals.get(name), cur = m.get(name);
        if (old && cur && old.epoch !== cur.epoch) reset = true;   // cleared or replaced
      }
      state.signals = m;
      renderPicker();
      if (reset) fetchFull();
      showError("");
    } catch (e) {
      showError("Cannot reach the logger: " + e.message);
    } finally {
      state.inflight.signals = false;
    }
  }

  function renderPicker() {
    const q = $("#sig-search").value.trim().toLowerCase();
    const list = $("#sig-list");
    const open = new Set([...list.querySelectorAll("details[open]")].map((d) => d.dataset.device));
    const firstRender = list.childElementCount === 0;
    const byDevice = new Map();
    for (const s of [...state.signals.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (q && !s.name.toLowerCase().includes(q) && !(s.unit || "").toLowerCase().includes(q)) continue;
      if (!byDevice.has(s.dname)) byDevice.set(s.dname, []);
      byDevice.get(s.dname).push(s);
    }
    const frag = document.createDocumentFragment();
    for (const [dname, sigs] of byDevice) {
      const d = el("details");
      d.dataset.device = dname;
      d.open = q !== "" || open.has(dname) || (firstRender && byDevice.size <= 4) ||
        sigs.some((s) => state.selected.includes(s.name));
      const sum = el("summary", "", dname + " (" + sigs.length + ")");
      d.appendChild(sum);
      for (const s of sigs) {
        const lab = el("label");
        const cb = el("input");
        cb.type = "checkbox";
        cb.value = s.name;
        cb.checked = state.selected.includes(s.name);
        cb.addEventListener("change", () => toggleSignal(s.name, cb.checked));
        lab.appendChild(cb);
        lab.appendChild(el("span", "sn", s.sname));
        const v = s.latest ? fmtNum(s.latest[1]) + (s.unit ? " " + s.unit : "") : (s.unit || "");
        lab.appendChild(el("span", "sv", v));
        lab.title = s.name + " – " + s.count + " samples";
        d.appendChild(lab);
      }
      frag.appendChild(d);
    }
    list.replaceChildren(frag);
    renderNote();
  }

  function renderNote() {
    $("#sig-note").textContent = state.signals.size
      ? state.selected.length + " of " + state.signals.size + " signals plotted"
      : "No signals yet.";
  }

  function toggleSignal(name, on) {
    const i = state.selected.indexOf(name);
    if (on && i < 0) {
      if (state.selected.length >= MAX_SELECTED) {
        showError("At most " + MAX_SELECTED + " signals at once.");
        renderPicker();
        return;
      }
      state.selected.push(name);
    } else if (!on && i >= 0) {
      state.selected.splice(i, 1);
      state.series.delete(name);
    }
    renderNote();
    writeHash();
    fetchFull();
  }

  // ---------------------------------------------------------------------------------------
  // data
  function chartWidth() {
    const c = $("#charts");
    return Math.max(200, Math.floor((c.clientWidth || 600) - 10));
  }
  function nPoints() { return Math.min(4000, Math.max(64, chartWidth())); }

  function decode(s) {
    const n = s.xi.length, x = new Array(n);
    for (let i = 0; i < n; i++) x[i] = s.x0 + s.xi[i] * s.q;
    return { x, y: s.y.slice(), epoch: s.epoch, xy: s.xy, unit: s.unit };
  }

  function dataUrl(extra) {
    const p = new URLSearchParams();
    for (const n of state.selected) p.append("s", n);
    state.lastN = nPoints();
    p.set("n", String(state.lastN));
    for (const k in extra) if (extra[k] !== null && extra[k] !== undefined) p.set(k, String(extra[k]));
    return "/api/data?" + p.toString();
  }

  async function fetchFull() {
    const gen = ++state.gen;
    if (!state.selected.length) { state.series.clear(); rebuildCharts(); return; }
    const v = state.view;
    const extra = v.mode === "span" ? { span: v.span }
      : v.mode === "last" ? { last: v.n }
      : v.mode === "range" ? { xmin: v.xmin, xmax: v.xmax } : {};
    state.inflight.data = true;
    try {
      const j = await api(dataUrl(extra));
      if (gen !== state.gen) return;
      state.serverOffset = j.now - Date.now() / 1000;
      state.series.clear();
      for (const name in j.series) state.series.set(name, decode(j.series[name]));
      if (v.mode === "last") {
        const span = j.xmin !== null && j.xmax !== null ? Math.max(1e-3, j.xmax - j.xmin) : null;
        state.view.spanS = span;
      }
      state.range = { xmin: j.xmin, xmax: j.xmax };
      state.lastFull = Date.now();
      if (j.unknown && j.unknown.length) showError("Unknown signals: " + j.unknown.join(", "));
      await fetchMarks(j.xmin, j.xmax);
      if (gen !== state.gen) return;
      rebuildCharts();
    } catch (e) {
      showError("Cannot load data: " + e.message);
    } finally {
      state.inflight.data = false;
    }
  }

  async function fetchMarks(xmin, xmax) {
    const p = new URLSearchParams({ limit: String(MAX_MARKS) });
    if (xmin !== null && xmin !== undefined) p.set("xmin", String(xmin));
    if (xmax !== null && xmax !== undefined && !state.follow) p.set("xmax", String(xmax));
    try {
      const j = await api("/api/events?" + p.toString());
      state.marks = j.events.map((e) => ({ x: e.x, priority: e.priority, text: e.text })).reverse();
      state.marksCursor = Math.max(state.marksCursor, j.cursor);
    } catch (e) { /* marks are decoration: the data still shows */ }
  }

  async function liveTick() {
    if (!state.follow || !state.selected.length || state.inflight.data || state.inflight.live) return;
    if (Date.now() - state.lastFull > RESYNC_MS) { fetchFull(); return; }
    let after = Infinity;
    for (const name of state.selected) {
      const s = state.series.get(name);
      if (s && !s.xy && s.x.length) after = Math.min(after, s.x[s.x.length - 1]);
    }
    if (!isFinite(after)) after = nowS() - spanOfView();
    const gen = state.gen;
    state.inflight.live = true;
    try {
      const j = await api(dataUrl({ after }));
      if (gen !== state.gen) return;
      state.serverOffset = j.now - Date.now() / 1000;
      for (const name in j.series) {
        const add = decode(j.series[name]);
        let s = state.series.get(name);
        if (!s) { s = { x: [], y: [], epoch: add.epoch, xy: false, unit: add.unit }; state.series.set(name, s); }
        const last = s.x.length ? s.x[s.x.length - 1] : -Infinity;
        for (let i = 0; i < add.x.length; i++) {
          if (add.x[i] > last) { s.x.push(add.x[i]); s.y.push(add.y[i]); }
        }
      }
      const right = liveRight();
      const left = right - spanOfView();
      for (const s of state.series.values()) {
        if (s.xy) continue;
        let cut = 0;
        while (cut < s.x.length && s.x[cut] < left - spanOfView() * 0.05) cut++;
        if (cut) { s.x.splice(0, cut); s.y.splice(0, cut); }
      }
      await pollMarks();
      updateCharts(left, right);
    } catch (e) {
      showError("Live update failed: " + e.message);
    } finally {
      state.inflight.live = false;
    }
  }

  async function pollMarks() {
    try {
      const j = await api("/api/events?limit=200&since=" + state.marksCursor);
      if (j.events.length) {
        for (const e of j.events.reverse()) state.marks.push({ x: e.x, priority: e.priority, text: e.text });
        if (state.marks.length > MAX_MARKS) state.marks.splice(0, state.marks.length - MAX_MARKS);
      }
      state.marksCursor = Math.max(state.marksCursor, j.cursor);
    } catch (e) { /* decoration only */ }
  }

  function spanOfView() {
    const v = state.view;
    if (v.mode === "span") return v.span;
    if (v.mode === "last") return v.spanS || 60;
    if (state.range && state.range.xmin !== null && state.range.xmax !== null) return state.range.xmax - state.range.xmin;
    return 60;
  }

  function liveRight() {
    let newest = -Infinity;
    for (const s of state.series.values()) if (!s.xy && s.x.length) newest = Math.max(newest, s.x[s.x.length - 1]);
    if (state.view.mode === "last") return isFinite(newest) ? newest : nowS();
    const st = state.status;
    if (st && st.mode === "store") return isFinite(newest) ? newest : nowS();
    return Math.max(nowS(), isFinite(newest) ? newest : -Infinity);
  }

  // ---------------------------------------------------------------------------------------
  // charts: one per unit (XY signals apart), x synced between all
  function groups() {
    const g = new Map();
    for (const name of state.selected) {
      const s = state.series.get(name), info = state.signals.get(name);
      const unit = (s && s.unit) || (info && info.unit) || "";
      const xy = !!(s && s.xy);
      const key = (xy ? "xy:" : "t:") + unit;
      if (!g.has(key)) g.set(key, { unit, xy, names: [] });
      g.get(key).names.push(name);
    }
    return g;
  }

  function chartData(names) {
    const tables = names.map((n) => {
      const s = state.series.get(n);
      return s ? [s.x, s.y] : [[], []];
    });
    if (tables.length === 1) return [tables[0][0], tables[0][1]];
    return uPlot.join(tables);
  }

  function makeChart(key, grp, box, width) {
    const narrow = window.innerWidth <= 720;
    const series = [{ label: grp.xy ? "x" : "time", value: (u, v) => (v === null ? "–" : fmtTime(v, true)) }];
    grp.names.forEach((n) => {
      const i = state.selected.indexOf(n);
      series.push({
        label: n, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true, points: { show: false },
        value: (u, v) => (v === null ? "–" : fmtNum(v) + (grp.unit ? " " + grp.unit : "")),
      });
    });
    const opts = {
      width, height: narrow ? 200 : 260,
      series,
      scales: { x: { time: !grp.xy } },
      axes: [
        { stroke: "#8a94a3", grid: { stroke: "#2e343e" }, ticks: { stroke: "#2e343e" } },
        { stroke: "#8a94a3", grid: { stroke: "#2e343e" }, ticks: { stroke: "#2e343e" }, size: 60,
          label: grp.unit || undefined, labelSize: grp.unit ? 18 : 0 },
      ],
      cursor: {
        sync: { key: grp.xy ? "rtoc-xy" : "rtoc", setSeries: false },
        // uPlot only draws the selection; setSelect below turns it into a range (a setScale
        // hook cannot tell the user's zoom from this code's, as uPlot defers its hooks).
        drag: { x: true, y: false, setScale: false },
        bind: { dblclick: () => null },
      },
      legend: { live: true },
      hooks: {
        setSelect: [(u) => {
          if (grp.xy || u.select.width < 3) return;
          const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          userRange(a, b, null);
        }],
        draw: [(u) => { if (!grp.xy) drawMarks(u); }],
      },
    };
    const u = new uPlot(opts, chartData(grp.names), box);
    attachGestures(u, grp);
    return u;
  }

  function rebuildCharts() {
    const root = $("#charts");
    const g = groups();
    const width = chartWidth();
    const wantKeys = [...g.keys()];
    // Reuse a chart only if its group has exactly the same signals (uPlot fixes its series).
    for (const [key, c] of state.charts) {
      const grp = g.get(key);
      if (!grp || grp.names.join("\n") !== c.names.join("\n")) {
        c.u.destroy(); c.box.remove(); state.charts.delete(key);
      }
    }
    for (const key of wantKeys) {
      const grp = g.get(key);
      let c = state.charts.get(key);
      if (!c) {
        const box = el("div", "chart");
        box.dataset.group = key;
        box.appendChild(el("h3", "", (grp.xy ? "XY " : "") + (grp.unit || "no unit")));
        root.appendChild(box);
        c = { u: makeChart(key, grp, box, width), names: grp.names.slice(), box, xy: grp.xy };
        state.charts.set(key, c);
      } else {
        c.u.setData(chartData(grp.names), true);
      }
    }
    // keep the chart order as the groups' order
    for (const key of wantKeys) root.appendChild(state.charts.get(key).box);
    $("#plots-empty").hidden = state.selected.length > 0;
    // bench/bench_web.py reads this: ms from navigation start to the first drawn charts
    if (!state.firstDrawMs && state.charts.size) state.firstDrawMs = performance.now();
    const r = state.range;
    if (state.follow && state.view.mode !== "all") {
      const right = liveRight();
      updateCharts(right - spanOfView(), right);
    } else if (r && r.xmin !== null && r.xmax !== null) {
      setAllX(r.xmin, r.xmax);
    }
    renderRange();
  }

  function updateCharts(left, right) {
    for (const c of state.charts.values()) {
      c.u.setData(chartData(c.names), c.xy);
      if (!c.xy) c.u.setScale("x", { min: left, max: right });
    }
    state.range = { xmin: left, xmax: right };
    renderRange();
  }

  function setAllX(xmin, xmax, except) {
    for (const c of state.charts.values()) if (!c.xy && c.u !== except) c.u.setScale("x", { min: xmin, max: xmax });
  }

  function renderRange() {
    const r = state.range;
    let t = "";
    if (r && r.xmin !== null && r.xmax !== null && r.xmin > XY_THRESHOLD) {
      t = fmtTime(r.xmin, true) + " – " + fmtTime(r.xmax, true) + " (" + fmtSpan(r.xmax - r.xmin) + ")";
    }
    t += state.follow ? "  ● following live data" : "  ❚❚ paused (double-click a chart or press Live)";
    $("#range-label").textContent = t;
    $("#follow").setAttribute("aria-pressed", state.follow ? "true" : "false");
    document.querySelectorAll("#presets button").forEach((b) => {
      const v = state.view;
      b.classList.toggle("active", (v.mode === "span" && b.dataset.span === String(v.span)) ||
        (v.mode === "all" && b.dataset.span === "all"));
    });
  }

  let rangeTimer = 0;
  function userRange(xmin, xmax, source) {
    if (!(xmax > xmin)) return;
    state.follow = false;
    state.view = { mode: "range", xmin, xmax };
    state.range = { xmin, xmax };
    $("#last-n").value = "";
    setAllX(xmin, xmax, source);
    renderRange();
    writeHash();
    clearTimeout(rangeTimer);
    // Ask for decimated data of the new range once the gesture settles.
    rangeTimer = setTimeout(fetchFull, 150);
  }

  function drawMarks(u) {
    const { left, top, width, height } = u.bbox;
    const xmin = u.scales.x.min, xmax = u.scales.x.max;
    const ctx = u.ctx;
    ctx.save();
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
    for (const m of state.marks) {
      if (m.x < xmin || m.x > xmax) continue;
      const px = Math.round(u.valToPos(m.x, "x", true));
      if (px < left || px > left + width) continue;
      ctx.strokeStyle = MARK_COLORS[Math.max(0, Math.min(2, m.priority))];
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, top + height);
      ctx.stroke();
    }
    ctx.restore();
  }

  // wheel zoom, Shift+drag pan (mouse); one-finger pan and two-finger pinch (touch)
  function attachGestures(u, grp) {
    if (grp.xy) return;
    const over = u.over;
    const xAt = (clientX) => {
      const r = over.getBoundingClientRect();
      return u.posToVal(clientX - r.left, "x");
    };
    over.addEventListener("wheel", (ev) => {
      if (!ev.deltaX && !ev.deltaY) return;
      ev.preventDefault();
      const { min, max } = u.scales.x;
      if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
        const d = (max - min) * (ev.deltaX > 0 ? 0.1 : -0.1);
        userRange(min + d, max + d, null);
        return;
      }
      const at = xAt(ev.clientX);
      const f = ev.deltaY < 0 ? 0.8 : 1.25;
      userRange(at - (at - min) * f, at + (max - at) * f, null);
    }, { passive: false });

    let pan = null;
    over.addEventListener("mousedown", (ev) => {
      if (!ev.shiftKey && ev.button !== 1) return;
      ev.preventDefault();
      ev.stopPropagation();
      pan = { x: ev.clientX, min: u.scales.x.min, max: u.scales.x.max };
    }, true);
    window.addEventListener("mousemove", (ev) => {
      if (!pan) return;
      const perPx = (pan.max - pan.min) / over.clientWidth;
      const d = -(ev.clientX - pan.x) * perPx;
      userRange(pan.min + d, pan.max + d, null);
    });
    window.addEventListener("mouseup", () => { pan = null; });
    over.addEventListener("dblclick", () => goLive());

    let touch = null;
    const tinfo = (ts) => {
      const r = over.getBoundingClientRect();
      if (ts.length === 1) return { n: 1, x: ts[0].clientX - r.left, d: 0 };
      const a = ts[0].clientX - r.left, b = ts[1].clientX - r.left;
      return { n: 2, x: (a + b) / 2, d: Math.abs(a - b), dy: Math.abs(ts[0].clientY - ts[1].clientY) };
    };
    over.addEventListener("touchstart", (ev) => {
      const t = tinfo(ev.touches);
      touch = { ...t, min: u.scales.x.min, max: u.scales.x.max, moved: false };
    }, { passive: true });
    over.addEventListener("touchmove", (ev) => {
      if (!touch) return;
      const t = tinfo(ev.touches);
      if (t.n !== touch.n) { touch = { ...t, min: u.scales.x.min, max: u.scales.x.max, moved: false }; return; }
      const w = over.clientWidth, span = touch.max - touch.min;
      if (t.n === 1) {
        if (!touch.moved && Math.abs(t.x - touch.x) < 8) return;   // a tap, or a vertical scroll
        touch.moved = true;
        ev.preventDefault();
        const d = -(t.x - touch.x) / w * span;
        userRange(touch.min + d, touch.max + d, null);
      } else if (touch.d > 10 && t.d > 10) {
        ev.preventDefault();
        const f = touch.d / t.d;
        const at = touch.min + touch.x / w * span;
        const nmin = at - (touch.x / w) * span * f;
        const shift = -(t.x - touch.x) / w * span * f;
        userRange(nmin + shift, nmin + span * f + shift, null);
      }
    }, { passive: false });
    over.addEventListener("touchend", () => { touch = null; }, { passive: true });
  }

  function resizeCharts() {
    const width = chartWidth();
    const narrow = window.innerWidth <= 720;
    for (const c of state.charts.values()) c.u.setSize({ width, height: narrow ? 200 : 260 });
  }

  function goLive() {
    if (state.view.mode === "range" || state.view.mode === "all") state.view = { mode: "span", span: 600 };
    const n = parseInt($("#last-n").value, 10);
    if (n > 0) state.view = { mode: "last", n };
    state.follow = true;
    writeHash();
    fetchFull();
  }

  // ---------------------------------------------------------------------------------------
  // events page
  function eventQuery() {
    const p = new URLSearchParams({ limit: String(MAX_ROWS) });
    const q = $("#ev-search").value.trim();
    if (q) p.set("q", q);
    const prios = [...document.querySelectorAll(".ev-prio")].filter((c) => c.checked).map((c) => c.value);
    p.set("prio", prios.length ? prios.join(",") : "-1");
    return p;
  }

  function eventRow(e) {
    const tr = el("tr", "p" + Math.max(0, Math.min(2, e.priority)));
    tr.dataset.seq = e.seq;
    tr.appendChild(el("td", "time", fmtTime(e.x, true)));
    tr.appendChild(el("td", "", PRIO[e.priority] || String(e.priority)));
    tr.appendChild(el("td", "", e.dname));
    tr.appendChild(el("td", "", e.sname));
    tr.appendChild(el("td", "", e.text));
    tr.appendChild(el("td", "", e.id));
    tr.appendChild(el("td", "", e.value === null || e.value === undefined ? "" : String(e.value)));
    return tr;
  }

  async function refreshEvents(full) {
    if (state.inflight.events) { if (full) state.evPendingFull = true; return; }
    state.inflight.events = true;
    const p = eventQuery();
    if (!full) p.set("since", String(state.eventsCursor));
    try {
      const j = await api("/api/events?" + p.toString());
      const body = $("#ev-table tbody");
      if (full) {
        const frag = document.createDocumentFragment();
        for (const e of j.events) frag.appendChild(eventRow(e));
        body.replaceChildren(frag);
        state.evMatched = j.matched;
      } else if (j.events.length) {
        const frag = document.createDocumentFragment();
        for (const e of j.events) frag.appendChild(eventRow(e));
        body.insertBefore(frag, body.firstChild);
        while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
        state.evMatched = (state.evMatched || 0) + j.matched;
      }
      state.eventsCursor = Math.max(full ? 0 : state.eventsCursor, j.cursor);
      $("#ev-count").textContent = state.evMatched + " matching" +
        (state.evMatched > body.rows.length ? " (newest " + body.rows.length + " shown)" : "");
      showError("");
    } catch (e) {
      showError("Cannot load events: " + e.message);
    } finally {
      state.inflight.events = false;
      if (state.evPendingFull) { state.evPendingFull = false; refreshEvents(true); }
    }
  }

  // ---------------------------------------------------------------------------------------
  // status
  async function refreshStatus() {
    if (state.inflight.status) return;
    state.inflight.status = true;
    try {
      const s = await api("/api/status");
      state.status = s;
      state.serverOffset = s.now - Date.now() / 1000;
      $("#lname").textContent = s.name;
      document.title = s.name + " – RTOC web view";
      const parts = [s.signals + " signals", Math.round(s.samples_per_s) + " S/s",
        s.devices_running + " devices", s.events + " events", "up " + fmtSpan(s.uptime_s),
        "storage " + s.storage];
      if (s.mode === "store") parts.unshift("stored history (read-only)");
      $("#hstatus").textContent = parts.join(" │ ");
      if (state.page === "status") renderStatus(s);
      showError("");
    } catch (e) {
      showError("Cannot reach the logger: " + e.message);
    } finally {
      state.inflight.status = false;
    }
  }

  function renderStatus(s) {
    const dl = $("#st-summary");
    const rows = [
      ["Logger", s.name],
      ["Source", s.mode === "store" ? "stored history, read-only (no logger running)" : "live logger"],
      ["Uptime", fmtSpan(s.uptime_s)],
      ["Signals", String(s.signals)],
      ["Samples per second", Math.round(s.samples_per_s).toLocaleString()],
      ["Samples in memory", s.samples_in_memory.toLocaleString()],
      ["Samples total", s.samples_total.toLocaleString()],
      ["Events", String(s.events)],
      ["Devices running", String(s.devices_running)],
      ["TCP clients", String(s.clients)],
      ["Storage", s.storage + (s.storage_lag_s ? " (lag " + s.storage_lag_s.toFixed(1) + " s)" : "")],
      ["Connection", s.tls ? "HTTPS" : location.protocol === "https:" ? "HTTPS" : "HTTP"],
    ];
    const frag = document.createDocumentFragment();
    for (const [k, v] of rows) { frag.appendChild(el("dt", "", k)); frag.appendChild(el("dd", "", v)); }
    dl.replaceChildren(frag);
    const body = $("#st-devices tbody");
    const f2 = document.createDocumentFragment();
    for (const d of s.devices) {
      const tr = el("tr");
      tr.appendChild(el("td", "", d.name + (d.devicename && d.devicename !== d.name ? " (" + d.devicename + ")" : "")));
      tr.appendChild(el("td", "state-" + d.state, d.state));
      tr.appendChild(el("td", "", d.samplerate ? d.samplerate + " Hz" : ""));
      tr.appendChild(el("td", "", d.reason || ""));
      f2.appendChild(tr);
    }
    if (!s.devices.length) {
      const tr = el("tr");
      const td = el("td", "note", "No device is running.");
      td.colSpan = 4;
      tr.appendChild(td);
      f2.appendChild(tr);
    }
    body.replaceChildren(f2);
  }

  // ---------------------------------------------------------------------------------------
  // wiring
  function every(ms, fn) {
    const run = async () => {
      if (!document.hidden) { try { await fn(); } catch (e) { /* shown by fn */ } }
      setTimeout(run, ms);
    };
    setTimeout(run, ms);
  }

  function init() {
    const loopback = ["localhost", "127.0.0.1", "[::1]", "::1"].includes(location.hostname);
    if (location.protocol === "http:" && !loopback) {
      const b = $("#banner");
      b.hidden = false;
      b.textContent = "Plain HTTP: this page and its password travel unencrypted. Ask the operator to set web.tls_cert and web.tls_key.";
    }
    const { page, params } = parseHash();
    if (page === "plots") applyHashParams(params);
    if (state.view.mode === "last") $("#last-n").value = String(state.view.n);

    document.querySelectorAll("nav a").forEach((a) => a.addEventListener("click", (ev) => {
      ev.preventDefault();
      history.replaceState(null, "", "#" + a.dataset.page);
      showPage(a.dataset.page);
      if (a.dataset.page === "plots") writeHash();
    }));
    $("#sig-search").addEventListener("input", renderPicker);
    $("#picker-toggle").addEventListener("click", () => $("#picker").classList.toggle("folded"));
    document.querySelectorAll("#presets button").forEach((b) => b.addEventListener("click", () => {
      $("#last-n").value = "";
      if (b.dataset.span === "all") { state.view = { mode: "all" }; state.follow = false; }
      else { state.view = { mode: "span", span: +b.dataset.span }; state.follow = true; }
      writeHash();
      fetchFull();
    }));
    $("#last-n").addEventListener("change", () => {
      const n = parseInt($("#last-n").value, 10);
      if (n > 0) { state.view = { mode: "last", n: Math.min(n, 1000000) }; state.follow = true; }
      else { state.view = { mode: "span", span: 600 }; }
      writeHash();
      fetchFull();
    });
    $("#follow").addEventListener("click", () => {
      if (state.follow) { state.follow = false; renderRange(); } else goLive();
    });
    $("#ev-search").addEventListener("input", () => {
      clearTimeout(state.evFilterTimer);
      state.evFilterTimer = setTimeout(() => refreshEvents(true), 250);
    });
    document.querySelectorAll(".ev-prio").forEach((c) => c.addEventListener("change", () => refreshEvents(true)));
    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { resizeCharts(); }, 150);
    });
    if (window.innerWidth <= 720 && state.selected.length) $("#picker").classList.add("folded");
    window.addEventListener("hashchange", () => {
      // a link or the back button: the address says which page (and plot view) to show
      const h = parseHash();
      if (h.page === "plots" && h.params.toString()) { applyHashParams(h.params); fetchFull(); renderPicker(); }
      if (h.page !== state.page) showPage(h.page);
    });

    showPage(page);
    refreshStatus();
    refreshSignals().then(() => { if (state.selected.length) fetchFull(); else renderRange(); });
    every(LIVE_MS, () => (state.page === "plots" ? liveTick() : null));
    every(SIGNALS_MS, () => (state.page === "plots" ? refreshSignals() : null));
    every(STATUS_MS, refreshStatus);
    every(EVENTS_MS, () => (state.page === "events" ? refreshEvents(false) : null));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
