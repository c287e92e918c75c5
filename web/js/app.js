// The page: a router over the views in index.html (one <section
// data-view> per page), the steps of the journey and the holder's page.
// Every API call goes through api.js; every string through i18n.js.
import { Api, fieldErrors, retryPlan } from './api.js';
import { t, say, translate, setLanguage, chosen, language } from './i18n.js';
import { session, verification, next as nextStore, result, clearAll } from './store.js';
import { initOfficialBanner } from '../components/official-banner/official-banner.js';
import { initLanguageSwitch } from '../components/language-switch/language-switch.js';
import { initStepIndicator } from '../components/step-indicator/step-indicator.js';
import { showErrors, clearErrors } from '../components/error-summary/error-summary.js';
import { initRrnInput } from '../components/rrn-input/rrn-input.js';
import { startCountdown } from '../components/countdown/countdown.js';
import { initAddressList } from '../components/address-list/address-list.js';
import { initCopyButton } from '../components/copy-button/copy-button.js';
import { confirmDialog } from '../components/confirm-dialog/confirm-dialog.js';

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// What lives only in memory: never written to storage, gone on reload.
const memory = {
  smsBody: null, // the phone step's answers, for a resend
  foreigner: null, // from the registration number's seventh digit
  code: null, // the holder's code as last read
  issueDraft: null, // the issue form's answers until they are sent
  reissueReason: null,
  cmd: null, // the command being sent, with its body
};

const api = new Api({
  storage: sessionStorage,
  getToken: () => session.token(),
  onUnauthenticated: () => endSession(),
});

// ---- Routing ----------------------------------------------------------

const ROUTES = {
  '/': 'start',
  '/verify/name': 'name',
  '/verify/phone': 'phone',
  '/verify/code': 'otp',
  '/verify/later': 'later',
  '/me': 'me',
  '/me/issue': 'details',
  '/me/edit': 'details',
  '/me/issue/check': 'issue-check',
  '/me/reissue': 'reissue',
  '/me/reissue/confirm': 'reissue-confirm',
  '/me/request': 'request',
  '/me/done': 'done',
  '/me/declarations': 'declarations',
  '/me/confirmation': 'settings',
  '/me/checks': 'checks',
  '/signed-out': 'signed-out',
  '/session-ended': 'ended',
  '/problem': 'problem',
};

let viewAbort = new AbortController();
let viewStops = [];
let routeState = {};
let firstRender = true;
let titleError = false;

function currentPath() {
  return location.pathname.replace(/\/+$/, '') || '/';
}

export function go(path, { replace = false, state = {} } = {}) {
  routeState = state;
  if (replace) history.replaceState({}, '', path);
  else history.pushState({}, '', path);
  render();
}

function setTitle(section) {
  const key = section.dataset.title;
  document.title = (titleError ? t('error.titlePrefix') : '') + t(key) + ' – ' + t('site.name');
}

function markTitleError(on) {
  titleError = on;
  const section = $('section[data-view]:not([hidden])');
  if (section) setTitle(section);
}

async function render() {
  viewAbort.abort();
  viewAbort = new AbortController();
  viewStops.forEach((stop) => stop());
  viewStops = [];
  const path = currentPath();
  const name = ROUTES[path] || 'not-found';
  const redirect = guard(name, path);
  if (redirect && redirect !== path) {
    go(redirect, { replace: true, state: routeState });
    return;
  }
  titleError = false;
  $$('section[data-view]').forEach((s) => { s.hidden = s.dataset.view !== name; });
  const section = $(`section[data-view="${name}"]`);
  $$('form', section).forEach((f) => clearErrors(f));
  $$('[data-wait]', section).forEach((w) => { w.hidden = true; w.replaceChildren(); });
  showNotice(routeState.notice);
  $('[data-sign-out]').hidden = !session.get();
  setTitle(section);
  if (!firstRender) {
    const h = $('h1', section);
    if (h) h.focus();
  }
  firstRender = false;
  const enter = VIEWS[name];
  if (enter) {
    try {
      await enter(section, viewAbort.signal, path);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      throw err;
    }
  }
}

// guard sends a page that cannot be shown now to the one that can: no
// step without the step before it, no holder page without a session, and
// no page that would repeat a one-time action.
function guard(name, path) {
  const v = verification.get();
  const signedIn = !!session.get();
  switch (name) {
    case 'phone':
      return v && v.id ? null : '/verify/name';
    case 'otp':
      if (v && v.id && v.sentTo) return null;
      return v && v.id ? '/verify/phone' : (signedIn ? '/me' : '/verify/name');
    case 'issue-check':
      return memory.issueDraft ? (signedIn ? null : needSession(path)) : '/me';
    case 'reissue-confirm':
      return memory.reissueReason ? (signedIn ? null : needSession(path)) : '/me';
    case 'done':
      return result.get() ? null : '/me';
    case 'me': case 'details': case 'reissue': case 'request': case 'declarations': case 'settings': case 'checks':
      return signedIn ? null : needSession(path);
    default:
      return null;
  }
}

function needSession(path) {
  nextStore.set(path);
  return '/verify/name';
}

function showNotice(key) {
  const n = $('[data-notice]');
  if (key) say(n, key);
  n.hidden = !key;
}

// ---- Session ------------------------------------------------------------

const WARN_BEFORE_MS = 60 * 1000; // at least 20 s, as KRDS asks
let sessionTimers = [];

function watchSession() {
  sessionTimers.forEach(clearTimeout);
  sessionTimers = [];
  const s = session.get();
  if (!s) return;
  const end = Date.parse(s.expiresAt);
  const warnIn = end - WARN_BEFORE_MS - Date.now();
  sessionTimers.push(setTimeout(warnSession, Math.max(0, warnIn)));
  sessionTimers.push(setTimeout(endSession, Math.max(0, end - Date.now())));
}

// The warning offers to extend the session (POST /v1/sessions/refresh: a new
// token, never past an hour after the verification). Once it cannot be
// extended any more, it offers to verify again instead, which takes the
// person back where they were.
let sessionCapped = false;

