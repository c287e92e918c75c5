// The one module that talks to the API. Everything about the wire is here,
// once: the JSON bodies, the session token, the error envelope
// {"error":{code,message,fields,...},"requestId"}, the field errors, the
// Idempotency-Key of a command (made once, when the person presses the
// button, and sent again on every retry), Retry-After, and the waits of a
// surge: on 503, on a 429 that a wait cures, on a 409 "still running" and on
// a lost connection the request is sent again by itself, with the same key,
// after the wait the server asked for. A command's key and request id are
// kept in sessionStorage, so a reload goes back to waiting for the request
// the server already has.
//
// Nothing personal is kept: a pending command's body is kept only when it
// holds nothing personal (a reason), never the details of an issue or a
// change; the token is read through getToken and never written here.

// Waits longer than this are not waited for in the page: the person is told
// when to come back instead (a phone's codes for the day, for one).
export const MAX_AUTO_WAIT_SECONDS = 300;
// Without a Retry-After, waits grow 2, 4, 8, 16, 30, 30 ... seconds.
export const BACKOFF_SECONDS = [2, 4, 8, 16, 30];

const PENDING_KEY = 'pccc.pending';

// retryAfterSeconds reads Retry-After: whole seconds or an HTTP date.
export function retryAfterSeconds(value, nowMs = Date.now()) {
  if (value == null || value === '') return 0;
  const v = String(value).trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return 0;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

export function backoff(attempt) {
  return BACKOFF_SECONDS[Math.min(attempt, BACKOFF_SECONDS.length - 1)];
}

// retryPlan says whether an answer is worth sending again, and after how
// long. reason tells the page what to say while it waits.
export function retryPlan(res, attempt = 0) {
  if (res.network) return { retry: true, seconds: backoff(attempt), reason: 'network' };
  const ra = res.retryAfter;
  const code = res.error && res.error.code;
  switch (res.status) {
    case 503:
    case 502:
    case 504:
      return { retry: true, seconds: ra || backoff(attempt), reason: 'busy' };
    case 429:
      // A locked verification is not cured by sending the same code again.
      if (code === 'TOO_MANY_ATTEMPTS') return { retry: false, seconds: ra, reason: 'locked' };
      if (ra > MAX_AUTO_WAIT_SECONDS) return { retry: false, seconds: ra, reason: 'later' };
      return { retry: true, seconds: ra || backoff(attempt), reason: 'busy' };
    case 409:
      // The first request with this key is still running.
      if (ra > 0 && ra <= MAX_AUTO_WAIT_SECONDS) return { retry: true, seconds: ra, reason: 'busy' };
      return { retry: false, seconds: 0, reason: '' };
    default:
      return { retry: false, seconds: 0, reason: '' };
  }
}

// newKey is an Idempotency-Key: 128 random bits.
export function newKey(cryptoObj = globalThis.crypto) {
  if (cryptoObj.randomUUID) return cryptoObj.randomUUID();
  const b = cryptoObj.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// fieldId turns an API field name into the page's input id:
// addresses[2].zip -> addresses-2-zip.
export function fieldId(name) {
  return name.replace(/\[(\d+)\]\.?/g, '-$1-').replace(/\./g, '-').replace(/-$/, '');
}

// fieldErrors lists the fields a 400 named, with the page's input ids.
export function fieldErrors(res) {
  const fields = (res.error && res.error.fields) || {};
  return Object.keys(fields).map((name) => ({ field: name, id: fieldId(name), message: fields[name] }));
}

export class ApiError extends Error {
  constructor(res) {
    super((res.error && res.error.code) || 'HTTP_' + res.status);
    this.res = res;
  }
}

const sleepFor = (ms, signal) => new Promise((resolve, reject) => {
  if (signal && signal.aborted) { reject(signal.reason); return; }
  const t = setTimeout(resolve, ms);
  if (signal) signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});

export class Api {
  // fetch, storage (sessionStorage), getToken, now and sleep are given so a
  // test can run the rules without a browser.
  constructor({ fetch = globalThis.fetch.bind(globalThis), storage = null, getToken = () => '', onUnauthenticated = () => {}, now = Date.now, sleep = sleepFor } = {}) {
    this.fetch = fetch;
    this.storage = storage;
    this.getToken = getToken;
    this.onUnauthenticated = onUnauthenticated;
    this.now = now;
    this.sleep = sleep;
  }

  // once sends one request and reads its answer into
  // {status, ok, data, error, requestId, retryAfter, replayed, network}.
  async once(method, path, { body, key, signal } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = this.getToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    if (key) headers['Idempotency-Key'] = key;
    let r;
    try {
      r = await this.fetch(path, {
        method, headers, signal, credentials: 'same-origin', cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      if (signal && signal.aborted) throw err;
      return { status: 0, ok: false, network: true, data: null, error: null, retryAfter: 0 };
    }
    let data = null;
    try {
      const text = await r.text();
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    const res = {
      status: r.status,
      ok: r.ok,
      data: r.ok ? data : null,
      error: !r.ok && data && typeof data.error === 'object' ? data.error : (!r.ok ? { code: 'HTTP_' + r.status, message: '' } : null),
      requestId: (data && data.requestId) || r.headers.get('X-Request-Id') || '',
      retryAfter: retryAfterSeconds(r.headers.get('Retry-After'), this.now()),
      replayed: r.headers.get('Idempotent-Replayed') === 'true',
      network: false,
    };
    if (res.status === 401 && token) this.onUnauthenticated();
    return res;
  }

  // request sends until the answer is final: the retryable answers are
  // waited out (onWait({seconds, until, reason, attempt}) before each wait)
  // and sent again with the same key. The error of the answer waited out is
  // passed on: an overloaded SMS step may say a place in line (position).
  async request(method, path, { body, key, signal, onWait } = {}) {
    for (let attempt = 0; ; attempt++) {
      const res = await this.once(method, path, { body, key, signal });
      const plan = retryPlan(res, attempt);
      res.plan = plan;
      if (!plan.retry) return res;
      const until = this.now() + plan.seconds * 1000;
      if (onWait) onWait({ seconds: plan.seconds, until, reason: plan.reason, attempt, status: res.status, error: res.error });
      await this.sleep(plan.seconds * 1000, signal);
    }
  }

  // refreshSession asks for a new token for the live session (the current
  // one as Bearer). It resolves to {sessionToken, expiresAt} or null; a 401
  // has already ended the session through onUnauthenticated.
  async refreshSession({ signal } = {}) {
    const res = await this.once('POST', '/v1/sessions/refresh', { signal });
    if (res.status !== 200 || !res.data || !res.data.sessionToken || !res.data.expiresAt) return null;
    return { sessionToken: res.data.sessionToken, expiresAt: res.data.expiresAt };
  }

  // The pending command, kept in sessionStorage while it runs.
  pending() {
    if (!this.storage) return null;
    try { return JSON.parse(this.storage.getItem(PENDING_KEY)) || null; } catch { return null; }
  }

  savePending(p) {
    if (this.storage) this.storage.setItem(PENDING_KEY, JSON.stringify(p));
  }

  clearPending() {
    if (this.storage) this.storage.removeItem(PENDING_KEY);
  }

  // startCommand makes the command's key and keeps it before anything is
  // sent. personal says the body must not be kept.
  startCommand(kind, method, path, body, { personal = false } = {}) {
    const p = { kind, method, path, key: newKey(), requestId: '', startedAt: this.now() };
    if (body !== undefined && !personal) p.body = body;
    this.savePending(p);
    return { ...p, body };
  }

  // runCommand sends a command (or, after a reload, carries on with the
  // pending one) and follows it to its end. Hooks: onWait (a surge wait),
  // onAccepted (queued, with its request id), onProgress (each status read:
  // position and estimatedWaitSeconds while queued). It resolves to
  // {done: true, request} when the command finished (succeeded or failed),
  // or {done: false, res} when the API refused it at once.
  async runCommand(cmd, { signal, onWait, onAccepted, onProgress } = {}) {
    let requestId = cmd.requestId;
    if (!requestId) {
      if (cmd.body === undefined && cmd.needsBody) {
        return { done: false, lost: true };
      }
      const res = await this.request(cmd.method, cmd.path, { body: cmd.body, key: cmd.key, signal, onWait });
      if (res.status !== 202 || !res.data || !res.data.requestId) {
        this.clearPending();
        return { done: false, res };
      }
      requestId = res.data.requestId;
      const p = this.pending();
      if (p && p.key === cmd.key) this.savePending({ ...p, requestId });
      if (onAccepted) onAccepted(res.data);
    }
    const request = await this.follow(requestId, { signal, onWait, onProgress });
    if (request) this.clearPending();
    return { done: !!request, request, requestId };
  }

  // follow polls /v1/requests/{id} until the command has ended.
  async follow(requestId, { signal, onWait, onProgress } = {}) {
    const url = '/v1/requests/' + encodeURIComponent(requestId);
    for (;;) {
      const res = await this.request('GET', url, { signal, onWait });
      if (!res.ok) return null;
      const r = res.data;
      if (onProgress) onProgress(r);
      if (r.status === 'succeeded' || r.status === 'failed') return r;
      await this.sleep(pollDelay(r) * 1000, signal);
    }
  }
}

// pollDelay: about a third of the estimated wait, between 1 and 5 seconds.
export function pollDelay(r) {
  if (r.status !== 'queued' || !r.estimatedWaitSeconds) return 1;
  return Math.min(5, Math.max(1, Math.round(r.estimatedWaitSeconds / 3)));
}
