// @ts-check
/**
 * doorstep console: sign-in, the live alarm board (server push), site tree and device health, site
 * plans, device and gateway pages, the district view and its big screen. Plain ES modules, no
 * framework, no build step; every request goes to this same origin with the HttpOnly session
 * cookie (SameSite=Strict), alarm actions through the /v1 case API.
 */
import { lineChart } from './chart.js';
import {
  dateTime,
  duration,
  getLang,
  pick,
  roleLabel,
  setLang,
  severityLabel,
  t,
  typeLabel,
} from './i18n.js';

/** @typedef {{zh: string, en: string}} Label */
/**
 * @typedef {{ id: string, gateway: string, site: {district: string, town: string, community: string},
 *   device: string, location?: string, type: string, severity: string, test: boolean, latched: boolean,
 *   condition: string, acked: boolean, ackedBy?: {name: string}, ackedAt?: number, stage: string,
 *   shelved?: {until: number, reason: string, by: {name: string}}, suppressed: boolean,
 *   outOfService?: {reason: string, by: {name: string}, until?: number},
 *   feedback?: {cause: string, note: string, by: {name: string}, at: number},
 *   raisedAt: number, receivedAt?: number, clearedAt?: number, resetAt?: number, updatedAt: number, value?: unknown,
 *   message?: string, isa: string, lastActivityAt?: number,
 *   occurrence: number, occurrences?: {alarm: string, raisedAt?: number, clearedAt?: number, value?: unknown}[] }} Case
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
  /** @type {'live' | 'stale' | 'connecting'} */ conn: 'connecting',
  /** critical cases already announced with an immediate beep */
  /** @type {Set<string>} */ heard: new Set(),
  /** critical cases the banner's 知道了 silenced (until a new one arrives) */
  /** @type {Set<string>} */ silenced: new Set(),
  /** beeps played (audible ones only), for tests */
  beeps: 0,
  /** live streams opened (1 + reconnects), for tests */
  connects: 0,
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
/**
 * Creates the audio context. Browsers start it suspended until a click or key press (autoplay
 * policy); the page then shows a prompt, and the first gesture resumes it. A kiosk whose browser
 * allows autoplay sounds at once, also after a reload.
 */