async function warnSession() {
  const s = session.get();
  if (!s) return;
  const dialog = $('[data-dialog="session"]');
  const extend = $('[data-session-extend]', dialog);
  const again = $('[data-session-again]', dialog);
  const failed = $('[data-session-failed]', dialog);
  const show = () => {
    extend.hidden = sessionCapped;
    again.hidden = !sessionCapped;
    say($('[data-session-body]', dialog), sessionCapped ? 'session.capped' : 'session.body');
  };
  show();
  failed.hidden = true;
  const stop = startCountdown($('[data-session-timer]'), Date.parse(s.expiresAt));
  for (;;) {
    await confirmDialog(dialog);
    const choice = dialog.returnValue;
    if (choice === 'confirm' && session.get()) {
      const before = Date.parse(session.get().expiresAt);
      const next = await api.refreshSession();
      if (!next) {
        if (!session.get()) break; // a 401 ended the session
        failed.hidden = false;
        continue;
      }
      session.set(next.sessionToken, next.expiresAt);
      if (Date.parse(next.expiresAt) > before) {
        stop();
        watchSession();
        return;
      }
      // At the cap there is no more time to give: say so, keep the choice.
      sessionCapped = true;
      show();
      continue;
    }
    if (choice === 'again') {
      nextStore.set(currentPath().startsWith('/me') ? currentPath() : '/me');
      session.clear();
      go('/verify/name');
    }
    break;
  }
  stop();
}

function endSession() {
  const had = !!(memory.code || session.get() || currentPath().startsWith('/me'));
  sessionTimers.forEach(clearTimeout);
  session.clear();
  memory.code = null;
  memory.issueDraft = null;
  resetForms();
  const dialog = $('[data-dialog="session"]');
  if (dialog.open) dialog.close('back');
  if (had && currentPath() !== '/session-ended') {
    nextStore.set(currentPath().startsWith('/me') ? currentPath() : '/me');
    go('/session-ended', { replace: true });
  }
}

// resetForms empties forms that held identity data once they are done
// with (never on an error: values stay while the person corrects them).
function resetForms(names) {
  $$('form[data-form]').forEach((f) => {
    if (!names || names.includes(f.dataset.form)) { f.reset(); clearErrors(f); }
  });
}

function signOut() {
  sessionTimers.forEach(clearTimeout);
  resetForms();
  clearAll();
  Object.keys(memory).forEach((k) => { memory[k] = null; });
  go('/signed-out', { replace: true });
}

// ---- Helpers for forms and waits --------------------------------------

function formOf(section) { return $('form', section); }

function busy(form, on) {
  $$('button[type="submit"]', form).forEach((b) => { b.disabled = on; });
  form.setAttribute('aria-busy', String(on));
}

// showWait fills a [data-wait] box: the page is waiting on a surge and
// will send again by itself.
function showWait(box, w) {
  if (!box) return;
  let panel = box.firstElementChild;
  if (!panel) {
    panel = $('template[data-wait-template]').content.firstElementChild.cloneNode(true);
    box.replaceChildren(panel);
    translate(panel);
  }
  box.hidden = false;
  const section = box.closest('section');
  $$('.alternative', section).forEach((a) => { if (!panel.contains(a)) a.hidden = true; });
  say($('[data-w="title"]', panel), w.reason === 'network' ? 'wait.networkTitle' : 'wait.title');
  const pos = w.error && Number(w.error.position);
  if (pos > 0) say($('[data-w="text"]', panel), 'wait.position', { n: pos });
  else say($('[data-w="text"]', panel), w.reason === 'network' ? 'wait.network' : 'wait.busy');
  say($('[data-w="againIn"]', panel), 'wait.againIn');
  const timer = $('[data-w="timer"]', panel);
  timer.setAttribute('aria-live', 'off');
  if (box.stop) box.stop();
  box.stop = startCountdown(timer, w.until);
  if (w.attempt === 0) {
    const h = $('h2', panel);
    h.tabIndex = -1;
    h.focus();
  }
}

function hideWait(box) {
  if (!box) return;
  if (box.stop) box.stop();
  box.hidden = true;
  box.replaceChildren();
  const section = box.closest('section');
  if (section) $$('.alternative', section).forEach((a) => { a.hidden = false; });
}

function errorsOf(form, list, opts) {
  showErrors(form, list, { t, ...opts });
  markTitleError(true);
}

// failed handles what every page handles alike: a wait too long to wait
// in the page, a lock, a server fault, an ended session. It says whether it
// took the answer.
function failed(res) {
  if (res.status === 401) { endSession(); return true; }
  const plan = res.plan || retryPlan(res);
  if (plan.reason === 'locked' || plan.reason === 'later') {
    routeState = { later: plan.reason, seconds: plan.seconds };
    go('/verify/later', { state: routeState });
    return true;
  }
  if (res.status >= 500 || res.status === 0) {
    go('/problem', { state: { requestId: res.requestId } });
    return true;
  }
  return false;
}

// fieldList turns a 400's fields into the summary's entries, with this
// page's messages (the API's own are in English and for developers).
function fieldList(res, messages) {
  return fieldErrors(res).map((f) => {
    const base = f.field.replace(/^addresses\[\d+\]\./, 'addresses.');
    const key = messages[base] || messages[f.field] || 'error.field';
    const n = /^addresses\[(\d+)\]/.exec(f.field);
    return { id: f.id, text: t(key, { n: n ? Number(n[1]) + 1 : '' }) };
  });
}

function values(form) {
  const data = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === 'radio') { if (el.checked) data[el.name] = el.value; } else if (el.type === 'checkbox') data[el.name] = el.checked;
    else data[el.name] = el.value.trim();
  }
  return data;
}

function onSubmit(form, handler) {
  if (form.dataset.bound) return;
  form.dataset.bound = '1';
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (form.getAttribute('aria-busy') === 'true') return;
    clearErrors(form);
    markTitleError(false);
    busy(form, true);
    try {
      await handler(form, viewAbort.signal);
    } catch (err) {
      if (!err || err.name !== 'AbortError') throw err;
    } finally {
      busy(form, false);
      hideWait($('[data-wait]', form));
    }
  });
}

