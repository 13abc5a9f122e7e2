// @ts-check
/**
 * doorstep console: sign-in, the live alarm board (server push), site tree and device health, site
 * plans, device and gateway pages, the district view and its big screen. Plain ES modules, no
 * framework, no build step; every request goes to this same origin with the HttpOnly session
 * cookie (SameSite=Strict), alarm actions through the /v1 case API.
 */
import { lineChart } from './chart.js';
import { dateTime, duration, getLang, pick, setLang, severityLabel, t, typeLabel } from './i18n.js';

/** @typedef {{zh: string, en: string}} Label */
/**
 * @typedef {{ id: string, gateway: string, site: {district: string, town: string, community: string},
 *   device: string, location?: string, type: string, severity: string, test: boolean, latched: boolean,
 *   condition: string, acked: boolean, ackedBy?: {name: string}, ackedAt?: number, stage: string,
 *   shelved?: {until: number, reason: string, by: {name: string}}, suppressed: boolean,
 *   outOfService?: {reason: string}, feedback?: {cause: string, note: string, by: {name: string}, at: number},
 *   raisedAt: number, clearedAt?: number, updatedAt: number, value?: unknown, message?: string, isa: string,
 *   occurrence: number }} Case
 */
/**
 * @typedef {{ user: {username: string, displayName: string, scope: string, role: string},
 *   district: {slug: string, name: string}, sites: {path: string, level: string, name: string}[],
 *   labels: {stages: Record<string, Label>, causes: Record<string, Label>}, serverTime: number }} Me
 */

const SEV_RANK = /** @type {Record<string, number>} */ ({ critical: 0, major: 1, minor: 2, info: 3 });
const ROLE_RANK = /** @type {Record<string, number>} */ ({ viewer: 0, duty: 1, supervisor: 2, admin: 3 });

const state = {
  /** @type {Me | undefined} */ me: undefined,
  /** @type {Map<string, Case>} */ cases: new Map(),
  /** server time − browser time, ms */ skew: 0,
  /** @type {string | undefined} */ selected: undefined,
  muted: localStorage.getItem('ds.muted') === '1',
  stageFilter: '',
  search: '',
  truncated: false,
  connected: false,
  /** ids of critical cases that arrived live and are not yet acknowledged */
  /** @type {Set<string>} */ alerting: new Set(),
  bannerDismissed: false,
  /** @type {EventSource | undefined} */ source: undefined,
  /** @type {Record<string, unknown> | undefined} */ overview: undefined,
  gPressed: false,
};

// ── small helpers ─────────────────────────────────────────────────────────────────────────

/**
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function')
      node.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (k === 'class') node.className = String(v);
    else if (k === 'text') node.textContent = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children)
    if (c !== null && c !== undefined && c !== false) node.append(typeof c === 'number' ? String(c) : c);
  return node;
}

const now = () => Date.now() + state.skew;
const sitePath = (/** @type {Case['site']} */ s) => `${s.district}/${s.town}/${s.community}`;
const siteName = (/** @type {string} */ path) =>
  state.me?.sites.find((s) => s.path === path)?.name ?? path.split('/').pop() ?? path;
const stageLabel = (/** @type {string} */ stage) => pick(state.me?.labels.stages[stage], stage);
const causeLabel = (/** @type {string} */ cause) => pick(state.me?.labels.causes[cause], cause);
const canAct = () => (ROLE_RANK[state.me?.user.role ?? 'viewer'] ?? 0) >= 1;
const canPlan = () => (ROLE_RANK[state.me?.user.role ?? 'viewer'] ?? 0) >= 2;

class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * @param {string} path
 * @param {{method?: string, body?: unknown}} [init]
 * @returns {Promise<any>}
 */
async function api(path, init = {}) {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    credentials: 'same-origin',
    headers: init.body !== undefined ? { 'content-type': 'application/json' } : {},
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  /** @type {any} */
  let json = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { error: { code: `HTTP_${res.status}`, message: text.slice(0, 300) } };
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/console/api/session' && state.me) signedOut();
    throw new ApiError(
      res.status,
      json?.error?.code ?? `HTTP_${res.status}`,
      json?.error?.message ?? res.statusText,
    );
  }
  return json;
}

/** @param {unknown} error */
function refusal(error) {
  return error instanceof ApiError
    ? `${t('refused')} (${error.status} ${error.code})：${error.message}`
    : String(error);
}

// ── sound, title, banner ──────────────────────────────────────────────────────────────────

/** @type {AudioContext | undefined} */
let audio;
function unlockAudio() {
  try {
    audio ??= new AudioContext();
    if (audio.state === 'suspended') void audio.resume();
  } catch {
    /* no Web Audio: the banner and title still alert */
  }
  renderAlerts();
}
function beep() {
  if (state.muted || !audio || audio.state !== 'running') return;
  const t0 = audio.currentTime;
  for (const [i, f] of [880, 660, 880].entries()) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'square';
    osc.frequency.value = f;
    gain.gain.setValueAtTime(0.0001, t0 + i * 0.25);
    gain.gain.exponentialRampToValueAtTime(0.25, t0 + i * 0.25 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.25 + 0.22);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0 + i * 0.25);
    osc.stop(t0 + i * 0.25 + 0.24);
  }
}
setInterval(() => {
  if (state.alerting.size > 0 && !state.bannerDismissed) beep();
}, 4000);

function unackedCount() {
  let n = 0;
  for (const c of state.cases.values()) if (!c.acked && !c.shelved && !c.test) n++;
  return n;
}

function renderAlerts() {
  const n = unackedCount();
  const base = `${t('board')} — doorstep`;
  document.title = n > 0 ? `(${n}) ${base}` : base;
  const slot = document.getElementById('alerts');
  if (!slot) return;
  for (const id of state.alerting) {
    const c = state.cases.get(id);
    if (!c || c.acked) state.alerting.delete(id);
  }
  const critical = [...state.cases.values()].filter(
    (c) => c.severity === 'critical' && !c.acked && !c.test && !c.shelved,
  );
  const newest = critical.reduce(
    (/** @type {Case | undefined} */ a, c) => (!a || c.raisedAt > a.raisedAt ? c : a),
    undefined,
  );
  const soundHint = audio?.state !== 'running' && !state.muted && critical.length > 0;
  // Rebuilt only when what it says changes: a banner that moves the page relays out 1 000 rows.
  const key = `${getLang()}|${critical.length}|${newest?.id}|${state.bannerDismissed}|${soundHint}|${canAct()}`;
  if (slot.dataset['key'] === key) return;
  slot.dataset['key'] = key;
  slot.replaceChildren();
  if (newest && !state.bannerDismissed) {
    if (newest)
      slot.append(
        h(
          'div',
          { class: 'banner', role: 'alert', id: 'banner' },
          h(
            'span',
            {},
            `⚠ ${t('newCritical')} ×${critical.length}：${siteName(sitePath(newest.site))} ${newest.location ?? newest.device} · ${typeLabel(newest.type)}`,
          ),
          h('button', { type: 'button', onclick: () => openCase(newest.id) }, t('details')),
          canAct() && h('button', { type: 'button', onclick: () => act(newest.id, 'ack') }, t('ack')),
          h(
            'button',
            {
              type: 'button',
              onclick: () => {
                state.bannerDismissed = true;
                renderAlerts();
              },
            },
            t('dismiss'),
          ),
          h('span', { class: 'muted' }, t('newCriticalHint')),
        ),
      );
  }
  if (soundHint) slot.append(h('div', { class: 'hint', role: 'status' }, `🔈 ${t('enableSound')}`));
}