function unlockAudio() {
  try {
    if (!audio) {
      audio = new AudioContext();
      audio.addEventListener('statechange', () => {
        renderAlerts();
        if (audio?.state === 'running' && sounding()) beep();
      });
    }
    if (audio.state === 'suspended') void audio.resume().catch(() => undefined);
  } catch {
    /* no Web Audio: the banner and title still alert */
  }
  renderAlerts();
}
function beep() {
  if (state.muted || !audio || audio.state !== 'running') return;
  state.beeps++;
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

const isShelved = (/** @type {Case} */ c) => Boolean(c.shelved && c.shelved.until > now());
/** Out of service now (it lapses at its `until`, like the server's view). */
const outOfService = (/** @type {Case} */ c) =>
  Boolean(c.outOfService && (c.outOfService.until === undefined || c.outOfService.until > now()));

/**
 * Every unacknowledged critical alarm in scope, oldest first: whether it arrived live or was
 * already open at sign-in or before a reload, it is heard until someone acknowledges it.
 */
function alarming() {
  return [...state.cases.values()]
    .filter((c) => c.severity === 'critical' && !c.acked && !c.test && !isShelved(c))
    .sort((a, b) => a.raisedAt - b.raisedAt);
}
/** Alarming cases that the banner's 知道了 has not silenced (a new one brings the sound back). */
const unsilenced = () => alarming().filter((c) => !state.silenced.has(c.id));
const sounding = () => !state.muted && unsilenced().length > 0;

setInterval(() => {
  if (sounding()) beep();
}, 4000);

/** Beeps at once for a critical alarm not heard before (live, in a snapshot, after a reload). */
function alertNew() {
  let fresh = false;
  const open = alarming();
  const alive = new Set(open.map((c) => c.id));
  // Acknowledged cases never sound again: forget them, so a long shift does not grow the set.
  for (const id of state.heard) if (!alive.has(id)) state.heard.delete(id);
  for (const c of open)
    if (!state.heard.has(c.id)) {
      state.heard.add(c.id);
      fresh = true;
    }
  if (fresh && sounding()) beep();
}

function unackedCount() {
  let n = 0;
  for (const c of state.cases.values()) if (!c.acked && !isShelved(c) && !c.test) n++;
  return n;
}

function renderAlerts() {
  const n = unackedCount();
  const base = `${t('board')} — doorstep`;
  const critical = alarming();
  document.title = n > 0 ? `(${n})${critical.length > 0 ? ' ⚠' : ''} ${base}` : base;
  const slot = document.getElementById('alerts');
  if (!slot) return;
  const alive = new Set(critical.map((c) => c.id));
  for (const id of state.silenced) if (!alive.has(id)) state.silenced.delete(id);
  const loud = critical.filter((c) => !state.silenced.has(c.id));
  const newest = loud[loud.length - 1];
  const soundHint = audio?.state !== 'running' && !state.muted && loud.length > 0;
  // Rebuilt only when what it says changes: a banner that moves the page relays out 1 000 rows.
  const key = `${getLang()}|${critical.length}|${newest?.id}|${soundHint}|${canAct()}`;
  if (slot.dataset['key'] === key) return;
  slot.dataset['key'] = key;
  slot.replaceChildren();
  if (newest) {
    const target = newest;
    slot.append(
      h(
        'div',
        { class: 'banner', role: 'alert', id: 'banner', 'data-id': target.id },
        h(
          'span',
          { id: 'banner-text' },
          '⚠ ',
          h('strong', { id: 'banner-type' }, `${severityLabel(target.severity)} · ${typeLabel(target.type)}`),
          `：${siteName(sitePath(target.site))} ${target.location ?? target.device}`,
          critical.length > 1 ? `（${t('unackedCritical')} ${critical.length}）` : '',
        ),
        h('button', { type: 'button', id: 'banner-open', onclick: () => openCase(target.id) }, t('details')),
        canAct() &&
          h(
            'button',
            { type: 'button', id: 'banner-ack', onclick: () => act(target.id, 'ack') },
            t('ackThis'),
            h('span', { class: 'kbd' }, ' (Shift+A)'),
          ),
        h(
          'button',
          {
            type: 'button',
            id: 'banner-dismiss',
            onclick: () => {
              for (const c of critical) state.silenced.add(c.id);
              renderAlerts();
            },
          },
          t('dismiss'),
        ),
        canAct() && h('span', { class: 'muted kbd' }, t('newCriticalHint')),
      ),
    );
  }
  if (soundHint)
    slot.append(
      h(
        'button',
        { type: 'button', class: 'hint', id: 'enable-sound', onclick: unlockAudio },
        `🔈 ${t('enableSound')}`,
      ),
    );
}

/** The alarm the banner names (its 确认 button and Shift+A act on this one, not on the selection). */
function bannerCase() {
  const id = document.getElementById('banner')?.getAttribute('data-id');
  return id ? state.cases.get(id) : undefined;
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
  state.heard.clear();
  state.silenced.clear();
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
        link('users', 'accounts', 'nav-users'),
      ),
      h(
        'div',
        { class: 'who' },
        h(
          'span',
          {
            class: `conn${state.conn === 'live' ? '' : ' down'}`,
            id: 'conn',
            role: 'status',
            'data-state': state.conn,
          },
          t(state.conn === 'live' ? 'live' : state.conn === 'stale' ? 'stale' : 'reconnecting'),
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

/** The live pill: 实时, 断线 (no heartbeat: the board may be out of date), or reconnecting. */
function setConn(/** @type {'live' | 'stale' | 'connecting'} */ next) {
  state.conn = next;
  const el = document.getElementById('conn');
  if (el) {
    el.className = `conn${next === 'live' ? '' : ' down'}`;
    el.dataset['state'] = next;
    el.textContent = t(next === 'live' ? 'live' : next === 'stale' ? 'stale' : 'reconnecting');
  }
  document.body.classList.toggle('stale', next === 'stale');
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
  else if (page === 'users') renderUsers(main, rest[0]);
  else renderBoard(main);
}

// ── accounts: own password and tokens; users in scope (admins) ────────────────────────────

const isAdmin = () => state.me?.user.role === 'admin';
const userRole = (/** @type {string} */ role) => t(`role_${role}`);

/**
 * The account page (`#/users`, `#/users/<name>` opens that user's tokens): everyone changes their
 * own password and lists or revokes their own API tokens; an admin also lists the users of its
 * scope and disables or enables them, resets their passwords, ends their sessions and revokes
 * their tokens. Everything goes through the /v1 account API (cloud/auth/accounts.ts), which checks
 * scope and role and keeps the audit trail; a refusal is shown verbatim.
 * @param {HTMLElement} main
 * @param {string | undefined} focus
 */
async function renderUsers(main, focus) {
  const me = /** @type {Me} */ (state.me);
  const status = h('p', { class: 'status', id: 'users-status', role: 'status' });
  /** @param {string} text @param {boolean} [bad] */
  const say = (text, bad = false) => {
    status.textContent = text;
    status.className = `status ${bad ? 'err' : 'ok'}`;
  };
  /** Runs an action, says ✓ or the refusal, then redraws what it changed. */
  const run = async (/** @type {() => Promise<string>} */ fn, /** @type {() => Promise<void>} */ after) => {
    try {
      say(`✓ ${await fn()}`);
    } catch (error) {
      say(refusal(error), true);
    }
    await after();
    // The trail too, so the page shows what it just recorded.
    await showAudit();
  };

  // Own password: the current one is checked; the other sessions end.
  const current = h('input', {
    id: 'pw-current',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const next = h('input', {
    id: 'pw-new',
    type: 'password',
    autocomplete: 'new-password',
    required: true,
    minlength: '12',
  });
  const mine = h(
    'form',
    {
      class: 'panel',
      id: 'my-password',
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        await run(
          async () => {
            const r = await api('/v1/me/password', {
              method: 'POST',
              body: {
                current: /** @type {HTMLInputElement} */ (current).value,
                password: /** @type {HTMLInputElement} */ (next).value,
              },
            });
            /** @type {HTMLInputElement} */ (current).value = '';
            /** @type {HTMLInputElement} */ (next).value = '';
            return t('passwordChanged').replace('{n}', String(r.sessionsEnded));
          },
          async () => undefined,
        );
      },
    },
    h('h3', {}, t('changePassword')),
    h('label', { for: 'pw-current' }, t('currentPassword'), current),
    h('label', { for: 'pw-new' }, t('newPassword'), next),
    h('p', { class: 'muted' }, t('passwordRule')),
    h('button', { type: 'submit', class: 'primary', id: 'pw-submit' }, t('changePassword')),
  );

  const tokensSlot = h('div', { id: 'tokens' });
  /** @param {string} username */
  const showTokens = async (username) => {
    try {
      const r = await api(`/v1/users/${encodeURIComponent(username)}/api-tokens`);
      const rows = /** @type {any[]} */ (r.items).map((tk) =>
        h(
          'tr',
          { 'data-token': tk.id, class: tk.state === 'active' ? '' : 'muted' },
          h('td', {}, tk.label ?? '—', h('div', { class: 'muted' }, tk.id)),
          h('td', {}, `${userRole(tk.role)} · ${siteName(tk.scope)}`),
          h('td', {}, dateTime(tk.createdAt)),
          h('td', {}, tk.expiresAt ? dateTime(tk.expiresAt) : '—'),
          h('td', {}, tk.lastUsedAt ? dateTime(tk.lastUsedAt) : t('never')),
          h('td', { class: 't-state' }, t(`token_${tk.state}`)),
          h(
            'td',
            {},
            tk.state === 'active' &&
              h(
                'button',
                {
                  type: 'button',
                  class: 't-revoke',
                  onclick: () =>
                    run(
                      async () => {
                        await api(
                          `/v1/users/${encodeURIComponent(username)}/api-tokens/${encodeURIComponent(tk.id)}/revoke`,
                          { method: 'POST', body: {} },
                        );
                        return `${t('revoked')}：${tk.label ?? tk.id}`;
                      },
                      () => showTokens(username),
                    ),
                },
                t('revoke'),
              ),
          ),
        ),
      );
      tokensSlot.replaceChildren(
        h(
          'div',
          { class: 'panel', 'data-user': username },
          h('h3', {}, `${t('apiTokens')} · ${username}`),
          rows.length === 0
            ? h('p', { class: 'muted' }, t('noTokens'))
            : h(
                'table',
                { id: 'tokens-table' },
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ...['tokenLabel', 'tokenScope', 'created', 'expires', 'lastUsed', 'state', ''].map((k) =>
                      h('th', {}, k ? t(k) : ''),
                    ),
                  ),
                ),
                h('tbody', {}, ...rows),
              ),
        ),
      );
    } catch (error) {
      tokensSlot.replaceChildren(h('p', { class: 'status err' }, refusal(error)));
    }
  };

  const usersSlot = h('div', { id: 'users' });
  const showUsers = async () => {
    if (!isAdmin()) return;
    try {
      const r = await api('/v1/users');
      /** @type {(u: any, path: string, key: string, body?: unknown) => HTMLElement} */
      const action = (u, path, key, body = {}) =>
        h(
          'button',
          {
            type: 'button',
            class: `u-${path.split('/')[0]}`,
            onclick: () =>
              run(async () => {
                const a = await api(`/v1/users/${encodeURIComponent(u.username)}/${path}`, {
                  method: 'POST',
                  body,
                });
                const ended = a.sessionsEnded
                  ? ` · ${t('sessionsEnded').replace('{n}', String(a.sessionsEnded))}`
                  : '';
                return `${t(key)}：${u.username}${ended}`;
              }, showUsers),
          },
          t(key),
        );
      const rows = /** @type {any[]} */ (r.items).map((u) => {
        const self = u.username === me.user.username;
        const pw = h('input', {
          type: 'password',
          class: 'u-newpw',
          autocomplete: 'new-password',
          'aria-label': `${t('newPassword')} ${u.username}`,
          placeholder: t('newPassword'),
        });
        const reset = h(
          'form',
          {
            class: 'u-reset-form',
            onsubmit: async (/** @type {Event} */ e) => {
              e.preventDefault();
              await run(async () => {
                const a = await api(`/v1/users/${encodeURIComponent(u.username)}/password`, {
                  method: 'POST',
                  body: { password: /** @type {HTMLInputElement} */ (pw).value },
                });
                return `${t('passwordReset')}：${u.username} · ${t('sessionsEnded').replace('{n}', String(a.sessionsEnded))}`;
              }, showUsers);
            },
          },
          pw,
          h('button', { type: 'submit', class: 'u-reset' }, t('resetPassword')),
        );
        const locked = u.lockedUntil !== undefined && u.lockedUntil > now();
        return h(
          'tr',
          { 'data-user': u.username, class: u.disabled ? 'muted' : '' },
          h(
            'td',
            {},
            h('strong', {}, u.username),
            u.displayName ? h('div', { class: 'muted' }, u.displayName) : null,
          ),
          h('td', {}, userRole(u.role)),
          h('td', {}, siteName(u.scope)),
          h(
            'td',
            { class: 'u-state' },
            u.disabled
              ? t('userDisabled')
              : locked
                ? `${t('userLocked')} ${dateTime(u.lockedUntil)}`
                : t('userEnabled'),
          ),
          h(
            'td',
            {},
            h(
              'div',
              { class: 'actions' },
              !self && (u.disabled ? action(u, 'enable', 'enable') : action(u, 'disable', 'disable')),
              action(u, 'sessions/end', 'endSessions'),
              h(
                'button',
                { type: 'button', class: 'u-tokens', onclick: () => showTokens(u.username) },
                t('apiTokens'),
              ),
              !self && reset,
            ),
          ),
        );
      });
      usersSlot.replaceChildren(
        h(
          'div',
          { class: 'panel' },
          h('h3', {}, `${t('usersInScope')} · ${siteName(r.scope)}`),
          h(
            'table',
            { id: 'users-table' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...['username', 'role', 'scope', 'state', ''].map((k) => h('th', {}, k ? t(k) : '')),
              ),
            ),
            h('tbody', {}, ...rows),
          ),
        ),
      );
    } catch (error) {
      usersSlot.replaceChildren(h('p', { class: 'status err' }, refusal(error)));
    }
  };

  const auditSlot = h('div', { id: 'account-audit' });
  const showAudit = async () => {
    if (!isAdmin()) return;
    try {
      const r = await api('/v1/account-audit?limit=50');
      const items = /** @type {any[]} */ (r.items);
      auditSlot.replaceChildren(
        h(
          'div',
          { class: 'panel audit' },
          h('h3', {}, t('accountAudit')),
          items.length === 0
            ? h('p', { class: 'muted' }, t('noEntries'))
            : h(
                'ul',
                {},
                ...items.map((e) =>
                  h(
                    'li',
                    { 'data-action': e.action },
                    `${dateTime(e.at)} · ${t(`audit_${e.action}`)} · ${e.user} · ${t('by')} ${e.actor}${e.ip ? ` (${e.ip})` : ''}`,
                  ),
                ),
              ),
        ),
      );
    } catch (error) {
      auditSlot.replaceChildren(h('p', { class: 'status err' }, refusal(error)));
    }
  };
  main.replaceChildren(
    h('div', { class: 'toolbar' }, h('h2', {}, t('accounts'))),
    status,
    h(
      'div',
      { class: 'accounts' },
      mine,
      h(
        'div',
        { class: 'panel' },
        h('h3', {}, t('myTokens')),
        h(
          'button',
          { type: 'button', id: 'my-tokens', onclick: () => showTokens(me.user.username) },
          t('apiTokens'),
        ),
      ),
    ),
    usersSlot,
    tokensSlot,
    auditSlot,
  );
  await showUsers();
  await showAudit();
  if (focus) await showTokens(focus);
}

// ── live board ────────────────────────────────────────────────────────────────────────────

/**
 * The live connection's health. The server sends a message at least every `heartbeatMs` (changes or
 * a heartbeat, cloud/console/push.ts); after 3 missed beats the board may be out of date, so the
 * pill says 断线 and the page opens a new stream, whose snapshot resynchronises the board. A frozen
 * link (proxy or NAT that stops forwarding without closing) is caught this way too: the browser's
 * EventSource alone would wait forever.
 */
const live = {
  heartbeatMs: 5000,
  /** performance.now() of the last message (or of the connection attempt). */
  last: 0,
  staleAfter() {
    return 3 * this.heartbeatMs + Math.max(1000, this.heartbeatMs);
  },
  beat() {
    this.last = performance.now();
    if (state.conn !== 'live') setConn('live');
  },
};
setInterval(() => {
  if (!state.me || !state.source) return;
  if (performance.now() - live.last > live.staleAfter()) {
    setConn('stale');
    connect();
  }
}, 1000);

function connect() {
  state.source?.close();
  const source = new EventSource('/console/api/events');
  state.source = source;
  state.connects++;
  live.last = performance.now();
  source.addEventListener('error', async () => {
    if (state.source !== source) return;
    if (state.conn === 'live') setConn('connecting');
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
    if (state.source !== source) return;
    const m = JSON.parse(/** @type {MessageEvent} */ (e).data);
    state.skew = m.serverTime - Date.now();
    if (typeof m.heartbeatMs === 'number' && m.heartbeatMs > 0) live.heartbeatMs = m.heartbeatMs;
    const before = new Set(state.cases.keys());
    state.cases = new Map(m.items.map((/** @type {Case} */ c) => [c.id, c]));
    state.truncated = m.truncated;
    live.beat();
    // A resynchronisation patches the board: rows that did not change are not touched.
    if (board.rows.size === 0) {
      // First snapshot: one fragment, not 1 000 insertions.
      board.reset();
      if (detail.id) patchDetail();
    } else {
      const gone = [...before].filter((id) => !state.cases.has(id));
      board.update([...state.cases.keys(), ...gone]);
    }
    alertNew();
    renderAlerts();
  });
  source.addEventListener('changes', (e) => {
    if (state.source !== source) return;
    const m = JSON.parse(/** @type {MessageEvent} */ (e).data);
    state.skew = m.serverTime - Date.now();
    state.truncated = m.truncated;
    live.beat();
    applyChanges(m.upserts, m.removed);
  });
  source.addEventListener('heartbeat', (e) => {
    if (state.source !== source) return;
    const m = JSON.parse(/** @type {MessageEvent} */ (e).data);
    state.skew = m.serverTime - Date.now();
    live.beat();
  });
}

/** @param {Case[]} upserts @param {string[]} removed */
function applyChanges(upserts, removed) {
  for (const c of upserts) {
    if (c.stage === 'closed') {
      state.cases.delete(c.id);
      if (detail.id === c.id) detail.last = c;
      continue;
    }
    state.cases.set(c.id, c);
  }
  for (const id of removed) state.cases.delete(id);
  board.update(upserts.map((c) => c.id).concat(removed));
  alertNew();
  renderAlerts();
}

/** @param {Case} a @param {Case} b */
function caseOrder(a, b) {
  // The server's board order (cloud/alarms/store/port.ts boardOrder): severity, real before walk
  // tests, then stage (督办 above 提醒 above 预警), then newest cloud receipt.
  return (
    (SEV_RANK[a.severity] ?? 9) - (SEV_RANK[b.severity] ?? 9) ||
    Number(a.test) - Number(b.test) ||
    (STAGE_RANK[a.stage] ?? 9) - (STAGE_RANK[b.stage] ?? 9) ||
    receivedAt(b) - receivedAt(a) ||
    (a.id < b.id ? -1 : 1)
  );
}

/** When the cloud received the case (the board never orders by a gateway's clock). @param {Case} c */
const receivedAt = (c) => c.receivedAt ?? c.raisedAt;
/** Board order of stages: escalated first. @type {Record<string, number>} */
const STAGE_RANK = { supervise: 0, remind: 1, warn: 2, feedback: 3, closed: 4 };

/** Overdue: escalated past a deadline (提醒 or 督办), or critical and unacknowledged for over 3 min. */
function overdue(/** @type {Case} */ c) {
  return (
    c.stage === 'remind' ||
    c.stage === 'supervise' ||
    (c.severity === 'critical' && !c.acked && now() - c.raisedAt > 180_000)
  );
}

const CELLS = ['severity', 'type', 'location', 'site', 'stage', 'state', 'age', ''];

/**
 * Sets a cell's content only when what it shows changed (`key`), so updates patch the board:
 * untouched cells keep their nodes, focus and buttons.
 * @param {HTMLElement | null | undefined} td @param {string} key @param {() => (Node | string)[]} make
 */
function patchCell(td, key, make) {
  if (!td || td.dataset['key'] === key) return;
  td.dataset['key'] = key;
  td.replaceChildren(...make());
}

const board = {
  /** @type {HTMLTableSectionElement | undefined} */ body: undefined,
  /** @type {Map<string, HTMLTableRowElement>} */ rows: new Map(),
  /** @type {HTMLElement | undefined} */ count: undefined,
  /** @type {HTMLElement | undefined} */ detail: undefined,
  /** The one row in the tab order (roving tabindex). @type {HTMLElement | undefined} */ tabRow: undefined,

  /** Builds the row of a case, or patches its existing row in place. @param {Case} c @param {HTMLTableRowElement} [tr] */
  row(c, tr) {
    if (!tr) {
      tr = /** @type {HTMLTableRowElement} */ (h('tr', { tabindex: '-1' }));
      for (const k of CELLS) tr.append(h('td', k ? { 'data-k': t(k) } : {}));
    }
    const sel = state.selected === c.id;
    tr.className = `case sev-${c.severity}${c.acked ? '' : ' unacked'}${sel ? ' sel' : ''}`;
    tr.setAttribute('data-id', c.id);
    tr.setAttribute('aria-selected', String(sel));
    const [sev, type, loc, site, stage, st, age, actCell] = tr.cells;
    const lang = getLang();
    patchCell(sev, `${lang}|${c.severity}`, () => [h('span', { class: 'sev' }, severityLabel(c.severity))]);
    const shelved = isShelved(c);
    const latched = c.latched && c.condition === 'latched';
    const times = c.occurrence ?? 1;
    patchCell(type, `${lang}|${c.type}|${c.test}|${shelved}|${latched}|${times}`, () =>
      [
        typeLabel(c.type),
        // One row per condition: how often it occurred (the detail lists each time).
        times > 1 &&
          h(
            'span',
            { class: 'tag count', title: t('occurredTimes').replace('{n}', String(times)) },
            `×${times}`,
          ),
        c.test && h('span', { class: 'tag' }, t('test')),
        shelved && h('span', { class: 'tag' }, t('shelved')),
        latched && h('span', { class: 'tag' }, t('latched')),
      ].filter((x) => x !== false),
    );
    patchCell(loc, `${c.location}|${c.gateway}|${c.device}`, () => [
      c.location ?? c.device,
      h('div', { class: 'muted' }, `${c.gateway}/${c.device}`),
    ]);
    const sp = sitePath(c.site);
    patchCell(site, `${lang}|${sp}`, () => [siteName(sp)]);
    const late = overdue(c);
    patchCell(stage, `${lang}|${c.stage}|${late}`, () =>
      [
        h('span', { class: `stage stage-${c.stage}` }, stageLabel(c.stage)),
        late && h('span', { class: 'overdue', title: t('overdue') }, ` ⏰ ${t('overdue')}`),
      ].filter((x) => x !== false),
    );
    patchCell(st, `${lang}|${c.acked}|${c.condition}`, () => [
      `${c.acked ? t('acked') : t('unacked')} · ${t(c.condition)}`,
    ]);
    if (age && age.getAttribute('data-raised') !== String(c.raisedAt)) {
      age.className = 'age';
      age.setAttribute('data-raised', String(c.raisedAt));
      age.title = dateTime(c.raisedAt);
      age.textContent = duration(now() - c.raisedAt);
    }
    const canAck = canAct() && !c.acked;
    patchCell(actCell, `${lang}|${canAck}`, () =>
      canAck
        ? [
            h(
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
            ),
          ]
        : [],
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

  /** Full render of the rows (page entry, language change). */
  reset() {
    if (!this.body) return;
    this.rows.clear();
    this.tabRow = undefined;
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

  /** A filter changed: only which rows are hidden changes. */
  refilter() {
    for (const [id, tr] of this.rows) {
      const c = state.cases.get(id);
      if (c) tr.hidden = !this.visible(c);
    }
    this.after();
  },

  /** Applies changed ids: patches their rows in place, then moves rows only where the order changed. */
  update(/** @type {string[]} */ ids) {
    if (this.body) {
      for (const id of ids) {
        const c = state.cases.get(id);
        const old = this.rows.get(id);
        if (!c) {
          old?.remove();
          this.rows.delete(id);
          continue;
        }
        const tr = this.row(c, old);
        tr.hidden = !this.visible(c);
        this.rows.set(id, tr);
      }
      // Only the changed rows can be out of place (the others keep their relative order): the
      // cursor steps over them, and each is moved once, when its turn comes. Moving every row after
      // a changed one instead would relay out the whole board.
      const changed = new Set(ids);
      const focused = document.activeElement;
      const sorted = [...state.cases.values()].sort(caseOrder);
      let cursor = /** @type {ChildNode | null} */ (this.body.firstChild);
      for (const c of sorted) {
        const tr = /** @type {HTMLTableRowElement} */ (this.rows.get(c.id));
        while (
          cursor &&
          cursor !== tr &&
          changed.has(/** @type {HTMLElement} */ (cursor).getAttribute('data-id') ?? '')
        )
          cursor = cursor.nextSibling;
        if (tr === cursor) cursor = cursor.nextSibling;
        else this.body.insertBefore(tr, cursor);
      }
      // A moved row loses the focus: give it back (the officer's place on the board).
      if (focused instanceof HTMLElement && focused !== document.activeElement && focused.isConnected)
        focused.focus({ preventScroll: true });
      this.after();
    }
    if (state.selected && !state.cases.has(state.selected)) state.selected = undefined;
    if (detail.id && ids.includes(detail.id)) patchDetail();
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
    this.roving();
  },

  /**
   * Roving tabindex (WAI-ARIA APG, "Managing focus within components"): exactly one row is in the
   * tab order, the selected one or else the first shown, so Tab reaches the board and J/K/arrows
   * move within it.
   */
  roving() {
    if (!this.body) return;
    const sel = state.selected ? this.rows.get(state.selected) : undefined;
    /** @type {HTMLElement | undefined} */
    let target = sel && !sel.hidden ? sel : undefined;
    if (!target)
      for (const tr of this.body.children)
        if (!(/** @type {HTMLElement} */ (tr).hidden)) {
          target = /** @type {HTMLElement} */ (tr);
          break;
        }
    if (this.tabRow === target) return;
    if (this.tabRow) this.tabRow.tabIndex = -1;
    this.tabRow = target;
    if (target) target.tabIndex = 0;
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
        board.refilter();
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
      board.refilter();
    },
  });
  const count = h('span', { class: 'count', id: 'count' }, '0');
  const tbody = /** @type {HTMLTableSectionElement} */ (h('tbody', { id: 'rows' }));
  tbody.addEventListener('click', (e) => {
    const tr = /** @type {HTMLElement} */ (e.target).closest('tr.case');
    if (tr) select(tr.getAttribute('data-id') ?? undefined, true);
  });
  // Tab lands on the board's one tabbable row: that row becomes the selection.
  tbody.addEventListener('focusin', (e) => {
    const tr = /** @type {HTMLElement} */ (e.target).closest('tr.case');
    const id = tr?.getAttribute('data-id') ?? undefined;
    if (tr === e.target && id && id !== state.selected) select(id, false);
  });
  const panel = h('aside', { class: 'panel detail', id: 'detail', 'aria-live': 'polite' });
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
      panel,
    ),
  );
  board.body = tbody;
  board.count = count;
  board.detail = panel;
  board.reset();
  openDetail();
  void loadDuty(me.user.scope);
  const timer = setInterval(() => loadDuty(me.user.scope), 60_000);
  leavePage = () => {
    clearInterval(timer);
    board.body = undefined;
    board.detail = undefined;
    detail.id = undefined;
    detail.buttons = {};
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
          `${siteName(d.site)} ${roleLabel(d.role)}：`,
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
    prev.setAttribute('aria-selected', 'false');
  }
  const changed = state.selected !== id;
  state.selected = id;
  const tr = id ? board.rows.get(id) : undefined;
  if (tr) {
    tr.classList.add('sel');
    tr.setAttribute('aria-selected', 'true');
  }
  board.roving();
  if (tr) {
    if (focus) tr.focus();
    tr.scrollIntoView({ block: 'nearest' });
  }
  if (changed || detail.id !== id) openDetail();
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

/** What a close still needs, as codes of cloud/alarms/model.ts closePreconditions. @param {Case} c */
function closeNeeds(c) {
  const needs = [];
  if (c.condition === 'active') needs.push('condition_active');
  else if (c.condition === 'latched') needs.push('condition_latched');
  if (!c.acked) needs.push('not_acknowledged');
  if (!c.feedback) needs.push('no_feedback');
  return needs;
}

/**
 * The actions a case allows now, mirroring the server's rules (cloud/alarms/model.ts): a button
 * that would only earn a refusal is disabled, and a closed case offers nothing.
 * @param {Case} c @param {boolean} closed
 * @returns {Record<string, boolean>}
 */
function allowed(c, closed) {
  const open = !closed && c.stage !== 'closed' && canAct();
  const shelved = isShelved(c);
  return {
    ack: open && !c.acked,
    feedback: open,
    close: open && closeNeeds(c).length === 0,
    shelve: open && !shelved,
    unshelve: open && shelved,
    reset: open && c.latched && c.resetAt === undefined,
    'return-to-service': open && outOfService(c),
  };
}

/** Shows an outcome in the detail panel's status line. @param {string} text @param {boolean} ok */
function showStatus(text, ok) {
  const el = document.getElementById('action-status');
  if (el) {
    el.textContent = text;
    el.className = `status ${ok ? 'ok' : 'err'}`;
  }
}

/**
 * Runs an action through the /v1 case API and shows the outcome: confirmed, or the server's refusal
 * verbatim; after a refusal the case is read again, so the panel shows what the server knows.
 * @param {string} id @param {string} action @param {Record<string, unknown>} [body]
 */
async function act(id, action, body = {}) {
  if (document.getElementById('action-status')) showStatus('…', true);
  try {
    const r = await api(`/v1/cases/${encodeURIComponent(id)}/${action}`, { method: 'POST', body });
    if (detail.id === id) detail.last = r.case;
    applyChanges([r.case], []);
    if (detail.id === id) showStatus(`✓ ${t(action)} — ${t('done')}`, true);
    return true;
  } catch (error) {
    if (state.selected !== id && state.cases.has(id)) select(id, false);
    showStatus(refusal(error), false);
    try {
      const fresh = await api(`/v1/cases/${encodeURIComponent(id)}`);
      applyChanges([fresh.case], []);
    } catch {
      /* the refusal is shown; the live push catches up */
    }
    return false;
  }
}

/**
 * The detail panel of the selected case. It is built once per selection (`openDetail`) and then
 * patched (`patchDetail`): pushed updates change texts and which buttons are enabled, and never
 * touch the forms slot, so a note being typed and its 提交 button survive every update.
 */
const detail = {
  /** @type {string | undefined} */ id: undefined,
  /** The case as last known; kept when it is closed and leaves the board. @type {Case | undefined} */
  last: undefined,
  seq: 0,
  /** @type {Record<string, HTMLButtonElement>} */ buttons: {},
};

function openDetail() {
  const panel = board.detail;
  detail.id = state.selected;
  detail.last = detail.id ? state.cases.get(detail.id) : undefined;
  detail.buttons = {};
  if (!panel) return;
  if (!detail.id || !detail.last) {
    detail.id = undefined;
    panel.replaceChildren(h('p', { class: 'muted kbd' }, t('shortcutsText')));
    return;
  }
  const id = detail.id;
  /** @type {[string, string, () => void][]} */
  const defs = [
    ['ack', 'A', () => act(id, 'ack')],
    ['feedback', 'F', () => showForm('feedback')],
    ['close', 'C', () => act(id, 'close')],
    ['shelve', 'S', () => showForm('shelve')],
    ['unshelve', 'S', () => act(id, 'unshelve')],
    ['reset', 'R', () => act(id, 'reset')],
    ['return-to-service', 'O', () => act(id, 'return-to-service')],
  ];
  const actions = h('div', { class: 'actions', id: 'detail-actions' });
  for (const [action, key, run] of defs) {
    const b = /** @type {HTMLButtonElement} */ (
      h(
        'button',
        { type: 'button', id: `act-${action}`, onclick: run, 'aria-keyshortcuts': key },
        t(action),
        h('span', { class: 'kbd' }, ` (${key})`),
      )
    );
    detail.buttons[action] = b;
    actions.append(b);
  }
  panel.replaceChildren(
    h('h2', { id: 'detail-title' }),
    h('dl', { id: 'detail-fields' }),
    canAct() ? actions : h('p', { class: 'muted' }, t('forbidden')),
    h('p', { class: 'muted', id: 'close-needs', hidden: true }),
    h('p', { class: 'status', id: 'action-status', role: 'status', 'aria-live': 'polite' }),
    h('div', { id: 'forms' }),
    h('h3', {}, t('auditTrail')),
    h('div', { id: 'audit', class: 'audit' }, '…'),
  );
  patchDetail();
}

function patchDetail() {
  const panel = board.detail;
  if (!panel || !detail.id) return;
  const live = state.cases.get(detail.id);
  if (live) detail.last = live;
  const c = detail.last;
  if (!c) return;
  const closed = !live;
  const stage = closed ? 'closed' : c.stage;
  const title = document.getElementById('detail-title');
  patchCell(title, `${getLang()}|${c.severity}|${c.type}`, () => [
    h('span', { class: `sev sev-${c.severity}` }, severityLabel(c.severity)),
    ' ',
    typeLabel(c.type),
  ]);
  const fields = document.getElementById('detail-fields');
  const late = !closed && overdue(c);
  const shelved = isShelved(c);
  const stateText = `${c.acked ? `${t('acked')} (${c.ackedBy?.name ?? ''} ${dateTime(c.ackedAt)})` : t('unacked')} · ${t(c.condition)}`;
  patchCell(
    fields,
    JSON.stringify([
      getLang(),
      stage,
      late,
      stateText,
      c.feedback,
      shelved && c.shelved,
      c.location,
      c.raisedAt,
      c.occurrence,
      c.occurrences?.at(-1),
      c.outOfService,
      c.lastActivityAt,
    ]),
    () => [
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
        { id: 'detail-stage' },
        h('span', { class: `stage stage-${stage}` }, stageLabel(stage)),
        late ? h('span', { class: 'overdue' }, ` ⏰ ${t('overdue')}`) : '',
      ),
      h('dt', {}, t('state')),
      h('dd', { id: 'detail-state' }, stateText),
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
      shelved && c.shelved ? h('dt', {}, t('shelved')) : '',
      shelved && c.shelved ? h('dd', {}, `${c.shelved.reason} → ${dateTime(c.shelved.until)}`) : '',
      outOfService(c) && c.outOfService ? h('dt', {}, t('outOfService')) : '',
      outOfService(c) && c.outOfService
        ? h(
            'dd',
            { id: 'detail-oos' },
            `${c.outOfService.reason}（${c.outOfService.by.name}）${c.outOfService.until ? ` → ${dateTime(c.outOfService.until)}` : ''}`,
          )
        : '',
      h('dt', {}, t('lastActivity')),
      h('dd', {}, c.lastActivityAt ? dateTime(c.lastActivityAt) : t('noActivity')),
      h('dt', {}, t('occurrences')),
      h('dd', { id: 'detail-occurrences' }, String(c.occurrence ?? 1)),
      (c.occurrences?.length ?? 0) > 1 ? h('dt', {}, t('history')) : '',
      (c.occurrences?.length ?? 0) > 1
        ? h(
            'dd',
            {},
            h(
              'ol',
              { class: 'occurrences', id: 'detail-history', reversed: true },
              ...(c.occurrences ?? [])
                .slice(-10)
                .reverse()
                .map((o) =>
                  h(
                    'li',
                    {},
                    o.raisedAt !== undefined ? dateTime(o.raisedAt) : '—',
                    o.clearedAt !== undefined ? ` → ${t('clearedAt')} ${dateTime(o.clearedAt)}` : '',
                    o.value !== undefined ? ` · ${String(o.value)}` : '',
                  ),
                ),
            ),
          )
        : '',
    ],
  );
  const can = allowed(c, closed);
  const shelvedNow = isShelved(c);
  for (const [action, b] of Object.entries(detail.buttons)) {
    b.disabled = !can[action];
    if (action === 'shelve') b.hidden = shelvedNow;
    if (action === 'unshelve') b.hidden = !shelvedNow;
    if (action === 'return-to-service') b.hidden = !outOfService(c);
    b.classList.toggle('primary', action === 'ack' && Boolean(can['ack']));
  }
  // A focused button that became disabled (after 确认, say) would drop the focus to the page:
  // hand it to the next action the case allows.
  const focused = document.activeElement;
  if (focused instanceof HTMLButtonElement && focused.disabled && panel.contains(focused))
    Object.values(detail.buttons)
      .find((b) => !b.disabled && !b.hidden)
      ?.focus();
  const needs = closed ? [] : closeNeeds(c);
  const needEl = document.getElementById('close-needs');
  if (needEl) {
    needEl.hidden = needs.length === 0 || !canAct();
    needEl.textContent = `${t('closeNeeds')}：${needs.map((n) => t(`need_${n}`)).join('、')}`;
  }
  void loadAudit(c.id);
}