const SEOUL = 'Asia/Seoul';
function fmtDate(iso, withTime = false) {
  if (!iso) return '';
  const d = new Date(iso);
  const opts = withTime ? { dateStyle: 'medium', timeStyle: 'short', timeZone: SEOUL } : { dateStyle: 'long', timeZone: SEOUL };
  return new Intl.DateTimeFormat(language() === 'ko' ? 'ko-KR' : 'en-GB', opts).format(d);
}

function fmtWait(seconds) {
  if (seconds < 60) return t('time.seconds', { n: seconds });
  if (seconds < 3600) return t('time.minutes', { n: Math.ceil(seconds / 60) });
  return t('time.hours', { n: Math.ceil(seconds / 3600) });
}

// ---- Commands -----------------------------------------------------------

const COMMAND_TITLES = {
  issue: 'kind.issue', reissue: 'kind.reissue', suspend: 'kind.suspend', resume: 'kind.resume',
  cancel: 'kind.cancel', renew: 'kind.renew', update: 'kind.update',
};

// sendCommand: the key is made now, when the person pressed the button;
// the request is sent (waiting out a surge in the form's own box) and, once
// queued, followed on the request page.
async function sendCommand(kind, method, path, body, { form, personal = false, signal } = {}) {
  const cmd = api.startCommand(kind, method, path, body, { personal });
  cmd.oldCode = memory.code && memory.code.code;
  memory.cmd = cmd;
  const box = form ? $('[data-wait]', form) : $('section[data-view="me"] [data-wait]');
  const res = await api.request(method, path, { body, key: cmd.key, signal, onWait: (w) => showWait(box, w) });
  hideWait(box);
  if (res.status === 202 && res.data && res.data.requestId) {
    const p = api.pending();
    if (p && p.key === cmd.key) api.savePending({ ...p, requestId: res.data.requestId });
    cmd.requestId = res.data.requestId;
    go('/me/request');
    return { ok: true };
  }
  api.clearPending();
  memory.cmd = null;
  return { ok: false, res };
}

// ---- Views --------------------------------------------------------------