// ── sign-in ───────────────────────────────────────────────────────────────────────────────

function renderSignIn(message = '') {
  const root = /** @type {HTMLElement} */ (document.getElementById('app'));
  document.title = `${t('signIn')} — doorstep`;
  const err = h('p', { class: 'err', role: 'alert', id: 'signin-error' }, message);
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const submit = h('button', { class: 'primary', type: 'submit', id: 'signin' }, t('signIn'));
  const form = h(
    'form',
    {
      class: 'signin',
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        unlockAudio();
        submit.setAttribute('disabled', '');
        err.textContent = t('signingIn');
        try {
          await api('/console/api/session', {
            method: 'POST',
            body: {
              username: /** @type {HTMLInputElement} */ (user).value,
              password: /** @type {HTMLInputElement} */ (pass).value,
            },
          });
          await boot();
        } catch (error) {
          err.textContent = refusal(error);
          submit.removeAttribute('disabled');
          /** @type {HTMLInputElement} */ (pass).select();
        }
      },
    },
    h(
      'button',
      {
        type: 'button',
        class: 'lang',
        id: 'lang',
        onclick: () => {
          setLang(getLang() === 'zh' ? 'en' : 'zh');
          renderSignIn();
        },
      },
      t('language'),
    ),
    h('h1', {}, t('app')),
    h('label', { for: 'username' }, t('username'), user),
    h('label', { for: 'password' }, t('password'), pass),
    err,
    submit,
  );
  root.replaceChildren(h('main', { id: 'main' }, form));
  root.removeAttribute('aria-busy');
  /** @type {HTMLInputElement} */ (user).focus();
}

function signedOut() {
  state.source?.close();
  state.source = undefined;
  state.me = undefined;
  state.cases.clear();
  state.alerting.clear();
  renderSignIn();
}

async function signOut() {
  try {
    await api('/console/api/session/end', { method: 'POST', body: {} });
  } finally {
    signedOut();
  }
}

// ── shell ─────────────────────────────────────────────────────────────────────────────────