/** @param {string} id */
async function loadAudit(id) {
  const seq = ++detail.seq;
  try {
    const r = await api(`/v1/cases/${encodeURIComponent(id)}`);
    if (seq !== detail.seq) return;
    document.getElementById('audit')?.replaceChildren(auditTable(r.audit));
  } catch (error) {
    if (seq !== detail.seq) return;
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
  const id = detail.id;
  const slot = document.getElementById('forms');
  if (!id || !slot) return;
  // Pressing F or S again must not wipe a note being typed: go back to the open form instead.
  const open = document.getElementById(`${kind}-form`);
  if (open) return /** @type {HTMLElement | null} */ (open.querySelector('textarea, input, select'))?.focus();
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
    registryPanel(),
  );
  draw();
}

/**
 * The district's device register (设备台账): search by words, kind and status through
 * /v1/registry/devices (cloud/registry/README.md), with the same search as CSV and Excel. Texts
 * come from gateways and go in as text nodes only.
 * @returns {HTMLElement}
 */
function registryPanel() {
  const params = { q: '', kind: '', status: 'active' };
  const tbody = h('tbody', { id: 'registry-rows' });
  const note = h('p', { class: 'muted', id: 'registry-note' });
  const csv = h('a', { id: 'registry-csv' }, t('exportCsv'));
  const xlsx = h('a', { id: 'registry-xlsx' }, t('exportXlsx'));
  const query = () => {
    const q = new URLSearchParams();
    if (params.q) q.set('q', params.q);
    if (params.kind) q.set('kind', params.kind);
    q.set('status', params.status);
    if (getLang() === 'en') q.set('lang', 'en');
    return q.toString();
  };
  let serial = 0;
  const load = async () => {
    const mine = ++serial;
    const qs = query();
    csv.setAttribute('href', `/v1/registry/devices.csv?${qs}`);
    xlsx.setAttribute('href', `/v1/registry/devices.xlsx?${qs}`);
    /** @type {any} */
    let r;
    try {
      r = await api(`/v1/registry/devices?${qs}&limit=500`);
    } catch (error) {
      if (mine === serial) note.replaceChildren(refusal(error));
      return;
    }
    if (mine !== serial) return;
    note.replaceChildren(`${r.items.length} ${t('registryCount')}`);
    tbody.replaceChildren(
      ...r.items.map((/** @type {any} */ d) =>
        h(
          'tr',
          {},
          h('td', {}, d.label, h('div', { class: 'muted' }, d.code)),
          h('td', {}, [d.building, d.unit, d.floor].filter(Boolean).join(' ') || '—'),
          h('td', {}, t(`kind_${d.kind}`) === `kind_${d.kind}` ? d.kind : t(`kind_${d.kind}`)),
          h('td', {}, siteName(sitePath(d.site))),
          h(
            'td',
            {},
            h(
              'a',
              { href: `#/device/${encodeURIComponent(d.gateway)}/${encodeURIComponent(d.device)}` },
              `${d.gateway}/${d.device}`,
            ),
          ),
          h('td', {}, d.status === 'removed' ? `${t('removed')} ${dateTime(d.removedAt)}` : t('inUse')),
        ),
      ),
    );
  };
  let timer = 0;
  const later = () => {
    clearTimeout(timer);
    timer = window.setTimeout(load, 250);
  };
  const kindSel = h(
    'select',
    {
      id: 'registry-kind',
      'aria-label': t('kind'),
      onchange: (/** @type {Event} */ e) => {
        params.kind = /** @type {HTMLSelectElement} */ (e.target).value;
        load();
      },
    },
    h('option', { value: '' }, t('filterAll')),
    ...['smoke', 'gas', 'water_pressure', 'door', 'geomagnetic'].map((k) =>
      h('option', { value: k }, t(`kind_${k}`)),
    ),
  );
  const statusSel = h(
    'select',
    {
      id: 'registry-status',
      'aria-label': t('state'),
      onchange: (/** @type {Event} */ e) => {
        params.status = /** @type {HTMLSelectElement} */ (e.target).value;
        load();
      },
    },
    h('option', { value: 'active' }, t('inUse')),
    h('option', { value: 'removed' }, t('removed')),
    h('option', { value: 'all' }, t('filterAll')),
  );
  const search = h('input', {
    type: 'search',
    id: 'registry-search',
    placeholder: t('registrySearch'),
    'aria-label': t('registrySearch'),
    maxlength: '64',
    oninput: (/** @type {Event} */ e) => {
      params.q = /** @type {HTMLInputElement} */ (e.target).value.trim();
      later();
    },
  });
  load();
  return h(
    'section',
    { class: 'panel', id: 'registry' },
    h('div', { class: 'toolbar' }, h('h2', {}, t('registry')), search, kindSel, statusSel, csv, xlsx),
    note,
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
            ...['location', 'registryPlace', 'kind', 'site', 'device', 'state'].map((k) =>
              h('th', { scope: 'col' }, t(k)),
            ),
          ),
        ),
        tbody,
      ),
    ),
  );
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