const VIEWS = {
  start(section) {
    $$('a[data-next]', section).forEach((a) => {
      if (a.dataset.bound) return;
      a.dataset.bound = '1';
      a.addEventListener('click', () => nextStore.set({ issue: '/me/issue', lookup: '/me', reissue: '/me/reissue' }[a.dataset.next]));
    });
  },

  name(section) {
    const form = formOf(section);
    onSubmit(form, async (f, signal) => {
      const v = values(f);
      const errors = [];
      if (!v.name) errors.push({ id: 'name', text: t('name.error.name') });
      const front = v.rrnFront.replace(/\D/g, '');
      const back = v.rrnBack.replace(/\D/g, '');
      if (front.length !== 6) errors.push({ id: 'rrn', text: t('name.error.front') });
      if (back.length !== 7) errors.push({ id: 'rrn-back', text: t('name.error.back') });
      if (errors.length) { errorsOf(f, errors); return; }
      const res = await api.request('POST', '/v1/verifications', {
        body: { name: v.name, rrn: front + '-' + back }, signal,
        onWait: (w) => showWait($('[data-wait]', f), w),
      });
      if (res.status === 201) {
        memory.foreigner = '5678'.includes(back[0]);
        verification.set({ id: res.data.verificationId, expiresAt: res.data.expiresAt });
        go('/verify/phone');
        return;
      }
      if (res.status === 422) {
        // The same advice whatever was wrong: the API does not say, and
        // the page must not guess.
        errorsOf(f, [], { message: t('name.failed') });
        return;
      }
      if (res.status === 400) { errorsOf(f, fieldList(res, { name: 'name.error.name', rrn: 'name.error.rrn' })); return; }
      if (!failed(res)) errorsOf(f, [], { message: t('error.generic') });
    });
  },

  phone(section) {
    const form = formOf(section);
    onSubmit(form, async (f, signal) => {
      const v = values(f);
      const errors = [];
      if (!v.carrier) errors.push({ id: 'carrier', text: t('phone.error.carrier') });
      const birth = (v.birthDate || '').replace(/\D/g, '');
      if (!/^(19|20)\d{6}$/.test(birth)) errors.push({ id: 'birthDate', text: t('phone.error.birthDate') });
      if (!v.sex) errors.push({ id: 'sex', text: t('phone.error.sex') });
      const phone = (v.phone || '').replace(/[\s-]/g, '');
      if (!/^01[016789]\d{7,8}$/.test(phone)) errors.push({ id: 'phone', text: t('phone.error.phone') });
      if (errors.length) { errorsOf(f, errors); return; }
      const body = { carrier: v.carrier, phone, birthDate: birth, sex: v.sex };
      await sendCode(body, f, signal);
    });
  },

  otp(section) {
    const form = formOf(section);
    const v = verification.get();
    say($('[data-otp-sent]', section), 'otp.sent', { phone: v.sentTo });
    const tries = $('[data-otp-tries]', section);
    if (v.attemptsLeft != null) say(tries, 'otp.triesLeft', { n: v.attemptsLeft });
    else say(tries, 'otp.hint');
    viewStops.push(startCountdown($('[data-otp-timer]', section), Date.parse(v.expiresAt), {
      onEnd: () => say($('[data-otp-status]', section), 'otp.expired'),
    }));
    const resend = $('[data-otp-resend]', section);
    say(resend, 'otp.resend');
    const resendAt = Date.parse(v.resendAfter);
    const hintId = 'otp-resend-hint';
    let hint = document.getElementById(hintId);
    if (!hint) {
      hint = document.createElement('p');
      hint.id = hintId;
      hint.className = 'hint';
      resend.closest('.button-group').after(hint);
      resend.setAttribute('aria-describedby', hintId);
    }
    const tick = () => {
      const left = Math.ceil((resendAt - Date.now()) / 1000);
      resend.disabled = left > 0;
      if (left > 0) say(hint, 'otp.resendIn', { n: left });
      else say(hint, memory.smsBody ? 'otp.resendReady' : 'otp.resendAgain');
      return left;
    };
    if (tick() > 0) {
      const timer = setInterval(() => { if (tick() <= 0) clearInterval(timer); }, 1000);
      viewStops.push(() => clearInterval(timer));
    }
    if (!resend.dataset.bound) {
      resend.dataset.bound = '1';
      resend.addEventListener('click', async () => {
        if (!memory.smsBody) { go('/verify/phone', { state: { notice: 'otp.reenter' } }); return; }
        resend.disabled = true;
        const ok = await sendCode(memory.smsBody, form, viewAbort.signal, { resend: true });
        if (ok) { say($('[data-otp-status]', section), 'otp.resent'); render(); }
        else resend.disabled = false;
      });
    }
    onSubmit(form, async (f, signal) => {
      const code = values(f).otp.replace(/\s/g, '');
      if (!/^\d{6}$/.test(code)) { errorsOf(f, [{ id: 'otp', text: t('otp.error.format') }]); return; }
      const cur = verification.get();
      const res = await api.request('POST', `/v1/verifications/${encodeURIComponent(cur.id)}/confirm`, {
        body: { otp: code }, signal, onWait: (w) => showWait($('[data-wait]', f), w),
      });
      if (res.status === 200) {
        session.set(res.data.sessionToken, res.data.expiresAt);
        sessionCapped = false;
        verification.clear();
        resetForms(['name', 'phone', 'otp']);
        memory.smsBody = null;
        watchSession();
        const target = api.pending() ? '/me/request' : nextStore.get();
        nextStore.clear();
        go(typeof target === 'string' && target.startsWith('/me') ? target : '/me', { replace: true });
        return;
      }
      if (res.status === 422) {
        if (res.error.delivery === 'failed') { errorsOf(f, [], { message: t('otp.deliveryFailed') }); return; }
        const n = res.error.attemptsLeft;
        if (n != null) { verification.update({ attemptsLeft: n }); say(tries, 'otp.triesLeft', { n }); }
        errorsOf(f, [{ id: 'otp', text: n != null ? t('otp.wrong', { n }) : t('otp.wrongNoCount') }]);
        return;
      }
      if (res.status === 404 || res.status === 409) { restartVerification(); return; }
      if (res.status === 400) { errorsOf(f, [{ id: 'otp', text: t('otp.error.format') }]); return; }
      if (!failed(res)) errorsOf(f, [], { message: t('error.generic') });
    });
  },

  later(section) {
    const st = routeState;
    const text = $('[data-later-text]', section);
    if (st.later === 'locked') say(text, 'later.locked', { time: fmtWait(st.seconds || 60) });
    else say(text, 'later.wait', { time: fmtWait(st.seconds || 60) });
    verification.clear();
  },

  async me(section, signal) {
    const loading = $('[data-me-loading]', section);
    loading.hidden = false;
    $('[data-me-none]', section).hidden = true;
    $('[data-me-code]', section).hidden = true;
    bindMeActions(section);
    const res = await api.request('GET', '/v1/codes/me', { signal, onWait: (w) => showWait($('[data-wait]', section), w) });
    hideWait($('[data-wait]', section));
    loading.hidden = true;
    if (res.status === 404) {
      memory.code = null;
      $('[data-me-none]', section).hidden = false;
    } else if (res.ok) {
      memory.code = res.data;
      showCode(section, res.data);
    } else if (!failed(res)) {
      go('/problem', { state: { requestId: res.requestId } });
      return;
    }
    const decl = await api.request('GET', '/v1/declarations?status=pending', { signal });
    const box = $('[data-me-pending]', section);
    const n = decl.ok && decl.data && Array.isArray(decl.data.declarations) ? decl.data.declarations.length : 0;
    box.hidden = n === 0;
    if (n) say($('[data-me-pending-text]', section), 'me.pending', { n });
  },

  async details(section, signal, path) {
    const edit = path === '/me/edit';
    const form = formOf(section);
    say($('[data-details-title]', section), edit ? 'details.editTitle' : 'details.title');
    say($('[data-details-lead]', section), edit ? 'details.editLead' : 'details.lead');
    say($('[data-details-submit]', section), edit ? 'details.save' : 'continue');
    section.dataset.title = edit ? 'details.editTitle' : 'details.title';
    setTitle(section);
    $('.step-indicator', section).hidden = edit;
    $('[data-issue-only]', section).hidden = edit;
    $('.back-link', section).href = '/me';
    const addresses = section.addresses || (section.addresses = initAddressList($('[data-module="address-list"]', section), { translate, t }));
    const setNationality = () => {
      const kind = values(form).nationalityKind;
      $('[data-country-field]', section).hidden = kind !== 'other';
      say($('#koreanName-hint'), kind === 'other' ? 'details.koreanName.optional' : 'details.koreanName.hint');
    };
    if (!form.dataset.nationalityBound) {
      form.dataset.nationalityBound = '1';
      $$('input[name="nationalityKind"]', form).forEach((r) => r.addEventListener('change', setNationality));
    }
    if (edit) {
      const res = await api.request('GET', '/v1/codes/me', { signal, onWait: (w) => showWait($('[data-wait]', form), w) });
      hideWait($('[data-wait]', form));
      if (!res.ok) { if (!failed(res)) go('/me', { replace: true }); return; }
      memory.code = res.data;
      form.englishName.value = res.data.englishName || '';
      form.phone.value = res.data.phone || '';
      form.email.value = res.data.email || '';
      addresses.set(res.data.addresses);
    } else {
      const current = await api.request('GET', '/v1/codes/me', { signal, onWait: (w) => showWait($('[data-wait]', form), w) });
      hideWait($('[data-wait]', form));
      if (current.ok && ['active', 'suspended'].includes(current.data.status)) {
        go('/me', { replace: true, state: { notice: 'refused.issue' } });
        return;
      }
      if (!current.ok && current.status !== 404 && failed(current)) return;
      const d = memory.issueDraft;
      form.reset();
      if (d) {
        form.nationalityKind.value = d.nationality === 'KR' ? 'KR' : 'other';
        form.country.value = d.nationality === 'KR' ? '' : d.nationality;
        form.koreanName.value = d.koreanName;
        form.englishName.value = d.englishName;
        form.phone.value = d.phone;
        form.email.value = d.email;
      }
      addresses.set(d ? d.addresses : []);
      setNationality();
    }
    onSubmit(form, async (f, sig) => {
      const isEdit = currentPath() === '/me/edit';
      const v = values(f);
      const errors = [];
      let nationality = '';
      if (!isEdit) {
        if (!v.nationalityKind) errors.push({ id: 'nationality', text: t('details.error.nationality') });
        nationality = v.nationalityKind === 'KR' ? 'KR' : (v.country || '').toUpperCase();
        if (v.nationalityKind === 'other' && (!/^[A-Z]{2}$/.test(nationality) || nationality === 'KR')) errors.push({ id: 'country', text: t('details.error.country') });
        if (v.nationalityKind === 'KR' && !/^[가-힣]+(\s+[가-힣]+)*$/.test(v.koreanName)) errors.push({ id: 'koreanName', text: t('details.error.koreanName') });
        if (v.nationalityKind === 'other' && v.koreanName && !/^[가-힣]+(\s+[가-힣]+)*$/.test(v.koreanName)) errors.push({ id: 'koreanName', text: t('details.error.koreanName') });
      }
      if (!/^[A-Za-z](?:[A-Za-z'-]*[A-Za-z])?(?:\s+[A-Za-z](?:[A-Za-z'-]*[A-Za-z])?)*$/.test(v.englishName) || v.englishName.length < 2) errors.push({ id: 'englishName', text: t('details.error.englishName') });
      const phone = v.phone.replace(/[\s-]/g, '');
      if (!/^01[016789]\d{7,8}$/.test(phone)) errors.push({ id: 'details-phone', text: t('phone.error.phone') });
      if (v.email && !/^[^\s@]+@[^\s@.][^\s@]*\.[^\s@]*[^\s@.]$/.test(v.email)) errors.push({ id: 'email', text: t('details.error.email') });
      const list = addresses.values();
      list.forEach((a, i) => {
        if (!/^\d{5}$/.test(a.zip)) errors.push({ id: `addresses-${i}-zip`, text: t('address.error.zip', { n: i + 1 }) });
        if (!a.address) errors.push({ id: `addresses-${i}-address`, text: t('address.error.address', { n: i + 1 }) });
      });
      if (errors.length) { errorsOf(f, errors); return; }
      const addr = list.map((a) => (a.detail ? a : { zip: a.zip, address: a.address }));
      if (!isEdit) {
        memory.issueDraft = { englishName: v.englishName.toUpperCase(), koreanName: v.koreanName, nationality, addresses: addr, phone, email: v.email };
        go('/me/issue/check');
        return;
      }
      const body = { englishName: v.englishName.toUpperCase(), addresses: addr, phone, email: v.email };
      const out = await sendCommand('update', 'PATCH', '/v1/codes/me', body, { form: f, personal: true, signal: sig });
      if (!out.ok) commandRefused(f, out.res);
    });
  },

  'issue-check'(section) {
    const form = formOf(section);
    const d = memory.issueDraft;
    const dl = $('[data-issue-summary]', section);
    dl.replaceChildren();
    const row = (key, value) => {
      const dt = document.createElement('dt');
      say(dt, key);
      const dd = document.createElement('dd');
      dd.textContent = value;
      dl.append(dt, dd);
    };
    row('me.nationality', d.nationality);
    if (d.koreanName) row('me.koreanName', d.koreanName);
    row('me.englishName', d.englishName);
    row('me.phone', d.phone);
    if (d.email) row('me.email', d.email);
    d.addresses.forEach((a, i) => row('address.legendShort', `${i + 1}. (${a.zip}) ${a.address}${a.detail ? ' ' + a.detail : ''}`));
    onSubmit(form, async (f, signal) => {
      if (!f.consent.checked) { errorsOf(f, [{ id: 'consent', text: t('issueCheck.error.consent') }]); return; }
      const draft = memory.issueDraft;
      const body = { ...draft, consent: true };
      if (!body.email) delete body.email;
      const out = await sendCommand('issue', 'POST', '/v1/codes', body, { form: f, personal: true, signal });
      if (out.ok) { memory.issueDraft = null; return; }
      commandRefused(f, out.res);
    });
  },

  async reissue(section, signal) {
    const form = formOf(section);
    const current = await api.request('GET', '/v1/codes/me', { signal, onWait: (w) => showWait($('[data-wait]', section), w) });
    hideWait($('[data-wait]', section));
    if (!current.ok) {
      if (!failed(current)) go('/me', { replace: true, state: current.status === 404 ? { notice: 'refused.noCode' } : {} });
      return;
    }
    memory.code = current.data;
    if (memory.reissueReason) form.reason.value = memory.reissueReason;
    onSubmit(form, async (f) => {
      const reason = values(f).reason;
      if (!reason) { errorsOf(f, [{ id: 'reason', text: t('reissue.error.reason') }]); return; }
      memory.reissueReason = reason;
      go('/me/reissue/confirm');
    });
  },

  async 'reissue-confirm'(section, signal) {
    const form = formOf(section);
    const reasonKeys = { leak_concern: 'reason.leak_concern', lost: 'reason.lost', misuse_suspected: 'reason.misuse_suspected', other: 'reason.other' };
    say($('[data-reissue-reason]', section), reasonKeys[memory.reissueReason]);
    if (!memory.code) {
      const res = await api.request('GET', '/v1/codes/me', { signal });
      if (res.ok) memory.code = res.data;
    }
    $('[data-reissue-code]', section).textContent = memory.code ? memory.code.code : '';
    $('[data-reissue-left]', section).textContent = memory.code ? String(memory.code.reissuesLeft) : '';
    onSubmit(form, async (f, sig) => {
      const out = await sendCommand('reissue', 'POST', '/v1/codes/me/reissue', { reason: memory.reissueReason }, { form: f, signal: sig });
      if (out.ok) { memory.reissueReason = null; return; }
      commandRefused(f, out.res);
    });
  },

  async request(section, signal) {
    const p = api.pending();
    if (!p) { go('/me', { replace: true }); return; }
    const cmd = memory.cmd && memory.cmd.key === p.key ? { ...p, body: memory.cmd.body, oldCode: memory.cmd.oldCode } : { ...p, needsBody: p.kind === 'issue' || p.kind === 'update' };
    say($('[data-request-kind]', section), COMMAND_TITLES[p.kind] || 'kind.update');
    const status = $('[data-request-status]', section);
    const position = $('[data-request-position]', section);
    say(status, p.requestId ? 'request.checking' : 'request.sending');
    position.textContent = '';
    const box = $('[data-wait]', section);
    // One panel at a time: the surge wait takes the place of the request's
    // own panel while it lasts, and gives it back when the API answers.
    const panel = $('[data-request-panel]', section);
    panel.hidden = false;
    const backToPanel = () => { hideWait(box); panel.hidden = false; };
    const out = await api.runCommand(cmd, {
      signal,
      onWait: (w) => { panel.hidden = true; showWait(box, w); },
      onAccepted: () => { backToPanel(); say(status, 'request.queued'); },
      onProgress: (r) => {
        backToPanel();
        if (r.status === 'queued') {
          say(status, 'request.queued');
          if (r.position) say(position, 'request.position', { n: r.position, time: r.estimatedWaitSeconds ? fmtWait(r.estimatedWaitSeconds) : t('request.unknownTime') });
          else say(position, 'request.unknown');
        } else if (r.status === 'processing') {
          say(status, 'request.processing');
          position.textContent = '';
        }
      },
    });
    if (out.lost) {
      api.clearPending();
      go(p.kind === 'issue' ? '/me/issue' : '/me/edit', { replace: true, state: { notice: 'request.lost' } });
      return;
    }
    if (out.done) {
      memory.cmd = null;
      result.set({ kind: p.kind, request: out.request, oldCode: cmd.oldCode || '' });
      go('/me/done', { replace: true });
      return;
    }
    if (out.res) {
      // Refused at once after a reload: say why on the holder's page.
      api.clearPending();
      if (!failed(out.res)) go('/me', { replace: true, state: { notice: refusalKey(p.kind, out.res) } });
      return;
    }
    // Reading the status failed for good. When the session ended, the
    // request is still kept and is followed again after a new check;
    // otherwise say so (the request itself may well be carried out).
    if (session.get()) {
      api.clearPending();
      go('/problem', { replace: true });
    }
  },

  done(section) {
    const r = result.get();
    const ok = r.request.status === 'succeeded';
    const titles = {
      issue: 'done.issue', reissue: 'done.reissue', suspend: 'done.suspend', resume: 'done.resume',
      cancel: 'done.cancel', renew: 'done.renew', update: 'done.update',
    };
    const nexts = {
      issue: 'done.next.issue', reissue: 'done.next.reissue', suspend: 'done.next.suspend', resume: 'done.next.resume',
      cancel: 'done.next.cancel', renew: 'done.next.renew', update: 'done.next.update',
    };
    const titleKey = ok ? titles[r.kind] : 'done.failed';
    say($('[data-done-title]', section), titleKey);
    section.dataset.title = titleKey;
    setTitle(section);
    const text = $('[data-done-text]', section);
    if (ok && r.request.code && (r.kind === 'issue' || (r.kind === 'reissue' && !r.oldCode))) say(text, 'done.yourCode', { code: r.request.code });
    else if (ok) text.textContent = '';
    else say(text, 'done.failedText');
    $('[data-done-panel]', section).classList.toggle('panel--success', ok);
    const codes = $('[data-done-codes]', section);
    codes.hidden = !(ok && r.kind === 'reissue' && r.oldCode);
    $('[data-done-new]', section).textContent = r.request.code || '';
    $('[data-done-old]', section).textContent = r.oldCode || '';
    say($('[data-done-next]', section), ok ? nexts[r.kind] : 'done.next.failed');
    $('[data-done-alternative]', section).hidden = ok;
    $('.step-indicator', section).hidden = !['issue', 'reissue'].includes(r.kind);
  },

  async declarations(section, signal) {
    const list = $('[data-declarations-list]', section);
    const past = $('[data-declarations-past]', section);
    const status = $('[data-declarations-status]', section);
    const res = await api.request('GET', '/v1/declarations', { signal, onWait: (w) => showWait($('[data-wait]', section), w) });
    hideWait($('[data-wait]', section));
    if (!res.ok) { if (!failed(res)) go('/problem', { state: { requestId: res.requestId } }); return; }
    const all = res.data.declarations;
    const pending = all.filter((d) => d.status === 'pending');
    list.replaceChildren();
    if (!pending.length) {
      const p = document.createElement('p');
      say(p, 'declarations.none');
      list.append(p);
    }
    const tpl = $('template[data-declaration-template]', section);
    for (const d of pending) {
      const card = tpl.content.firstElementChild.cloneNode(true);
      translate(card);
      const h = $('[data-decl="title"]', card);
      h.id = 'decl-' + d.id;
      say(h, 'declarations.card', { waybill: d.waybill });
      $('[data-decl="filedBy"]', card).textContent = d.filedBy;
      $('[data-decl="waybill"]', card).textContent = d.waybill;
      $('[data-decl="items"]', card).textContent = d.items.map((i) => `${i.description} × ${i.quantity}`).join(', ');
      $('[data-decl="value"]', card).textContent = `${d.value} ${d.currency}`;
      $('[data-decl="filedAt"]', card).textContent = fmtDate(d.filedAt, true);
      $('[data-decl="confirmBy"]', card).textContent = fmtDate(d.confirmBy, true);
      const confirm = $('[data-decl="confirm"]', card);
      const deny = $('[data-decl="deny"]', card);
      say(confirm, 'declarations.confirm');
      say(deny, 'declarations.deny');
      confirm.setAttribute('aria-describedby', h.id);
      deny.setAttribute('aria-describedby', h.id);
      const decide = async (how) => {
        if (how === 'deny' && !(await confirmDialog($('[data-dialog="deny"]', section)))) return;
        confirm.disabled = deny.disabled = true;
        const r = await api.request('POST', `/v1/declarations/${encodeURIComponent(d.id)}/${how}`, { signal: viewAbort.signal, onWait: (w) => showWait($('[data-wait]', section), w) });
        hideWait($('[data-wait]', section));
        if (r.ok) {
          say(status, how === 'confirm' ? 'declarations.confirmed' : 'declarations.denied', { waybill: d.waybill });
          await VIEWS.declarations(section, viewAbort.signal);
          $('h1', section).focus();
          return;
        }
        confirm.disabled = deny.disabled = false;
        if (r.status === 409) say(status, 'declarations.conflict', { waybill: d.waybill });
        else if (!failed(r)) say(status, 'error.generic');
      };
      confirm.addEventListener('click', () => decide('confirm'));
      deny.addEventListener('click', () => decide('deny'));
      list.append(card);
    }
    const done = all.filter((d) => d.status !== 'pending');
    past.replaceChildren();
    if (!done.length) {
      const p = document.createElement('p');
      say(p, 'declarations.noPast');
      past.append(p);
      return;
    }
    const statusKeys = { accepted: 'declarations.status.accepted', denied: 'declarations.status.denied', expired: 'declarations.status.expired' };
    const table = document.createElement('table');
    const head = document.createElement('tr');
    for (const key of ['declarations.filedAt', 'declarations.filedBy', 'declarations.waybill', 'declarations.value', 'declarations.statusHead']) {
      const th = document.createElement('th');
      th.scope = 'col';
      say(th, key);
      head.append(th);
    }
    const thead = document.createElement('thead');
    thead.append(head);
    const tbody = document.createElement('tbody');
    for (const d of done) {
      const tr = document.createElement('tr');
      for (const v of [fmtDate(d.filedAt, true), d.filedBy, d.waybill, `${d.value} ${d.currency}`]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.append(td);
      }
      const td = document.createElement('td');
      say(td, statusKeys[d.status] || 'declarations.status.expired');
      tr.append(td);
      tbody.append(tr);
    }
    table.append(thead, tbody);
    past.append(table);
  },

  async settings(section, signal) {
    const form = formOf(section);
    const status = $('[data-settings-status]', section);
    status.textContent = '';
    const res = await api.request('GET', '/v1/codes/me/confirmation', { signal, onWait: (w) => showWait($('[data-wait]', form), w) });
    hideWait($('[data-wait]', form));
    if (!res.ok) { if (!failed(res)) go('/problem', { state: { requestId: res.requestId } }); return; }
    form.required.value = String(res.data.required);
    $('[data-settings-policy]', section).hidden = !(res.data.effective && !res.data.required);
    onSubmit(form, async (f, sig) => {
      const v = values(f).required;
      if (!v) { errorsOf(f, [{ id: 'required', text: t('settings.error') }]); return; }
      const r = await api.request('PUT', '/v1/codes/me/confirmation', { body: { required: v === 'true' }, signal: sig, onWait: (w) => showWait($('[data-wait]', f), w) });
      if (r.ok) {
        say(status, r.data.required ? 'settings.savedOn' : 'settings.savedOff');
        $('[data-settings-policy]', section).hidden = !(r.data.effective && !r.data.required);
        return;
      }
      if (!failed(r)) errorsOf(f, [], { message: t('error.generic') });
    });
  },

  async checks(section, signal) {
    const res = await api.request('GET', '/v1/clearance/checks', { signal, onWait: (w) => showWait($('[data-wait]', section), w) });
    hideWait($('[data-wait]', section));
    if (!res.ok) { if (!failed(res)) go('/problem', { state: { requestId: res.requestId } }); return; }
    const table = $('[data-checks-table]', section);
    const body = $('tbody', table);
    body.replaceChildren();
    const checks = res.data.checks;
    $('[data-checks-empty]', section).hidden = checks.length > 0;
    table.hidden = checks.length === 0;
    for (const c of checks) {
      const tr = document.createElement('tr');
      for (const v of [fmtDate(c.checkedAt, true), c.checkedBy, c.code]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.append(td);
      }
      const td = document.createElement('td');
      say(td, c.result === 'match' ? 'checks.match' : 'checks.mismatch');
      tr.append(td);
      body.append(tr);
    }
  },

  'signed-out'() {},
  ended() {},
  problem(section) {
    say($('[data-problem-text]', section), 'problem.body');
    const ref = $('[data-problem-ref]', section);
    if (routeState.requestId) say(ref, 'problem.ref', { id: routeState.requestId });
    else ref.textContent = '';
  },
};