function route() {
  const [page, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  return { page: page || 'board', rest: rest.map(decodeURIComponent) };
}

function renderShell() {
  const me = /** @type {Me} */ (state.me);
  const { page } = route();
  const link = (/** @type {string} */ to, /** @type {string} */ key, /** @type {string} */ id) =>
    h('a', { href: `#/${to}`, id, 'aria-current': page === to ? 'page' : undefined }, t(key));
  const root = /** @type {HTMLElement} */ (document.getElementById('app'));
  root.replaceChildren(
    h(
      'header',
      { class: 'top' },
      h('h1', {}, `${me.district.name} · ${t('app')}`),
      h(
        'nav',
        { 'aria-label': 'main' },
        link('board', 'board', 'nav-board'),
        link('sites', 'sites', 'nav-sites'),
        link('district', 'district', 'nav-district'),
      ),
      h(
        'div',
        { class: 'who' },
        h(
          'span',
          { class: `conn${state.connected ? '' : ' down'}`, id: 'conn', role: 'status' },
          state.connected ? t('live') : t('reconnecting'),
        ),
        h('span', { id: 'who' }, `${me.user.displayName} · ${siteName(me.user.scope)} · ${me.user.role}`),
        h(
          'button',
          { type: 'button', id: 'mute', 'aria-pressed': String(state.muted), onclick: toggleMute },
          state.muted ? `🔇 ${t('unmute')}` : `🔊 ${t('mute')}`,
        ),
        h('button', { type: 'button', id: 'lang', onclick: toggleLang }, t('language')),
        h('button', { type: 'button', id: 'signout', onclick: signOut }, t('signOut')),
      ),
    ),
    h('div', { id: 'alerts' }),
    h('main', { id: 'main', tabindex: '-1' }),
  );
  root.removeAttribute('aria-busy');
  renderAlerts();
}

function toggleMute() {
  state.muted = !state.muted;
  localStorage.setItem('ds.muted', state.muted ? '1' : '0');
  const b = document.getElementById('mute');
  if (b) {
    b.textContent = state.muted ? `🔇 ${t('unmute')}` : `🔊 ${t('mute')}`;
    b.setAttribute('aria-pressed', String(state.muted));
  }
  renderAlerts();
}

function toggleLang() {
  setLang(getLang() === 'zh' ? 'en' : 'zh');
  render();
}

function setConnected(/** @type {boolean} */ up) {
  state.connected = up;
  const el = document.getElementById('conn');
  if (el) {
    el.className = `conn${up ? '' : ' down'}`;
    el.textContent = up ? t('live') : t('reconnecting');
  }
}

/** @type {(() => void) | undefined} */
let leavePage;
function render() {
  if (!state.me) return renderSignIn();
  leavePage?.();
  leavePage = undefined;
  document.body.classList.remove('big');
  renderShell();
  const main = /** @type {HTMLElement} */ (document.getElementById('main'));
  const { page, rest } = route();
  if (page === 'sites') renderSites(main);
  else if (page === 'plan') renderPlan(main, rest[0] ?? '');
  else if (page === 'device') renderDevice(main, rest[0] ?? '', rest[1] ?? '');
  else if (page === 'gateway') renderGateway(main, rest[0] ?? '');
  else if (page === 'district') renderDistrict(main, rest[0] === 'big');
  else renderBoard(main);
}

// ── live board ────────────────────────────────────────────────────────────────────────────

function connect() {
  state.source?.close();
  const source = new EventSource('/console/api/events');
  state.source = source;
  source.addEventListener('open', () => setConnected(true));
  source.addEventListener('error', async () => {
    setConnected(false);
    if (source.readyState === EventSource.CLOSED) {
      // Refused (401 after sign-out or expiry): find out, else retry.
      try {
        await api('/console/api/me');
        setTimeout(() => state.source === source && connect(), 3000);
      } catch {
        /* signedOut() already ran on 401 */
      }
    }
  });
  source.addEventListener('snapshot', (e) => {
    const m = JSON.parse(/** @type {MessageEvent} */ (e).data);
    state.skew = m.serverTime - Date.now();
    state.cases = new Map(m.items.map((/** @type {Case} */ c) => [c.id, c]));
    state.truncated = m.truncated;
    setConnected(true);
    board.reset();
    renderAlerts();
  });
  source.addEventListener('changes', (e) => {
    const m = JSON.parse(/** @type {MessageEvent} */ (e).data);
    state.skew = m.serverTime - Date.now();
    state.truncated = m.truncated;
    applyChanges(m.upserts, m.removed);
  });
}

/** @param {Case[]} upserts @param {string[]} removed */
function applyChanges(upserts, removed) {
  let alert = false;
  for (const c of upserts) {
    const isNew = !state.cases.has(c.id);
    if (c.stage === 'closed') {
      state.cases.delete(c.id);
      continue;
    }
    state.cases.set(c.id, c);
    if (isNew && c.severity === 'critical' && !c.acked && !c.test && !c.shelved) {
      state.alerting.add(c.id);
      alert = true;
    }
  }
  for (const id of removed) state.cases.delete(id);
  board.update(upserts.map((c) => c.id).concat(removed));
  if (alert) {
    state.bannerDismissed = false;
    beep();
  }
  renderAlerts();
}

/** @param {Case} a @param {Case} b */
function caseOrder(a, b) {
  const ua = a.acked ? 1 : 0;
  const ub = b.acked ? 1 : 0;
  return (
    ua - ub ||
    (SEV_RANK[a.severity] ?? 9) - (SEV_RANK[b.severity] ?? 9) ||
    b.raisedAt - a.raisedAt ||
    (a.id < b.id ? -1 : 1)
  );
}

/** Overdue: escalated past a deadline (提醒 or 督办), or critical and unacknowledged for over 3 min. */
function overdue(/** @type {Case} */ c) {
  return (
    c.stage === 'remind' ||
    c.stage === 'supervise' ||
    (c.severity === 'critical' && !c.acked && now() - c.raisedAt > 180_000)
  );
}

const board = {
  /** @type {HTMLTableSectionElement | undefined} */ body: undefined,
  /** @type {Map<string, HTMLTableRowElement>} */ rows: new Map(),
  /** @type {HTMLElement | undefined} */ count: undefined,
  /** @type {HTMLElement | undefined} */ detail: undefined,

  /** @param {Case} c */
  row(c) {
    const site = sitePath(c.site);
    const tags = [
      c.test && h('span', { class: 'tag' }, t('test')),
      c.shelved && h('span', { class: 'tag' }, t('shelved')),
      c.latched && c.condition === 'latched' && h('span', { class: 'tag' }, t('latched')),
    ];
    const tr = /** @type {HTMLTableRowElement} */ (
      h(
        'tr',
        {
          class: `case sev-${c.severity}${c.acked ? '' : ' unacked'}${state.selected === c.id ? ' sel' : ''}`,
          'data-id': c.id,
          tabindex: state.selected === c.id ? '0' : '-1',
          'aria-selected': String(state.selected === c.id),
        },
        h('td', { 'data-k': t('severity') }, h('span', { class: 'sev' }, severityLabel(c.severity))),
        h('td', { 'data-k': t('type') }, typeLabel(c.type), ...tags),
        h(
          'td',
          { 'data-k': t('location') },
          c.location ?? c.device,
          h('div', { class: 'muted' }, `${c.gateway}/${c.device}`),
        ),
        h('td', { 'data-k': t('site') }, siteName(site)),
        h(
          'td',
          { 'data-k': t('stage') },
          h('span', { class: `stage stage-${c.stage}` }, stageLabel(c.stage)),
          overdue(c) && h('span', { class: 'overdue', title: t('overdue') }, ` ⏰ ${t('overdue')}`),
        ),
        h('td', { 'data-k': t('state') }, `${c.acked ? t('acked') : t('unacked')} · ${t(c.condition)}`),
        h(
          'td',
          { 'data-k': t('age'), class: 'age', 'data-raised': c.raisedAt, title: dateTime(c.raisedAt) },
          duration(now() - c.raisedAt),
        ),
        h(
          'td',
          {},
          canAct() && !c.acked
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'ackbtn',
                  tabindex: '-1',
                  onclick: (/** @type {Event} */ e) => {
                    e.stopPropagation();
                    act(c.id, 'ack');
                  },
                },
                t('ack'),
              )
            : '',
        ),
      )
    );
    return tr;
  },

  visible(/** @type {Case} */ c) {
    if (state.stageFilter && c.stage !== state.stageFilter) return false;
    if (!state.search) return true;
    const hay =
      `${c.location ?? ''} ${c.device} ${c.gateway} ${c.type} ${typeLabel(c.type)} ${siteName(sitePath(c.site))}`.toLowerCase();
    return hay.includes(state.search.toLowerCase());
  },

  /** Full render of the rows (page entry, snapshot, language or filter change). */
  reset() {
    if (!this.body) return;
    this.rows.clear();
    const sorted = [...state.cases.values()].sort(caseOrder);
    const frag = document.createDocumentFragment();
    for (const c of sorted) {
      const tr = this.row(c);
      tr.hidden = !this.visible(c);
      this.rows.set(c.id, tr);
      frag.append(tr);
    }
    this.body.replaceChildren(frag);
    this.after();
  },

  /** Applies changed ids: replaces their rows, then moves rows only where the order changed. */
  update(/** @type {string[]} */ ids) {
    if (!this.body) return;
    for (const id of ids) {
      const c = state.cases.get(id);
      const old = this.rows.get(id);
      if (!c) {
        old?.remove();
        this.rows.delete(id);
        continue;
      }
      const tr = this.row(c);
      tr.hidden = !this.visible(c);
      // Changed rows leave the DOM and are inserted at their place below: only the keys of
      // changed cases moved, so the others keep their relative order and are never touched.
      old?.remove();
      this.rows.set(id, tr);
    }
    const sorted = [...state.cases.values()].sort(caseOrder);
    let cursor = /** @type {ChildNode | null} */ (this.body.firstChild);
    for (const c of sorted) {
      const tr = /** @type {HTMLTableRowElement} */ (this.rows.get(c.id));
      if (tr === cursor) cursor = cursor.nextSibling;
      else this.body.insertBefore(tr, cursor);
    }
    if (state.selected && !state.cases.has(state.selected)) state.selected = undefined;
    this.after();
    if (state.selected && ids.includes(state.selected)) renderDetail(false);
  },

  after() {
    if (this.count) {
      let shown = 0;
      for (const tr of this.rows.values()) if (!tr.hidden) shown++;
      this.count.textContent = String(shown);
    }
    const empty = document.getElementById('empty');
    if (empty) empty.hidden = state.cases.size > 0;
    const trunc = document.getElementById('truncated');
    if (trunc) trunc.hidden = !state.truncated;
  },

  ages() {
    if (!this.body) return;
    const n = now();
    for (const td of this.body.querySelectorAll('td.age')) {
      const text = duration(n - Number(td.getAttribute('data-raised')));
      if (td.textContent !== text) td.textContent = text;
    }
  },
};
setInterval(() => board.ages(), 1000);

/** @param {HTMLElement} main */
function renderBoard(main) {
  const me = /** @type {Me} */ (state.me);
  const stageSelect = h(
    'select',
    {
      id: 'stage-filter',
      'aria-label': t('stage'),
      onchange: (/** @type {Event} */ e) => {
        state.stageFilter = /** @type {HTMLSelectElement} */ (e.target).value;
        board.reset();
      },
    },
    h('option', { value: '' }, t('allStages')),
    ...['warn', 'remind', 'supervise', 'feedback'].map((s) =>
      h('option', { value: s, selected: state.stageFilter === s }, stageLabel(s)),
    ),
  );
  const search = h('input', {
    type: 'search',
    id: 'search',
    placeholder: t('search'),
    'aria-label': t('search'),
    value: state.search,
    oninput: (/** @type {Event} */ e) => {
      state.search = /** @type {HTMLInputElement} */ (e.target).value;
      board.reset();
    },
  });
  const count = h('span', { class: 'count', id: 'count' }, '0');
  const tbody = /** @type {HTMLTableSectionElement} */ (h('tbody', { id: 'rows' }));
  tbody.addEventListener('click', (e) => {
    const tr = /** @type {HTMLElement} */ (e.target).closest('tr.case');
    if (tr) select(tr.getAttribute('data-id') ?? undefined, true);
  });
  const detail = h(
    'aside',
    { class: 'panel detail', id: 'detail', 'aria-live': 'polite' },
    h('p', { class: 'muted' }, t('shortcutsText')),
  );
  main.append(
    h('div', { class: 'duty', id: 'duty', 'aria-label': t('onDuty') }, `${t('onDuty')}：…`),
    h(
      'div',
      { class: 'layout' },
      h(
        'section',
        { 'aria-labelledby': 'board-title' },
        h(
          'div',
          { class: 'toolbar' },
          h('h2', { id: 'board-title' }, t('openAlarms')),
          count,
          stageSelect,
          search,
        ),
        h('p', { id: 'truncated', class: 'muted', hidden: true }, t('truncated')),
        h(
          'div',
          { class: 'tablewrap' },
          h(
            'table',
            { class: 'board', id: 'board' },
            h(
              'colgroup',
              {},
              ...['sev', 'type', 'loc', 'site', 'stage', 'state', 'age', 'act'].map((c) =>
                h('col', { class: `c-${c}` }),
              ),
            ),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...['severity', 'type', 'location', 'site', 'stage', 'state', 'age'].map((k) =>
                  h('th', { scope: 'col' }, t(k)),
                ),
                h('th', {}, ''),
              ),
            ),
            tbody,
          ),
        ),
        h('p', { id: 'empty', class: 'muted', hidden: true }, t('noAlarms')),
      ),
      detail,
    ),
  );
  board.body = tbody;
  board.count = count;
  board.detail = detail;
  board.reset();
  if (state.selected) renderDetail(false);
  void loadDuty(me.user.scope);
  const timer = setInterval(() => loadDuty(me.user.scope), 60_000);
  leavePage = () => {
    clearInterval(timer);
    board.body = undefined;
  };
}

