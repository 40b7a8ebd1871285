// The fleet dashboard's page: plain DOM, no framework (three views of tables and one chart library).
// It holds one page of the fleet table at a time (the server filters, sorts and pages), so an update
// costs the same with 10 gateways or 5,000. Server-sent events say what changed; the page re-reads
// only that, one request per view in flight at a time.
'use strict';
(function () {
  const API = '/control-plane/api/v1';
  const TYPES = [['Cluster', 'CDS'], ['ClusterLoadAssignment', 'EDS'], ['Listener', 'LDS'], ['RouteConfiguration', 'RDS']];
  const PAGE = 50;
  /** "Sent and not ACKed" turns into STALE after this long (istioctl proxy-status wording). */
  const STALE_MS = 5000;
  const view = { state: '', cluster: '', prefix: '', sort: 'node', order: 'asc', offset: 0 };
  const seen = { nodes: -1, load: -1, config: '', rollout: '' };
  /** Node ids of the rollout's canaries (they run the candidate; the others the current config). */
  let canaries = new Set();
  /** The page shows a type "sent" that turns "stale" with time alone: re-read it on the next tick. */
  let showsPending = false;
  const charts = new Map();

  const $ = (sel) => document.querySelector(sel);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  const rate = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  function ago(isoTime) {
    if (!isoTime) return '';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(isoTime)) / 1000));
    return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
  }

  /** Runs `fn`, recorded as a performance measure (devtools' timeline; the dashboard benchmark reads them). */
  function timed(name, fn) {
    const start = performance.now();
    try { return fn(); } finally { performance.measure(`dashboard:${name}`, { start, end: performance.now() }); }
  }

  /** Runs `load` now, or once more after the one in flight: never two at a time, never a lost update. */
  function single(load) {
    let running = false;
    let again = false;
    return async function run() {
      if (running) { again = true; return; }
      running = true;
      try { await load(); } catch (err) { console.warn('dashboard: update failed', err); }
      running = false;
      if (again) { again = false; run(); }
    };
  }
  /** The JSON at `path`, or undefined when it is byte for byte what the previous read of `path` got. */
  const lastText = new Map();
  async function getJson(path, key = path, force = false) {
    const res = await fetch(path, { cache: 'no-store' });
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    const text = await res.text();
    if (!force && lastText.get(key) === text) return undefined;
    lastText.set(key, text);
    return JSON.parse(text);
  }

  // ---- summary ---------------------------------------------------------------------------------
  let lastSummary = '';
  function renderSummary(s) {
    const key = JSON.stringify(s);
    if (key === lastSummary) return;
    lastSummary = key;
    const cards = [`<div class="card" data-count="connected"><b>${s.connected}</b><small>connected</small></div>`,
      `<div class="card" data-count="synced"><b>${s.synced}</b><small>synced on every type</small></div>`];
    if (s.unknown > 0) cards.push(`<div class="card" data-count="unknown"><b class="err">${s.unknown}</b><small>unknown (replica not answering)</small></div>`);
    for (const [type, short] of TYPES) {
      const t = s.types[type];
      cards.push(`<div class="card" data-count="${short}"><b>${t.synced}<small> synced</small></b>` +
        `<small>${short}: <span class="${t['not-acked'] ? 'err' : ''}">${t['not-acked']} not ACKed</span>, ` +
        `<span class="${t.nacked ? 'err' : ''}">${t.nacked} NACKed</span>, ${t['not-sent']} not sent</small></div>`);
    }
    $('#summary').innerHTML = cards.join('');
  }

  // ---- fleet -----------------------------------------------------------------------------------
  function typeCell(node, type) {
    const state = node.sync[type];
    if (state === 'unknown') return `<td data-type="${type}" data-state="unknown"><span class="badge unknown">unknown</span></td>`;
    const t = node.types[`type.googleapis.com/envoy.config.${type === 'ClusterLoadAssignment' ? 'endpoint' : type === 'RouteConfiguration' ? 'route' : type.toLowerCase()}.v3.${type}`];
    let label = state;
    let cls = state;
    if (state === 'not-acked') {
      const stale = node.state === 'connected' && t && t.lastSent && Date.now() - Date.parse(t.lastSent.at) > STALE_MS;
      cls = stale ? 'stale' : 'pending';
      if (!stale) showsPending = true;
      label = stale ? 'stale' : 'sent';
    }
    const version = t && t.lastSent ? `<span class="ver">${esc(t.lastSent.version.slice(0, 8))}</span>` : '';
    const nack = state === 'nacked' && t.lastNack ? `<div class="nack-msg">${esc(t.lastNack.message)}</div>` : '';
    return `<td data-type="${type}" data-state="${state}"><span class="badge ${cls}">${esc(label)}</span>${version}${nack}</td>`;
  }
  function renderNodes(page) {
    showsPending = false;
    const rows = page.nodes.map((n) => {
      const load = n.load;
      const errShare = load && load.rps > 0 ? load.errorRps / load.rps : 0;
      const since = n.state === 'connected' ? ago(n.connectedAt) : n.state === 'unknown' ? 'unknown' : `left ${ago(n.disconnectedAt)}`;
      const canary = canaries.has(n.nodeId);
      return `<tr data-node="${esc(n.nodeId)}" data-node-state="${esc(n.state)}" data-replica="${esc(n.replica)}" data-config="${canary ? 'candidate' : 'current'}" class="${n.state === 'connected' ? '' : 'gone'}">` +
        `<td>${esc(n.nodeId)}${canary ? ' <span class="badge canary" title="runs the candidate config of the rollout">canary</span>' : ''}</td><td>${esc(n.cluster)}</td><td>${esc(n.locality)}</td><td>${esc(n.userAgent)}</td><td>${esc(n.protocol)}</td>` +
        `<td class="replica">${esc(n.replica)}</td><td title="${esc(n.connectedAt)}">${since}</td>` +
        TYPES.map(([type]) => typeCell(n, type)).join('') +
        `<td class="num" data-rps="${load ? load.rps : ''}">${load ? rate(load.rps) : '–'}</td>` +
        `<td class="num ${errShare > 0 ? 'err' : ''}" data-error-rate="${load ? errShare : ''}">${load ? pct(errShare) : '–'}</td></tr>`;
    });
    $('#nodes tbody').innerHTML = rows.join('') || '<tr><td colspan="13">no gateway matches</td></tr>';
    const end = Math.min(page.total, page.offset + page.nodes.length);
    $('#range').textContent = page.total === 0 ? '0 of 0' : `${page.offset + 1}–${end} of ${page.total}`;
    $('#prev').disabled = page.offset === 0;
    $('#next').disabled = end >= page.total;
    for (const th of document.querySelectorAll('#nodes th[data-sort]')) {
      th.classList.toggle('sorted', th.dataset.sort === view.sort);
      th.classList.toggle('desc', th.dataset.sort === view.sort && view.order === 'desc');
    }
  }
  const loadNodes = single(async () => {
    const q = new URLSearchParams({ sort: view.sort, order: view.order, offset: String(view.offset), limit: String(PAGE) });
    for (const k of ['state', 'cluster', 'prefix']) if (view[k]) q.set(k, view[k]);
    // A "sent" cell turns "stale" by time alone: then render even an unchanged answer.
    const page = await getJson(`${API}/nodes?${q}`, 'nodes', showsPending);
    if (!page) return; // nothing on this page changed
    timed('fleet', () => { renderSummary(page.summary); renderNodes(page); });
  });

  // ---- backends --------------------------------------------------------------------------------
  function chart(name, el, series) {
    const xs = series.map((p) => Date.parse(p.at) / 1000);
    const data = [xs, series.map((p) => p.rps), series.map((p) => p.errorRps)];
    let c = charts.get(name);
    if (c && c.root.isConnected) { c.setData(data); return; }
    c = new uPlot({
      width: 500, height: 160,
      series: [{}, { label: 'req/s', stroke: '#0969da' }, { label: 'failed/s', stroke: '#cf222e' }],
      axes: [{}, { size: 50 }],
    }, data, el);
    charts.set(name, c);
  }
  function renderBackends(all) {
    const root = $('#backend-list');
    // Backends nobody sent anything to in the last minute take one line each, below the busy ones.
    const list = all.filter((b) => b.lastMinute && b.lastMinute.issued > 0);
    const idle = all.filter((b) => !list.includes(b));
    let idleBox = $('#idle-backends');
    if (!idleBox) {
      idleBox = document.createElement('table');
      idleBox.id = 'idle-backends';
      root.after(idleBox);
    }
    idleBox.innerHTML = idle.length === 0 ? '' :
      `<thead><tr><th colspan="4">No requests in the last minute</th></tr></thead><tbody>${idle.map((b) =>
        `<tr data-idle-backend="${esc(b.name)}"><td>${esc(b.name)}</td><td>${esc(b.kind)}</td><td>${esc(b.url)}</td>` +
        `<td>${b.endpoints.map((e) => esc(e.address)).join(', ')}</td></tr>`).join('')}</tbody>`;
    for (const b of list) {
      let card = root.querySelector(`[data-backend="${CSS.escape(b.name)}"]`);
      if (!card) {
        card = document.createElement('div');
        card.className = 'backend';
        card.dataset.backend = b.name;
        card.innerHTML = '<div class="info"></div><div class="chart"></div>';
        root.appendChild(card);
      }
      const lm = b.lastMinute;
      const eps = b.endpoints.map((e) => `<tr data-endpoint="${esc(e.address)}" data-share="${e.share}">` +
        `<td>${esc(e.address)}</td><td><span class="bar"><span style="width:${(e.share * 100).toFixed(1)}%"></span></span> ${pct(e.share)}</td>` +
        `<td class="num ${e.errorRate > 0 ? 'err' : ''}">${pct(e.errorRate)}</td>` +
        `<td class="ejected ${e.ejectedBy > 0 ? 'err' : ''}">${e.ejectedBy > 0 ? `ejected by ${e.ejectedBy} of ${e.reporters} gateways` : '–'}</td><td>${esc(e.source)}</td>` +
        `<td title="${esc(e.lastSeenInDns)}">${e.lastSeenInDns ? ago(e.lastSeenInDns) : '–'}</td></tr>`).join('');
      card.querySelector('.info').innerHTML =
        `<h3>${esc(b.name)} <small>${esc(b.kind)}</small></h3><div>${esc(b.url)}</div>` +
        (b.balancing ? `<div class="balancing">balancing: ${esc(b.balancing)}</div>` : '') +
        `<div>last ${b.windowSeconds} s: ${lm ? `<span class="backend-rps" data-rps="${lm.rps}">${rate(lm.rps)}</span> req/s, <span class="${lm.failed ? 'err' : ''}">${rate(lm.errorRps)} failed/s</span>, ${lm.inProgress} in progress` : 'no load reports yet'}` +
        ` · imbalance (max/min share): <span class="imbalance">${b.imbalance === null ? '–' : b.imbalance.toFixed(2)}</span></div>` +
        `<table class="endpoints"><thead><tr><th>Endpoint</th><th>Share, last minute</th><th>Errors</th><th>Outlier</th><th>Source</th><th>Last seen in DNS</th></tr></thead><tbody>${eps}</tbody></table>`;
      chart(b.name, card.querySelector('.chart'), b.series);
    }
    for (const card of [...root.children]) if (!list.some((b) => b.name === card.dataset.backend)) { card.remove(); charts.delete(card.dataset.backend); }
  }
  // Zone → zone requests/s (gateways' zone → endpoints' zone) and the cross-zone share (issue 20).
  function renderZones(z) {
    let box = $('#zones');
    if (!box) {
      box = document.createElement('table');
      box.id = 'zones';
      $('#backend-list').before(box);
    }
    if (!z || z.cells.length === 0) { box.innerHTML = ''; return; }
    const from = [...new Set(z.cells.map((c) => c.fromZone))];
    const to = [...new Set(z.cells.map((c) => c.toZone))].sort();
    const cell = (f, t) => z.cells.find((c) => c.fromZone === f && c.toZone === t);
    box.innerHTML = `<caption>Requests/s, gateway zone → endpoint zone · cross-zone share: <span class="cross-zone-share" data-share="${z.crossZoneShare ?? ''}">${z.crossZoneShare === null ? '–' : pct(z.crossZoneShare)}</span></caption>` +
      `<thead><tr><th>from \\ to</th>${to.map((t) => `<th>${esc(t)}</th>`).join('')}</tr></thead><tbody>${from.map((f) =>
        `<tr data-from-zone="${esc(f)}"><th>${esc(f || '(no zone)')}</th>${to.map((t) => { const c = cell(f, t); return `<td class="num ${c && f && f !== t ? 'err' : ''}" data-to-zone="${esc(t)}" data-rps="${c ? c.rps : 0}">${c ? rate(c.rps) : '–'}</td>`; }).join('')}</tr>`).join('')}</tbody>`;
  }
  const loadBackends = single(async () => {
    const b = await getJson(`${API}/dashboard/backends`);
    if (b) timed('backends', () => { renderBackends(b.backends); renderZones(b.zones); });
  });

  // ---- config ----------------------------------------------------------------------------------
  function renderConfig(c) {
    const box = $('#config-error');
    if (c.configError) {
      box.hidden = false;
      box.textContent = `${c.configFile ?? 'config'} is rejected (${ago(c.configError.at)}):\n${c.configError.message}\n` +
        (c.configError.lastGoodServed ? 'The last good config is still served.' : 'No config has been served yet.');
    } else if (c.buildError) {
      box.hidden = false;
      box.textContent = `snapshot not published (${c.buildError.stage}): ${c.buildError.message}\nThe last good config is still served.`;
    } else {
      box.hidden = true;
      box.textContent = '';
    }
    $('#versions').innerHTML = Object.entries(c.versions).map(([t, v]) => `<span>${esc(t)} <code>${esc(v)}</code></span>`).join('') +
      (c.publishedAt ? `<span>published ${ago(c.publishedAt)}</span>` : '');
    $('#dns tbody').innerHTML = c.dns.map((d) => `<tr><td>${esc(d.target)}</td><td>${esc(d.endpoints.join(', ')) || '–'}</td>` +
      `<td>${d.ttlSeconds ?? '–'}</td><td>${ago(d.lastSuccessAt)}</td><td class="err">${d.lastError ? `${esc(d.lastError.outcome)}: ${esc(d.lastError.reason)} (${ago(d.lastError.at)})` : ''}</td></tr>`).join('') ||
      '<tr><td colspan="5">no dns:// backends</td></tr>';
    $('#history').innerHTML = c.history.map((h) => `<li><time title="${esc(h.at)}">${esc(h.at.slice(11, 19))}</time>${h.changes.map(esc).join('; ')}</li>`).join('');
  }
  const loadConfig = single(async () => {
    const c = await getJson(`${API}/dashboard/config`);
    if (c) timed('config', () => renderConfig(c));
  });

  // ---- rollout: stage, canaries, figures against the thresholds, decision and why ---------------
  function renderRollout(r) {
    const box = $('#rollout');
    box.hidden = !r.enabled && r.recent.length === 0;
    canaries = new Set(r.active ? r.active.canaries : []);
    const a = r.active;
    const d = a && a.decision;
    const t = r.thresholds;
    let now;
    if (a) {
      const left = d && d.action === 'wait' ? ` · ${Math.ceil(d.leftMs / 1000)}s left${d.extended ? ' (bake extended: too little traffic to decide)' : ''}` : '';
      now = `<p data-stage="baking"><b>baking</b> <code>${esc(a.id)}</code> since ${esc(ago(a.startedAt))} on ${a.canaries.length} canar${a.canaries.length === 1 ? 'y' : 'ies'} ` +
        `(${a.canaries.map(esc).join(', ')}); ${a.baseline.length} gateways keep the current config${left}.</p>` +
        `<p class="rule">roll back when a backend fails on the canaries more than ${pct(t.maxFailureRateIncrease)} above the baseline, once they carried ${t.minRequests} requests to it; promote after ${Math.round(t.bakeMs / 1000)}s.</p>` +
        (d ? `<p data-decision="${esc(d.action)}">${esc(d.reason)}</p>` : '');
    } else {
      now = `<p data-stage="idle">${r.enabled ? `no rollout under way (canary fraction ${r.canaryFraction}, bake ${Math.round(t.bakeMs / 1000)}s)` : 'rollouts are off (-control-plane.rollout.canary-fraction=0)'}</p>`;
    }
    for (const x of r.rejected) now += `<p class="err" data-rejected="${esc(x.id)}">rejected <code>${esc(x.id)}</code> (${esc(ago(x.at))}): ${esc(x.reason)}. The previous config is served until the file changes again.</p>`;
    $('#rollout-now').innerHTML = now;
    const rows = d ? d.backends : [];
    $('#rollout-figures').hidden = rows.length === 0;
    $('#rollout-figures tbody').innerHTML = rows.map((v) => `<tr data-backend="${esc(v.backend)}"><td>${esc(v.backend)}</td><td class="num">${v.canary.issued}</td>` +
      `<td class="num ${v.bad ? 'err' : ''}">${v.canary.failed} (${pct(v.canary.failureRate)})</td><td class="num">${v.baseline.issued}</td><td class="num">${v.baseline.failed} (${pct(v.baseline.failureRate)})</td>` +
      `<td>${v.bad ? '<b class="err">above the threshold</b>' : v.judged ? 'within' : 'too few requests yet'}</td></tr>`).join('');
    $('#rollout-recent').innerHTML = r.recent.map((x) => `<li data-outcome="${esc(x.outcome)}"><time title="${esc(x.endedAt)}">${esc(x.endedAt.slice(11, 19))}</time> <code>${esc(x.id)}</code> <b>${esc(x.outcome)}</b>: ${esc(x.reason)}</li>`).join('');
  }
  const loadRollout = single(async () => {
    const r = await getJson(`${API}/rollout`);
    if (!r) return;
    const before = [...canaries].join();
    timed('rollout', () => renderRollout(r));
    if ([...canaries].join() !== before) { lastText.delete('nodes'); loadNodes(); }
  });

  // ---- controls and live updates ---------------------------------------------------------------
  const form = $('#filters');
  form.addEventListener('input', () => {
    view.state = form.state.value;
    view.cluster = form.cluster.value.trim();
    view.prefix = form.prefix.value.trim();
    view.offset = 0;
    loadNodes();
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  $('#prev').addEventListener('click', () => { view.offset = Math.max(0, view.offset - PAGE); loadNodes(); });
  $('#next').addEventListener('click', () => { view.offset += PAGE; loadNodes(); });
  for (const th of document.querySelectorAll('#nodes th[data-sort]')) {
    th.addEventListener('click', () => {
      view.order = view.sort === th.dataset.sort && view.order === 'asc' ? 'desc' : 'asc';
      view.sort = th.dataset.sort;
      loadNodes();
    });
  }

  // ---- peers: which replicas this view merges, and which do not answer ------------------------
  let lastPeers = '';
  function renderPeers(replica, peers) {
    const key = JSON.stringify([replica, peers.map((p) => [p.address, p.state, p.nodes, p.error])]);
    if (key === lastPeers) return;
    lastPeers = key;
    const bad = peers.filter((p) => p.state !== 'up');
    const box = $('#peers');
    box.hidden = peers.length === 0;
    box.classList.toggle('err', bad.length > 0);
    box.innerHTML = `Replica <code>${esc(replica)}</code>, merged with ${peers.length} peer${peers.length === 1 ? '' : 's'}: ` +
      peers.map((p) => `<span data-peer="${esc(p.address)}" data-peer-state="${esc(p.state)}">${esc(p.address)} ` +
        (p.state === 'up' ? `(${p.nodes} streams)` : `<b>${p.state === 'gone' ? 'gone from DNS' : 'not answering'}</b> since ${esc(ago(p.since))}` +
        `${p.error ? `: ${esc(p.error)}` : ''}; its ${p.nodes} gateways are shown as unknown, and its load is missing`) + '</span>').join('; ');
  }

  const live = $('#live');
  const events = new EventSource(`${API}/events`);
  events.onopen = () => { live.classList.remove('off'); live.textContent = 'live'; };
  events.onerror = () => { live.classList.add('off'); live.textContent = 'reconnecting…'; };
  events.onmessage = (m) => {
    const tick = JSON.parse(m.data);
    timed('summary', () => { renderSummary(tick.summary); renderPeers(tick.replica, tick.peers || []); });
    live.textContent = `live · ${new Date().toLocaleTimeString()}`;
    if (tick.nodes !== seen.nodes || tick.load !== seen.load || showsPending) loadNodes();
    if (tick.load !== seen.load || tick.config !== seen.config) loadBackends();
    if (tick.config !== seen.config) loadConfig();
    if (tick.rollout !== seen.rollout || tick.rolloutActive) loadRollout();
    seen.rollout = tick.rollout;
    seen.nodes = tick.nodes;
    seen.load = tick.load;
    seen.config = tick.config;
  };
})();