// sendCode is the phone step's request, from the phone page or the
// resend button. It waits out a surge (the SMS step may be told to wait
// when codes cannot be sent in time) and keeps the answers in memory only.
async function sendCode(body, form, signal, { resend = false } = {}) {
  const v = verification.get();
  if (!v || !v.id) { restartVerification(); return false; }
  const res = await api.request('POST', `/v1/verifications/${encodeURIComponent(v.id)}/sms`, {
    body, signal, onWait: (w) => showWait($('[data-wait]', form), w),
  });
  hideWait($('[data-wait]', form));
  if (res.status === 202) {
    memory.smsBody = body;
    verification.update({ sentTo: res.data.sentTo, expiresAt: res.data.expiresAt, resendAfter: res.data.resendAfter });
    if (!resend) go('/verify/code');
    return true;
  }
  clearErrors(form);
  if (res.status === 422) { errorsOf(form, [], { message: t('phone.failed') }); return false; }
  if (res.status === 400) {
    errorsOf(form, fieldList(res, { carrier: 'phone.error.carrier', phone: 'phone.error.phone', birthDate: 'phone.error.birthDate', sex: 'phone.error.sex' }));
    return false;
  }
  if (res.status === 404 || res.status === 409) { restartVerification(); return false; }
  if (!failed(res)) errorsOf(form, [], { message: t('error.generic') });
  return false;
}