/** @param {string} scope */
async function loadDuty(scope) {
  const slot = document.getElementById('duty');
  if (!slot) return;
  try {
    const r = await api(`/v1/sites/${encodeURIComponent(scope)}/on-duty`);
    /** @type {any[]} */
    const items = r.items ?? [];
    slot.replaceChildren(h('span', {}, `${t('onDuty')}：`));
    if (items.length === 0) slot.append(h('span', { class: 'muted' }, t('nobodyOnDuty')));
    for (const d of items)
      slot.append(
        h(
          'span',
          {},
          `${siteName(d.site)} ${d.role}：`,
          h('strong', {}, d.current?.person?.name ?? '—'),
          d.next
            ? h(
                'span',
                { class: 'muted' },
                `（${t('next')} ${d.next.person.name} ${d.next.fromLocal?.slice(11, 16) ?? ''}）`,
              )
            : '',
        ),
      );
  } catch (error) {
    slot.replaceChildren(h('span', { class: 'muted' }, `${t('onDuty')}：${refusal(error)}`));
  }
}

/** @param {string | undefined} id @param {boolean} focus */
function select(id, focus) {
  const prev = state.selected ? board.rows.get(state.selected) : undefined;
  if (prev) {
    prev.classList.remove('sel');
    prev.tabIndex = -1;
    prev.setAttribute('aria-selected', 'false');
  }
  state.selected = id;
  const tr = id ? board.rows.get(id) : undefined;
  if (tr) {
    tr.classList.add('sel');
    tr.tabIndex = 0;
    tr.setAttribute('aria-selected', 'true');
    if (focus) tr.focus();
    tr.scrollIntoView({ block: 'nearest' });
  }
  renderDetail(true);
}

function openCase(/** @type {string} */ id) {
  if (route().page !== 'board') location.hash = '#/board';
  setTimeout(() => select(id, true), 0);
}

/** @param {number} delta */
function moveSelection(delta) {
  const visible = [...(board.body?.children ?? [])].filter((tr) => !(/** @type {HTMLElement} */ (tr).hidden));
  if (visible.length === 0) return;
  const at = visible.findIndex((tr) => tr.getAttribute('data-id') === state.selected);
  const next = visible[Math.max(0, Math.min(visible.length - 1, at < 0 ? 0 : at + delta))];
  select(next?.getAttribute('data-id') ?? undefined, true);
}

const ACTION_KEYS = /** @type {Record<string, string>} */ ({
  ack: 'ack',
  feedback: 'feedback',
  close: 'close',
  shelve: 'shelve',
  unshelve: 'unshelve',
  reset: 'reset',
});

/**
 * Runs an action through the /v1 case API and shows the outcome: confirmed, or the server's refusal verbatim.
 * @param {string} id @param {string} action @param {Record<string, unknown>} [body]
 */
async function act(id, action, body = {}) {
  const status = document.getElementById('action-status');
  const show = (/** @type {string} */ text, /** @type {boolean} */ ok) => {
    const el = document.getElementById('action-status');
    if (el) {
      el.textContent = text;
      el.className = `status ${ok ? 'ok' : 'err'}`;
    }
  };
  if (status) show('…', true);
  try {
    const r = await api(`/v1/cases/${encodeURIComponent(id)}/${action}`, { method: 'POST', body });
    state.alerting.delete(id);
    applyChanges([r.case], []);
    if (state.selected === id) await renderDetail(false);
    show(`✓ ${t(ACTION_KEYS[action] ?? action)} — ${t('done')}`, true);
    return true;
  } catch (error) {
    if (state.selected !== id) select(id, false);
    await Promise.resolve();
    show(refusal(error), false);
    return false;
  }
}

let detailSeq = 0;
/** @param {boolean} fresh */
async function renderDetail(fresh) {
  const panel = board.detail;
  if (!panel) return;
  const id = state.selected;
  const c = id ? state.cases.get(id) : undefined;
  const keepStatus = !fresh ? document.getElementById('action-status')?.cloneNode(true) : undefined;
  if (!c) {
    panel.replaceChildren(h('p', { class: 'muted' }, t('shortcutsText')));
    return;
  }
  const seq = ++detailSeq;
  const forms = h('div', { id: 'forms' });
  const btn = (
    /** @type {string} */ action,
    /** @type {string} */ key,
    /** @type {() => void} */ run,
    /** @type {string} */ cls = '',
  ) =>
    h(
      'button',
      { type: 'button', id: `act-${action}`, class: cls, onclick: run, 'aria-keyshortcuts': key },
      `${t(action)} (${key})`,
    );
  panel.replaceChildren(
    h(
      'h2',
      {},
      h('span', { class: `sev sev-${c.severity}` }, severityLabel(c.severity)),
      ' ',
      typeLabel(c.type),
    ),
    h(
      'dl',
      {},
      h('dt', {}, t('location')),
      h('dd', {}, c.location ?? c.device),
      h('dt', {}, t('site')),
      h('dd', {}, siteName(sitePath(c.site))),
      h('dt', {}, t('device')),
      h(
        'dd',
        {},
        h(
          'a',
          { href: `#/device/${encodeURIComponent(c.gateway)}/${encodeURIComponent(c.device)}` },
          `${c.gateway}/${c.device}`,
        ),
      ),
      h('dt', {}, t('stage')),
      h(
        'dd',
        {},
        h('span', { class: `stage stage-${c.stage}` }, stageLabel(c.stage)),
        overdue(c) ? h('span', { class: 'overdue' }, ` ⏰ ${t('overdue')}`) : '',
      ),
      h('dt', {}, t('state')),
      h(
        'dd',
        { id: 'detail-state' },
        `${c.acked ? `${t('acked')} (${c.ackedBy?.name ?? ''} ${dateTime(c.ackedAt)})` : t('unacked')} · ${t(c.condition)}`,
      ),
      h('dt', {}, t('raisedAt')),
      h('dd', {}, dateTime(c.raisedAt)),
      c.feedback ? h('dt', {}, t('feedback')) : '',
      c.feedback
        ? h(
            'dd',
            { id: 'detail-feedback' },
            `${causeLabel(c.feedback.cause)}：${c.feedback.note}（${c.feedback.by.name}）`,
          )
        : '',
      c.shelved ? h('dt', {}, t('shelved')) : '',
      c.shelved ? h('dd', {}, `${c.shelved.reason} → ${dateTime(c.shelved.until)}`) : '',
    ),
    canAct()
      ? h(
          'div',
          { class: 'actions' },
          btn('ack', 'A', () => act(c.id, 'ack'), c.acked ? '' : 'primary'),
          btn('feedback', 'F', () => showForm('feedback')),
          btn('close', 'C', () => act(c.id, 'close')),
          c.shelved
            ? btn('unshelve', 'S', () => act(c.id, 'unshelve'))
            : btn('shelve', 'S', () => showForm('shelve')),
          btn('reset', 'R', () => act(c.id, 'reset')),
        )
      : h('p', { class: 'muted' }, t('forbidden')),
    keepStatus ?? h('p', { class: 'status', id: 'action-status', role: 'status', 'aria-live': 'polite' }),
    forms,
    h('h3', {}, t('auditTrail')),
    h('div', { id: 'audit', class: 'audit' }, '…'),
  );
  try {
    const r = await api(`/v1/cases/${encodeURIComponent(c.id)}`);
    if (seq !== detailSeq) return;
    const audit = document.getElementById('audit');
    audit?.replaceChildren(auditTable(r.audit));
  } catch (error) {
    const audit = document.getElementById('audit');
    if (audit) audit.textContent = refusal(error);
  }
}

