// What the page keeps between reloads, all in sessionStorage (gone when the
// tab closes): the session token and its expiry, the verification in
// progress (its id and the masked phone, nothing typed), and the page the
// person was going to. Never the registration number, the one-time code or
// any detail typed into a form; never localStorage.
const SESSION = 'pccc.session';
const VERIFICATION = 'pccc.verification';
const NEXT = 'pccc.next';

const read = (k) => { try { return JSON.parse(sessionStorage.getItem(k)); } catch { return null; } };
const write = (k, v) => { try { sessionStorage.setItem(k, JSON.stringify(v)); } catch { /* storage off */ } };
const drop = (k) => { try { sessionStorage.removeItem(k); } catch { /* storage off */ } };

let memorySession = null;

export const session = {
  get() {
    const s = memorySession || read(SESSION);
    if (!s || !s.token || Date.parse(s.expiresAt) <= Date.now()) return null;
    memorySession = s;
    return s;
  },
  token() { const s = session.get(); return s ? s.token : ''; },
  set(token, expiresAt) { memorySession = { token, expiresAt }; write(SESSION, memorySession); },
  clear() { memorySession = null; drop(SESSION); },
};

export const verification = {
  get: () => read(VERIFICATION),
  set: (v) => write(VERIFICATION, v),
  update: (patch) => write(VERIFICATION, { ...(read(VERIFICATION) || {}), ...patch }),
  clear: () => drop(VERIFICATION),
};

// next is where to go once verified: issue, lookup or reissue.
export const next = {
  get: () => read(NEXT) || 'lookup',
  set: (v) => write(NEXT, v),
  clear: () => drop(NEXT),
};

// The last command's outcome, for its result page: in memory only (a code
// is personal); a reload of the result page shows the holder's page.
let lastResult = null;
export const result = {
  get: () => lastResult,
  set: (v) => { lastResult = v; },
  clear: () => { lastResult = null; },
};

// clearAll is sign-out: nothing of the person stays in the tab.
export function clearAll() {
  session.clear();
  verification.clear();
  result.clear();
  drop('pccc.pending');
  drop(NEXT);
}