function restartVerification() {
  verification.clear();
  go('/verify/name', { state: { notice: 'verify.expired' } });
}

function refusalKey(kind, res) {
  if (res.status === 403) return kind === 'reissue' ? 'refused.reissue' : (kind === 'renew' ? 'refused.renew' : 'refused.policy');
  if (res.status === 409) return kind === 'issue' ? 'refused.issue' : 'refused.state';
  if (res.status === 404) return 'refused.noCode';
  return 'error.generic';
}

function commandRefused(form, res) {
  if (res.status === 400) {
    errorsOf(form, fieldList(res, {
      englishName: 'details.error.englishName', koreanName: 'details.error.koreanName', nationality: 'details.error.country',
      phone: 'phone.error.phone', email: 'details.error.email', 'addresses.zip': 'address.error.zip', 'addresses.address': 'address.error.address',
      addresses: 'address.error.list', consent: 'issueCheck.error.consent', reason: 'reissue.error.reason',
    }));
    return;
  }
  if (failed(res)) return;
  errorsOf(form, [], { message: t(refusalKey(form.dataset.form === 'issue-check' ? 'issue' : (form.dataset.form === 'reissue-confirm' ? 'reissue' : 'update'), res)) });
}

function bindMeActions(section) {
  if (section.dataset.bound) return;
  section.dataset.bound = '1';
  const act = async (kind, path, button) => {
    button.disabled = true;
    const out = await sendCommand(kind, 'POST', path, undefined, { signal: viewAbort.signal });
    button.disabled = false;
    if (!out.ok && !failed(out.res)) showNotice(refusalKey(kind, out.res));
  };
  $('[data-action="suspend"]', section).addEventListener('click', (e) => act('suspend', '/v1/codes/me/suspend', e.currentTarget));
  $('[data-action="resume"]', section).addEventListener('click', (e) => act('resume', '/v1/codes/me/resume', e.currentTarget));
  $('[data-action="renew"]', section).addEventListener('click', (e) => act('renew', '/v1/codes/me/renew', e.currentTarget));
  $('[data-action="cancel"]', section).addEventListener('click', async (e) => {
    const button = e.currentTarget;
    if (await confirmDialog($('[data-dialog="cancel"]', section))) act('cancel', '/v1/codes/me/cancel', button);
  });
}