/** @param {any[]} entries */
function auditTable(entries) {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, h('th', {}, t('at')), h('th', {}, t('action')), h('th', {}, t('by')))),
    h(
      'tbody',
      {},
      ...entries
        .slice()
        .reverse()
        .map((a) =>
          h(
            'tr',
            {},
            h('td', {}, dateTime(a.at)),
            h('td', {}, a.action, a.detail?.reason ? ` · ${a.detail.reason}` : ''),
            h('td', {}, a.actor?.name ?? ''),
          ),
        ),
    ),
  );
}

/** @param {'feedback' | 'shelve'} kind */
function showForm(kind) {
  const id = state.selected;
  const slot = document.getElementById('forms');
  if (!id || !slot) return;
  const causes = Object.keys(state.me?.labels.causes ?? {});
  /** @type {HTMLElement} */
  let form;
  if (kind === 'feedback') {
    const cause = h(
      'select',
      { id: 'fb-cause', name: 'cause' },
      ...causes.map((k) => h('option', { value: k }, causeLabel(k))),
    );
    const note = h('textarea', { id: 'fb-note', name: 'note', rows: '3', maxlength: '500', required: true });
    form = h(
      'form',
      {
        class: 'inline',
        id: 'feedback-form',
        onsubmit: async (/** @type {Event} */ e) => {
          e.preventDefault();
          const ok = await act(id, 'feedback', {
            cause: /** @type {HTMLSelectElement} */ (cause).value,
            note: /** @type {HTMLTextAreaElement} */ (note).value,
          });
          if (ok) form.remove();
        },
      },
      h('label', {}, t('cause'), cause),
      h('label', {}, t('note'), note),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'primary', id: 'fb-submit' }, t('submit')),
        h('button', { type: 'button', onclick: () => form.remove() }, t('cancel')),
      ),
    );
    slot.replaceChildren(form);
    /** @type {HTMLElement} */ (cause).focus();
  } else {
    const reason = h('input', { id: 'sh-reason', name: 'reason', required: true, maxlength: '500' });
    const hours = h('input', {
      id: 'sh-hours',
      name: 'hours',
      type: 'number',
      min: '0.25',
      max: '24',
      step: '0.25',
      value: '2',
      required: true,
    });
    form = h(
      'form',
      {
        class: 'inline',
        id: 'shelve-form',
        onsubmit: async (/** @type {Event} */ e) => {
          e.preventDefault();
          const ok = await act(id, 'shelve', {
            reason: /** @type {HTMLInputElement} */ (reason).value,
            hours: Number(/** @type {HTMLInputElement} */ (hours).value),
          });
          if (ok) form.remove();
        },
      },
      h('label', {}, t('reason'), reason),
      h('label', {}, t('hours'), hours),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'primary', id: 'sh-submit' }, t('submit')),
        h('button', { type: 'button', onclick: () => form.remove() }, t('cancel')),
      ),
    );
    slot.replaceChildren(form);
    /** @type {HTMLElement} */ (reason).focus();
  }
}

// ── sites, devices, plans ─────────────────────────────────────────────────────────────────

/** @param {string} [scope] */
async function loadOverview(scope) {
  const q = scope ? `?scope=${encodeURIComponent(scope)}` : '';
  return api(`/console/api/overview${q}`);
}

/** Why a device is offline or faulty, in words (the catalogue code stays in the gateway's health). @param {string} code */
function reasonLabel(code) {
  const key = `reason_${code}`;
  const label = t(key);
  return label === key ? t('reasonOther') : label;
}

/** @param {any} d */
function deviceState(d) {
  const st = d.health?.state ?? 'unknown';
  const why = d.health?.reason ? reasonLabel(d.health.reason) : '';
  return h('span', { class: `st-${st}`, ...(why ? { title: why } : {}) }, t(st), why ? ` · ${why}` : '');
}