/** Runs a keyboard action if the case allows it, else says why (no request that would be refused). */
function keyAction(/** @type {string} */ id, /** @type {string} */ action, /** @type {() => void} */ run) {
  const c = state.cases.get(id);
  if (!c) return;
  if (allowed(c, false)[action]) return run();
  const needs = action === 'close' ? closeNeeds(c) : [];
  showStatus(
    `${t('notAllowedNow')}：${t(action)}${needs.length ? `（${t('closeNeeds')}：${needs.map((n) => t(`need_${n}`)).join('、')}）` : ''}`,
    false,
  );
}

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
    const to = /** @type {Record<string, string>} */ ({ b: 'board', s: 'sites', d: 'district', u: 'users' })[
      key
    ];
    if (to) {
      location.hash = `#/${to}`;
      e.preventDefault();
    }
    return;
  }
  // Shift+A acknowledges the alarm the banner names, whichever row is selected.
  if (key === 'a' && e.shiftKey) {
    const c = bannerCase();
    if (c && canAct()) {
      e.preventDefault();
      void act(c.id, 'ack');
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
    case 'Enter': {
      // Only from a row (or nowhere): Enter on a button or link must stay that control's own click.
      if (!(target.closest('tr.case') || target === document.body || target.id === 'main')) return;
      // Without preventDefault the same key press would click the button it just focused: an
      // alarm acknowledged by "jump to actions".
      e.preventDefault();
      const first = Object.values(detail.buttons).find((b) => !b.disabled && !b.hidden);
      return first?.focus();
    }
    case 'Escape':
      return select(undefined, false);
  }
  if (!id || !canAct()) return;
  if (key === 'a') keyAction(id, 'ack', () => void act(id, 'ack'));
  else if (key === 'c') keyAction(id, 'close', () => void act(id, 'close'));
  else if (key === 'r') keyAction(id, 'reset', () => void act(id, 'reset'));
  else if (key === 'o') keyAction(id, 'return-to-service', () => void act(id, 'return-to-service'));
  else if (key === 'f') keyAction(id, 'feedback', () => showForm('feedback'));
  else if (key === 's')
    isShelved(/** @type {Case} */ (state.cases.get(id)))
      ? keyAction(id, 'unshelve', () => void act(id, 'unshelve'))
      : keyAction(id, 'shelve', () => showForm('shelve'));
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
  // Open critical alarms sound after a reload too: where the browser allows audio without a
  // gesture it starts now, otherwise the page asks for one click (renderAlerts).
  unlockAudio();
}

window.addEventListener('hashchange', render);
/** For the bench and tests: how long the last board update took, measured with performance.now. */
Object.assign(window, {
  __doorstep: {
    state,
    board,
    applyChanges,
    /** Stops and restarts the live push (tests of what the page does with stale data). */
    live: {
      pause: () => {
        state.source?.close();
        state.source = undefined;
      },
      resume: () => connect(),
    },
  },
});
void boot();