function showCode(section, c) {
  $('[data-me-code]', section).hidden = false;
  const field = (name) => $(`[data-me-field="${name}"]`, section);
  field('code').textContent = c.code;
  const statusKeys = { active: 'status.active', suspended: 'status.suspended', cancelled: 'status.cancelled', expired: 'status.expired' };
  const tag = field('status');
  say(tag, statusKeys[c.status] || 'status.active');
  tag.className = 'status-tag status-tag--' + c.status;
  const by = field('suspendedBy');
  if (c.status === 'suspended') say(by, c.suspendedBy === 'authority' ? 'status.byAuthority' : 'status.byHolder');
  else by.textContent = '';
  field('issuedAt').textContent = fmtDate(c.issuedAt);
  field('expiresAt').textContent = fmtDate(c.expiresAt);
  const renewal = field('renewal');
  if (c.renewableFrom && c.renewableUntil) say(renewal, 'me.renewalWindow', { from: fmtDate(c.renewableFrom), until: fmtDate(c.renewableUntil) });
  else say(renewal, 'me.renewalNone');
  say(field('reissuesLeft'), 'me.reissuesCount', { n: c.reissuesLeft, used: c.reissuesThisYear });
  field('koreanName').textContent = c.koreanName || '–';
  field('englishName').textContent = c.englishName || '–';
  field('nationality').textContent = c.nationality || '–';
  field('phone').textContent = c.phone || '–';
  field('email').textContent = c.email || '–';
  const addr = field('addresses');
  addr.replaceChildren();
  const ol = document.createElement('ol');
  for (const a of c.addresses || []) {
    const li = document.createElement('li');
    li.textContent = `(${a.zip}) ${a.address}${a.detail ? ' ' + a.detail : ''}`;
    ol.append(li);
  }
  addr.append(ol);

  const now = Date.now();
  const inWindow = c.renewableFrom && now >= Date.parse(c.renewableFrom) && now <= Date.parse(c.renewableUntil);
  const live = c.status === 'active' || c.status === 'suspended';
  const show = {
    reissue: live,
    suspend: c.status === 'active',
    resume: c.status === 'suspended' && c.suspendedBy !== 'authority',
    renew: !!inWindow && c.status !== 'cancelled',
    edit: live,
    issue: c.status === 'cancelled',
    cancel: live,
  };
  for (const [name, on] of Object.entries(show)) $(`[data-action="${name}"]`, section).hidden = !on;
  const note = $('[data-me-renew-note]', section);
  if (!inWindow && c.renewableFrom && live) say(note, 'me.renewLater', { from: fmtDate(c.renewableFrom) });
  else note.textContent = '';
}

// ---- Start ------------------------------------------------------------

function startModules() {
  initOfficialBanner($('[data-module="official-banner"]'));
  initLanguageSwitch($('[data-module="language-switch"]'), {
    current: language,
    onChange: async (l) => {
      await setLanguage(l);
      const section = $('section[data-view]:not([hidden])');
      if (section) setTitle(section);
    },
  });
  $$('[data-module="step-indicator"]').forEach(initStepIndicator);
  $$('[data-module="rrn-input"]').forEach((el) => initRrnInput(el, { t }));
  $$('[data-module="copy-button"]').forEach((el) => initCopyButton(el, { t }));
  $('[data-sign-out]').addEventListener('click', signOut);
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-nav]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin) return;
    e.preventDefault();
    if (url.pathname === currentPath() && !url.hash) { render(); return; }
    go(url.pathname);
  });
  window.addEventListener('popstate', () => { routeState = {}; render(); });
}

async function main() {
  await setLanguage(chosen(), { remember: false });
  startModules();
  watchSession();
  // A command was running when the page was left: go back to it.
  const p = api.pending();
  if (p && session.get() && currentPath() !== '/me/request' && !currentPath().startsWith('/verify')) {
    history.replaceState({}, '', '/me/request');
  }
  render();
}

main();