/** @param {HTMLElement} main */
async function renderSites(main) {
  main.append(h('p', {}, '…'));
  /** @type {any} */
  let o;
  try {
    o = await loadOverview();
  } catch (error) {
    main.replaceChildren(h('p', { class: 'status err' }, refusal(error)));
    return;
  }
  state.overview = o;
  const serverNow = o.serverTime;
  /** @type {any[]} */
  const sites = o.sites;
  /** @type {any[]} */
  const gateways = o.gateways;
  /** @type {any[]} */
  const devices = o.devices;
  const tree = h('ul', {});
  const byParent = (/** @type {string} */ p) =>
    sites.filter((s) => s.path.split('/').slice(0, -1).join('/') === p);
  const roots = sites.filter((s) => !sites.some((x) => s.path !== x.path && s.path.startsWith(`${x.path}/`)));
  /** @param {any} s */
  const nodeFor = (s) => {
    const li = h(
      'li',
      {},
      h('span', { class: 'lvl' }, s.level),
      s.level === 'community'
        ? h('a', { href: `#/plan/${encodeURIComponent(s.path)}` }, s.name)
        : h('strong', {}, s.name),
    );
    const kids = h('ul', {});
    for (const c of byParent(s.path)) kids.append(nodeFor(c));
    if (s.level === 'community')
      for (const g of gateways.filter((x) => x.sitePath === s.path)) {
        const gl = h(
          'li',
          {},
          h('span', { class: 'lvl' }, t('gateway')),
          h('a', { href: `#/gateway/${encodeURIComponent(g.id)}` }, g.name ?? g.id),
        );
        const dl = h('ul', {});
        for (const d of devices.filter((x) => x.gateway === g.id))
          dl.append(
            h(
              'li',
              {},
              h(
                'a',
                { href: `#/device/${encodeURIComponent(g.id)}/${encodeURIComponent(d.id)}` },
                d.location ?? d.id,
              ),
              ' ',
              deviceState(d),
            ),
          );
        gl.append(dl);
        kids.append(gl);
      }
    if (kids.childElementCount) li.append(kids);
    return li;
  };
  for (const r of roots) tree.append(nodeFor(r));

  let filter = 'all';
  let query = '';
  const tbody = h('tbody', { id: 'device-rows' });
  const draw = () => {
    const rows = devices.filter((d) => {
      const hl = d.health ?? {};
      if (filter === 'offline' && hl.state !== 'offline') return false;
      if (filter === 'faulty' && hl.state !== 'faulty') return false;
      if (filter === 'battery' && !hl.batteryLow) return false;
      if (filter === 'fault' && !hl.fault) return false;
      if (!query) return true;
      return `${d.id} ${d.gateway} ${d.location ?? ''} ${d.kind ?? ''} ${siteName(d.sitePath)}`
        .toLowerCase()
        .includes(query.toLowerCase());
    });
    tbody.replaceChildren(
      ...rows.map((d) =>
        h(
          'tr',
          {},
          h(
            'td',
            {},
            h(
              'a',
              { href: `#/device/${encodeURIComponent(d.gateway)}/${encodeURIComponent(d.id)}` },
              d.location ?? d.id,
            ),
            h('div', { class: 'muted' }, `${d.gateway}/${d.id}`),
          ),
          h('td', {}, siteName(d.sitePath)),
          h('td', {}, d.kind ?? '—'),
          h('td', {}, deviceState(d)),
          h(
            'td',
            {},
            d.health?.battery !== undefined ? `${d.health.battery}%` : '—',
            d.health?.batteryLow ? h('span', { class: 'overdue' }, ` ${t('lowBattery')}`) : '',
          ),
          h('td', {}, d.health?.fault ? h('span', { class: 'overdue' }, t('fault')) : '—'),
          h(
            'td',
            { title: dateTime(d.health?.lastSeen) },
            d.health?.lastSeen ? `${duration(serverNow - d.health.lastSeen)}` : '—',
          ),
        ),
      ),
    );
  };
  const filterSel = h(
    'select',
    {
      id: 'health-filter',
      'aria-label': t('state'),
      onchange: (/** @type {Event} */ e) => {
        filter = /** @type {HTMLSelectElement} */ (e.target).value;
        draw();
      },
    },
    h('option', { value: 'all' }, t('filterAll')),
    h('option', { value: 'offline' }, t('offline')),
    h('option', { value: 'faulty' }, t('faulty')),
    h('option', { value: 'battery' }, t('lowBattery')),
    h('option', { value: 'fault' }, t('fault')),
  );
  const search = h('input', {
    type: 'search',
    id: 'device-search',
    placeholder: t('search'),
    'aria-label': t('search'),
    oninput: (/** @type {Event} */ e) => {
      query = /** @type {HTMLInputElement} */ (e.target).value;
      draw();
    },
  });
  main.replaceChildren(
    h(
      'div',
      { class: 'cols' },
      h('nav', { class: 'panel tree', 'aria-label': t('tree') }, h('h2', {}, t('tree')), tree),
      h(
        'section',
        { class: 'panel' },
        h('div', { class: 'toolbar' }, h('h2', {}, t('deviceHealth')), filterSel, search),
        h(
          'div',
          { class: 'tablewrap' },
          h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...['device', 'site', 'kind', 'state', 'battery', 'fault', 'lastSeen'].map((k) =>
                  h('th', { scope: 'col' }, t(k)),
                ),
              ),
            ),
            tbody,
          ),
        ),
      ),
    ),
  );
  draw();
}

/** @param {HTMLElement} main @param {string} site */
async function renderPlan(main, site) {
  main.append(h('p', {}, '…'));
  /** @type {any} */
  let o;
  /** @type {any} */
  let m;
  try {
    [o, m] = await Promise.all([
      loadOverview(site),
      api(`/console/api/markers?site=${encodeURIComponent(site)}`),
    ]);
  } catch (error) {
    main.replaceChildren(h('p', { class: 'status err' }, refusal(error)));
    return;
  }
  /** @type {any[]} */
  const devices = o.devices;
  /** @type {Map<string, {x: number, y: number}>} */
  const placed = new Map(
    m.items.map((/** @type {any} */ k) => [`${k.gateway}/${k.device}`, { x: k.x, y: k.y }]),
  );
  const status = h('p', { class: 'status', id: 'plan-status', role: 'status' });
  const plan = h('div', { class: 'plan', id: 'plan' });
  const chips = h('div', { class: 'chips', id: 'unplaced' });
  const alarmed = new Set([...state.cases.values()].map((c) => `${c.gateway}/${c.device}`));

  /** @param {string} key @param {number} x @param {number} y */
  const save = async (key, x, y) => {
    const [gateway = '', device = ''] = key.split('/');
    try {
      await api('/console/api/markers', { method: 'POST', body: { site, gateway, device, x, y } });
      placed.set(key, { x, y });
      status.textContent = `✓ ${t('saved')}：${device}`;
      status.className = 'status ok';
    } catch (error) {
      status.textContent = refusal(error);
      status.className = 'status err';
    }
    draw();
  };
  const draw = () => {
    for (const mk of plan.querySelectorAll('.marker')) mk.remove();
    chips.replaceChildren();
    for (const d of devices) {
      const key = `${d.gateway}/${d.id}`;
      const at = placed.get(key);
      if (at && m.plan) {
        const mk = h(
          'button',
          {
            type: 'button',
            class: `marker${alarmed.has(key) ? ' alarm' : ''}`,
            draggable: canPlan() ? 'true' : undefined,
            'data-key': key,
            title: `${d.location ?? d.id} (${d.id})`,
            ondragstart: (/** @type {DragEvent} */ e) => e.dataTransfer?.setData('text/plain', key),
            onclick: () => {
              location.hash = `#/device/${encodeURIComponent(d.gateway)}/${encodeURIComponent(d.id)}`;
            },
            onkeydown: (/** @type {KeyboardEvent} */ e) => {
              const step = e.shiftKey ? 0.05 : 0.01;
              const dx = e.key === 'ArrowLeft' ? -step : e.key === 'ArrowRight' ? step : 0;
              const dy = e.key === 'ArrowUp' ? -step : e.key === 'ArrowDown' ? step : 0;
              if ((dx || dy) && canPlan()) {
                e.preventDefault();
                e.stopPropagation();
                void save(key, Math.min(1, Math.max(0, at.x + dx)), Math.min(1, Math.max(0, at.y + dy))).then(
                  () =>
                    /** @type {HTMLElement | null} */ (
                      plan.querySelector(`[data-key="${CSS.escape(key)}"]`)
                    )?.focus(),
                );
              }
            },
          },
          d.location ?? d.id,
        );
        // CSSOM, not a style attribute: the page's CSP allows no inline styles.
        mk.style.left = `${(at.x * 100).toFixed(2)}%`;
        mk.style.top = `${(at.y * 100).toFixed(2)}%`;
        plan.append(mk);
      } else
        chips.append(
          h(
            'button',
            {
              type: 'button',
              class: 'chip',
              draggable: canPlan() ? 'true' : undefined,
              'data-key': key,
              ondragstart: (/** @type {DragEvent} */ e) => e.dataTransfer?.setData('text/plain', key),
              onclick: () => {
                if (m.plan && canPlan()) void save(key, 0.5, 0.5);
              },
            },
            d.location ?? d.id,
          ),
        );
    }
  };
  plan.addEventListener('dragover', (e) => e.preventDefault());
  plan.addEventListener('drop', (e) => {
    e.preventDefault();
    const key = e.dataTransfer?.getData('text/plain');
    if (!key || !canPlan() || !m.plan) return;
    const box = plan.getBoundingClientRect();
    void save(
      key,
      Math.min(1, Math.max(0, (e.clientX - box.left) / box.width)),
      Math.min(1, Math.max(0, (e.clientY - box.top) / box.height)),
    );
  });
  if (m.plan)
    plan.append(
      h('img', {
        src: `/console/api/plan?site=${encodeURIComponent(site)}&v=${m.plan.updatedAt}`,
        alt: `${t('plan')} ${siteName(site)}`,
      }),
    );
  else plan.append(h('p', { class: 'muted empty' }, t('noPlan')));
  const upload = h('input', {
    type: 'file',
    id: 'plan-file',
    accept: 'image/svg+xml,image/png',
    onchange: (/** @type {Event} */ e) => {
      const file = /** @type {HTMLInputElement} */ (e.target).files?.[0];
      if (!file) return;
      const reader = new FileReader();
      reader.onload = async () => {
        try {
          await api('/console/api/plan', { method: 'POST', body: { site, image: String(reader.result) } });
          render();
        } catch (error) {
          status.textContent = refusal(error);
          status.className = 'status err';
        }
      };
      reader.readAsDataURL(file);
    },
  });
  main.replaceChildren(
    h(
      'div',
      { class: 'toolbar' },
      h('a', { href: '#/sites' }, `← ${t('back')}`),
      h('h2', {}, `${t('plan')} · ${siteName(site)}`),
    ),
    canPlan() ? h('label', { class: 'toolbar' }, t('uploadPlan'), upload) : '',
    status,
    h('p', { class: 'muted' }, t('dragHint')),
    h('h3', {}, t('unplaced')),
    chips,
    plan,
  );
  draw();
}

