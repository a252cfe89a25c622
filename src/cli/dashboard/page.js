// The dashboard page: polls the server's /api/status (a fresh read of the Kubernetes API each
// time) and, when the server was started with --allow-actions, asks for a confirmation before it
// posts an action. Plain DOM, no dependencies: the server serves this file as it is.
'use strict';

const config = JSON.parse(document.getElementById('config').textContent);
const POLL_MS = 2000;
let current; // the last status read
let pending; // the action awaiting confirmation: { text, path, body }

function $(id) {
  return document.getElementById(id);
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function bytes(n) {
  if (n === undefined || n === null) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function fill(tableId, rows) {
  const tbody = $(tableId).querySelector('tbody');
  tbody.replaceChildren(...rows);
}

function row(cells, attrs) {
  const tr = document.createElement('tr');
  for (const [k, v] of Object.entries(attrs || {})) tr.setAttribute(k, v);
  tr.append(...cells);
  return tr;
}

function render(s) {
  document.title = `${s.cluster}: PostgreSQL cluster`;
  $('title').textContent = `Cluster ${s.cluster} in namespace ${s.namespace}`;
  $('leader').textContent = s.leader || 'NONE';
  const volume = (v) => (!v ? '-' : v.growing ? `${v.capacity} (growing to ${v.requested})` : v.capacity || v.requested || '-');
  fill('members', s.members.map((m) => {
    const role = document.createElement('td');
    const badge = document.createElement('span');
    badge.textContent = m.role;
    badge.className = `role${m.name === s.leader ? ' leader' : m.role === 'sync standby' ? ' sync' : ''}`;
    role.append(badge);
    return row([
      cell(m.name), role, cell(m.state), cell(m.ready ? 'yes' : 'no', m.ready ? '' : 'no'),
      cell(m.timeline === undefined ? '-' : String(m.timeline)), cell(bytes(m.lagBytes)),
      cell(m.pendingRestart ? 'yes' : 'no'), cell(m.upToDate === undefined ? '-' : m.upToDate ? 'yes' : 'no'), cell(m.node || '-'),
      cell(volume(m.volume)),
    ], { 'data-member': m.name, 'data-role': m.role });
  }));
  fill('services', s.services.map((v) => row([cell(v.name), cell(v.endpoints.length > 0 ? v.endpoints.join(', ') : '(none)')], { 'data-service': v.name })));
  // Per repository: the newest success of any of its backup CronJobs (<cluster>-repo<N>-<type>).
  const repos = new Map();
  for (const b of s.backups) {
    const n = (/-repo(\d+)-[a-z]+$/.exec(b.cronJob) || [])[1];
    if (!n) continue;
    const r = repos.get(n) || { last: undefined, schedules: [] };
    if (b.lastSuccessfulTime && (!r.last || b.lastSuccessfulTime > r.last)) r.last = b.lastSuccessfulTime;
    r.schedules.push(`${b.cronJob.slice(b.cronJob.lastIndexOf('-') + 1)} ${b.schedule}`);
    repos.set(n, r);
  }
  fill('repositories', [...repos.entries()].sort().map(([n, r]) => row([cell(`repo${n}`), cell(r.last || 'never'), cell(r.schedules.join(', '))], { 'data-repo': n })));
  fill('backups', s.backups.map((b) => row([cell(b.cronJob), cell(b.schedule), cell(b.lastSuccessfulTime || 'never'), cell(b.lastScheduleTime || 'never'), cell(String(b.active))])));
  fill('certificates', s.certificates.map((c) => row([cell(c.name), cell(c.ready ? 'yes' : 'no', c.ready ? '' : 'no'), cell(c.notAfter || '-'), cell(c.renewalTime || '-')])));
  if (config.allowActions) renderActions(s);
}

function options(select, values) {
  const keep = select.value;
  const fixed = Array.from(select.options).filter((o) => o.dataset.fixed === 'yes');
  const dynamic = values.map(([value, label]) => {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    return o;
  });
  select.replaceChildren(...fixed, ...dynamic);
  if (Array.from(select.options).some((o) => o.value === keep)) select.value = keep;
}

function renderActions(s) {
  const to = $('switchover-to');
  if (to.options.length > 0) to.options[0].dataset.fixed = 'yes';
  options(to, s.members.filter((m) => m.name !== s.leader && m.ready).map((m) => [m.name, `${m.name} (${m.role})`]));
  const repos = [...new Set(s.backups.map((b) => (/-repo(\d+)-/.exec(b.cronJob) || [])[1]).filter(Boolean))].sort();
  options($('backup-repo'), repos.map((r) => [r, r]));
  $('backup-btn').disabled = repos.length === 0;
}

async function poll() {
  try {
    const r = await fetch('/api/status', { cache: 'no-store' });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    current = body.status;
    render(current);
    $('read-at').textContent = `read ${new Date(body.readAt).toLocaleTimeString()}${body.running ? `, ${body.running} running` : ''}`;
    $('error').hidden = true;
  } catch (err) {
    $('error').textContent = `Cannot read the cluster: ${err.message}`;
    $('error').hidden = false;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function log(text, failed) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  if (failed) li.className = 'failed';
  $('log').prepend(li);
}

function ask(text, path, body) {
  pending = { text, path, body };
  $('confirm-text').textContent = text;
  $('confirm').hidden = false;
}

function setBusy(busy) {
  for (const id of ['switchover-btn', 'restart-btn', 'backup-btn', 'confirm-yes']) $(id).disabled = busy;
}

async function run() {
  const action = pending;
  pending = undefined;
  $('confirm').hidden = true;
  if (!action) return;
  setBusy(true);
  log(`${action.text} started`);
  try {
    const r = await fetch(action.path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Dashboard-Token': config.token },
      body: JSON.stringify(action.body),
    });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    log(`${action.text}: done ${JSON.stringify(body.result)}`);
  } catch (err) {
    log(`${action.text}: ${err.message}`, true);
  } finally {
    setBusy(false);
  }
}

function setUp() {
  $('mode').textContent = config.allowActions ? 'actions allowed' : 'read-only';
  $('mode').className = config.allowActions ? 'mode actions' : 'mode';
  if (config.allowActions) {
    $('actions').hidden = false;
    $('switchover-btn').addEventListener('click', () => {
      const to = $('switchover-to').value;
      const from = current && current.leader ? current.leader : 'the leader';
      ask(`Switch over from ${from} to ${to || 'the healthiest replica'}?`, '/api/switchover', { to: to || null });
    });
    $('restart-btn').addEventListener('click', () => ask('Restart every member (replicas one at a time, the leader last)?', '/api/restart', {}));
    $('backup-btn').addEventListener('click', () => {
      const repo = Number($('backup-repo').value);
      const type = $('backup-type').value;
      ask(`Take a ${type} backup into repository ${repo}?`, '/api/backup', { repo, type });
    });
    $('confirm-yes').addEventListener('click', () => void run());
    $('confirm-no').addEventListener('click', () => {
      pending = undefined;
      $('confirm').hidden = true;
    });
  }
  void poll();
}

setUp();