/** @param {HTMLElement} main @param {string} gateway @param {string} device */
async function renderDevice(main, gateway, device) {
  main.append(h('p', {}, '…'));
  /** @type {any} */
  let r;
  try {
    r = await api(
      `/console/api/device?gateway=${encodeURIComponent(gateway)}&device=${encodeURIComponent(device)}`,
    );
  } catch (error) {
    main.replaceChildren(h('p', { class: 'status err' }, refusal(error)));
    return;
  }
  /** @type {Map<string, {unit: string, points: {t: number, v: number}[], band: {t: number, min: number, max: number}[]}>} */
  const series = new Map();
  const get = (/** @type {string} */ point, /** @type {string} */ unit) => {
    let s = series.get(point);
    if (!s) {
      s = { unit, points: [], band: [] };
      series.set(point, s);
    }
    if (unit && !s.unit) s.unit = unit;
    return s;
  };
  for (const x of r.readings)
    if (typeof x.value === 'number') get(x.point, x.unit).points.push({ t: x.ts, v: x.value });
  for (const x of r.rollups) get(x.point, '').band.push({ t: x.bucket, min: x.min, max: x.max });
  const order = (/** @type {string} */ p) => (p.includes('pressure') ? 0 : p.includes('gas') ? 1 : 2);
  const charts = [...series.entries()].sort((a, b) => order(a[0]) - order(b[0]) || a[0].localeCompare(b[0]));
  const h_ = r.health ?? {};
  main.replaceChildren(
    h(
      'div',
      { class: 'toolbar' },
      h('a', { href: '#/sites' }, `← ${t('back')}`),
      h('h2', {}, `${r.device.location ?? r.device.id}`),
      h(
        'span',
        { class: 'muted' },
        `${r.device.gateway}/${r.device.id} · ${siteName(r.device.sitePath)} · ${r.device.kind ?? ''}`,
      ),
    ),
    h(
      'div',
      { class: 'panel' },
      h(
        'dl',
        { class: 'kpis' },
        h('div', { class: 'kpi' }, t('state'), h('b', {}, deviceState(r))),
        h(
          'div',
          { class: 'kpi' },
          t('battery'),
          h('b', {}, h_.battery !== undefined ? `${h_.battery}%` : '—'),
        ),
        h(
          'div',
          { class: `kpi${h_.fault ? ' bad' : ''}` },
          t('fault'),
          h('b', {}, h_.fault ? t('fault') : '—'),
        ),
        h('div', { class: 'kpi' }, t('lastSeen'), h('b', {}, dateTime(h_.lastSeen))),
      ),
    ),
    h('h3', {}, t('trend')),
    ...(charts.length === 0 ? [h('p', { class: 'muted' }, t('noData'))] : []),
    ...charts.flatMap(([point, s]) => [
      h('h4', {}, `${point} (${s.unit})`),
      s.points.length
        ? h(
            'div',
            {},
            h('p', { class: 'muted' }, t('raw24h')),
            lineChart({ label: point, unit: s.unit, points: s.points }),
          )
        : '',
      s.band.length
        ? h(
            'div',
            {},
            h('p', { class: 'muted' }, t('hourly7d')),
            lineChart({ label: point, unit: s.unit, points: [], band: s.band }),
          )
        : '',
    ]),
    h('h3', {}, t('alarmHistory')),
    h(
      'div',
      { class: 'tablewrap' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h('tr', {}, ...['raisedAt', 'type', 'severity', 'stage', 'feedback'].map((k) => h('th', {}, t(k)))),
        ),
        h(
          'tbody',
          {},
          ...r.cases.map((/** @type {Case} */ c) =>
            h(
              'tr',
              {},
              h('td', {}, dateTime(c.raisedAt)),
              h('td', {}, typeLabel(c.type)),
              h('td', {}, h('span', { class: `sev sev-${c.severity}` }, severityLabel(c.severity))),
              h('td', {}, stageLabel(c.stage)),
              h('td', {}, c.feedback ? `${causeLabel(c.feedback.cause)}：${c.feedback.note}` : '—'),
            ),
          ),
        ),
      ),
    ),
    h('h3', {}, t('auditTrail')),
    h('div', { class: 'tablewrap audit' }, auditTable(r.audit.slice().reverse())),
  );
}

/** @param {HTMLElement} main @param {string} id */
async function renderGateway(main, id) {
  /** @type {any} */
  let o;
  try {
    o = await loadOverview();
  } catch (error) {
    main.replaceChildren(h('p', { class: 'status err' }, refusal(error)));
    return;
  }
  const g = o.gateways.find((/** @type {any} */ x) => x.id === id);
  if (!g) {
    main.replaceChildren(h('p', { class: 'status err' }, `${t('gateway')} ${id}: ${t('noData')}`));
    return;
  }
  const hl = g.health ?? {};
  const rep = hl.report ?? {};
  const ob = rep.outbox ?? {};
  const kpi = (/** @type {string} */ k, /** @type {string} */ v, bad = false) =>
    h('div', { class: `kpi${bad ? ' bad' : ''}` }, t(k), h('b', {}, v));
  const dropped = Object.entries(ob.dropped ?? {});
  main.replaceChildren(
    h(
      'div',
      { class: 'toolbar' },
      h('a', { href: '#/sites' }, `← ${t('back')}`),
      h('h2', {}, `${t('gateway')} ${g.name ?? g.id}`),
      h('span', { class: 'muted' }, `${g.id} · ${siteName(g.sitePath)} · ${g.status}`),
    ),
    h(
      'div',
      { class: 'panel' },
      h(
        'div',
        { class: 'kpis', id: 'gateway-kpis' },
        kpi('software', rep.software ?? '—'),
        kpi('lastSync', dateTime(hl.lastSyncAt)),
        kpi(
          'outbox',
          Object.entries(ob.pending ?? {})
            .map(([k, v]) => `${k} ${v}`)
            .join(' · ') || '—',
        ),
        kpi(
          'drops',
          dropped.length ? dropped.map(([k, v]) => `${k} ${v}`).join(' · ') : '0',
          dropped.some(([, v]) => Number(v) > 0),
        ),
        kpi('quarantined', String(ob.quarantined ?? '—'), Number(ob.quarantined) > 0),
        kpi(
          'clockOffset',
          rep.clockOffsetMs !== undefined ? `${rep.clockOffsetMs} ms` : '—',
          Math.abs(Number(rep.clockOffsetMs ?? 0)) > 5000,
        ),
        kpi('rejected', String(hl.rejectedBatches ?? 0), Number(hl.rejectedBatches) > 0),
        kpi('uptime', rep.uptimeS !== undefined ? duration(rep.uptimeS * 1000) : '—'),
      ),
    ),
    h('h3', {}, t('devices')),
    h(
      'ul',
      {},
      ...o.devices
        .filter((/** @type {any} */ d) => d.gateway === g.id)
        .map((/** @type {any} */ d) =>
          h(
            'li',
            {},
            h(
              'a',
              { href: `#/device/${encodeURIComponent(g.id)}/${encodeURIComponent(d.id)}` },
              d.location ?? d.id,
            ),
            ' ',
            deviceState(d),
          ),
        ),
    ),
  );
}

// ── district view and big screen ──────────────────────────────────────────────────────────

/** @param {HTMLElement} main @param {boolean} big */
async function renderDistrict(main, big) {
  if (big) document.body.classList.add('big');
  let rotate = 0;
  /** @type {any} */
  let data;
  const draw = () => {
    if (!data) return;
    /** @type {any[]} */
    const towns = data.towns;
    const shown = big && towns.length > 1 ? [towns[rotate % towns.length]] : towns;
    const ms = (/** @type {number | null} */ v) => (v === null ? '—' : duration(v));
    main.replaceChildren(
      h(
        'div',
        { class: 'toolbar' },
        h('h2', {}, `${data.district.name} · ${t('district')}`),
        h('span', { class: 'muted' }, `${t('window7d')} · ${dateTime(data.at)}`),
        big
          ? h('a', { href: '#/district', id: 'exit-big' }, t('exitBig'))
          : h('a', { href: '#/district/big', id: 'big-screen' }, `⛶ ${t('bigScreen')}`),
      ),
      h(
        'div',
        { class: 'figures', id: 'figures' },
        ...shown.map((tw) =>
          h(
            'section',
            { class: 'panel town', 'data-town': tw.town },
            h(
              'h3',
              {},
              h('span', { class: `light${tw.redLights.length ? ' red' : ''}`, 'aria-hidden': 'true' }),
              tw.name,
            ),
            h(
              'div',
              { class: 'kpis' },
              h(
                'div',
                { class: `kpi${tw.openAlarms ? ' bad' : ''}` },
                t('openAlarms'),
                h('b', {}, tw.openAlarms),
              ),
              h(
                'div',
                { class: `kpi${tw.overdueSupervise ? ' bad' : ''}` },
                t('overdueSupervise'),
                h('b', {}, tw.overdueSupervise),
              ),
              h('div', { class: 'kpi' }, t('mtta'), h('b', {}, ms(tw.meanAckMs))),
              h('div', { class: 'kpi' }, t('mttc'), h('b', {}, ms(tw.meanCloseMs))),
              h(
                'div',
                { class: 'kpi' },
                t('falseRate'),
                h('b', {}, tw.falseAlarmRate === null ? '—' : `${Math.round(tw.falseAlarmRate * 100)}%`),
              ),
              h(
                'div',
                { class: `kpi${tw.devicesOffline ? ' bad' : ''}` },
                t('devicesOffline'),
                h('b', {}, `${tw.devicesOffline}/${tw.devices}`),
              ),
            ),
            h(
              'p',
              {},
              h('strong', {}, `${t('badActors')}：`),
              tw.badActors.length
                ? tw.badActors.map((/** @type {any} */ b) => `${b.name} (${b.falseAlarms24h})`).join('、')
                : t('none'),
            ),
            h(
              'p',
              {},
              h('strong', {}, `${t('redLights')}：`),
              tw.redLights.length
                ? tw.redLights
                    .map(
                      (/** @type {any} */ r) =>
                        `${r.name}（${r.why.map((/** @type {string} */ w) => t(`why_${w}`)).join('、')}）`,
                    )
                    .join('；')
                : t('none'),
            ),
          ),
        ),
      ),
    );
  };
  const load = async () => {
    try {
      data = await api('/console/api/district');
      draw();
    } catch (error) {
      main.replaceChildren(h('p', { class: 'status err' }, refusal(error)));
    }
  };
  await load();
  const refresh = setInterval(load, 30_000);
  const spin = setInterval(() => {
    if (big) {
      rotate++;
      draw();
    }
  }, 10_000);
  leavePage = () => {
    clearInterval(refresh);
    clearInterval(spin);
  };
}

// ── keyboard ──────────────────────────────────────────────────────────────────────────────

document.addEventListener('keydown', (e) => {
  unlockAudio();
  if (!state.me || e.ctrlKey || e.metaKey || e.altKey) return;
  const target = /** @type {HTMLElement} */ (e.target);
  if (target.closest('input, textarea, select, [contenteditable]')) {
    if (e.key === 'Escape') target.blur();
    return;
  }
  if (target.closest('.marker') && e.key.startsWith('Arrow')) return;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (state.gPressed) {
    state.gPressed = false;
    const to = /** @type {Record<string, string>} */ ({ b: 'board', s: 'sites', d: 'district' })[key];
    if (to) {
      location.hash = `#/${to}`;
      e.preventDefault();
    }
    return;
  }
  if (key === 'g') {
    state.gPressed = true;
    return;
  }
  if (key === 'm') return toggleMute();
  if (key === 'l') return toggleLang();
  if (key === '?') {
    const help = h(
      'dialog',
      { id: 'help' },
      h('h2', {}, t('shortcuts')),
      h('p', {}, t('shortcutsText')),
      h('form', { method: 'dialog' }, h('button', { class: 'primary' }, 'OK')),
    );
    document.body.append(help);
    /** @type {HTMLDialogElement} */ (help).showModal();
    help.addEventListener('close', () => help.remove());
    return;
  }
  if (route().page !== 'board') {
    if (key === 'Escape' && document.body.classList.contains('big')) location.hash = '#/district';
    return;
  }
  const id = state.selected;
  switch (key) {
    case 'j':
    case 'ArrowDown':
      e.preventDefault();
      return moveSelection(1);
    case 'k':
    case 'ArrowUp':
      e.preventDefault();
      return moveSelection(-1);
    case '/':
      e.preventDefault();
      return document.getElementById('search')?.focus();
    case 'Enter':
      return document.getElementById('act-ack')?.focus();
    case 'Escape':
      return select(undefined, false);
  }
  if (!id || !canAct()) return;
  if (key === 'a') void act(id, 'ack');
  else if (key === 'c') void act(id, 'close');
  else if (key === 'r') void act(id, 'reset');
  else if (key === 'f') showForm('feedback');
  else if (key === 's') state.cases.get(id)?.shelved ? void act(id, 'unshelve') : showForm('shelve');
  else return;
  e.preventDefault();
});
document.addEventListener('pointerdown', unlockAudio);

// ── start ─────────────────────────────────────────────────────────────────────────────────

async function boot() {
  setLang(getLang());
  try {
    state.me = await api('/console/api/me');
  } catch {
    renderSignIn();
    return;
  }
  state.skew = /** @type {Me} */ (state.me).serverTime - Date.now();
  render();
  connect();
}

window.addEventListener('hashchange', render);
/** For the bench and tests: how long the last board update took, measured with performance.now. */
Object.assign(window, { __doorstep: { state, board, applyChanges } });
void boot();
