// The catalogues: every string the page shows is in i18n/<lang>.json.
// Elements name their string with data-i18n="key" (text) and
// data-i18n-attr="aria-label:some.key" (attributes); data-i18n-args
// gives placeholders ("n=2"). Scripts ask t() with the key and values.
export const LANGUAGES = ['ko', 'en'];
export const DEFAULT_LANGUAGE = 'ko';
const STORE_KEY = 'pccc.lang';

let lang = DEFAULT_LANGUAGE;
let catalogue = {};
const cache = {};

export function format(template, vars = {}) {
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

export function t(key, vars) {
  const s = catalogue[key];
  return s === undefined ? key : format(s, vars);
}

export function language() { return lang; }

// chosen is the remembered language, else the default (Korean).
export function chosen(storage = globalThis.localStorage) {
  try {
    const l = storage && storage.getItem(STORE_KEY);
    return LANGUAGES.includes(l) ? l : DEFAULT_LANGUAGE;
  } catch {
    return DEFAULT_LANGUAGE;
  }
}

export async function setLanguage(l, { remember = true } = {}) {
  if (!LANGUAGES.includes(l)) l = DEFAULT_LANGUAGE;
  if (!cache[l]) {
    const r = await fetch('/i18n/' + l + '.json', { cache: 'no-cache' });
    if (!r.ok) throw new Error('catalogue ' + l + ': ' + r.status);
    cache[l] = await r.json();
  }
  catalogue = cache[l];
  lang = l;
  document.documentElement.lang = l;
  if (remember) {
    try { localStorage.setItem(STORE_KEY, l); } catch { /* storage off: not remembered */ }
  }
  translate(document);
}

function args(el) {
  const raw = el.dataset.i18nArgs || '';
  if (raw.startsWith('{')) {
    try { return JSON.parse(raw); } catch { return {}; }
  }
  const out = {};
  for (const pair of (el.dataset.i18nArgs || '').split(';')) {
    const [k, v] = pair.split('=');
    if (k) out[k.trim()] = (v || '').trim();
  }
  return out;
}

// say sets an element's string by key, so a later language switch
// translates it again.
export function say(el, key, vars) {
  el.dataset.i18n = key;
  if (vars) el.dataset.i18nArgs = JSON.stringify(vars);
  else delete el.dataset.i18nArgs;
  el.textContent = t(key, vars);
}

export function translate(root) {
  const all = (sel) => [...(root.matches && root.matches(sel) ? [root] : []), ...root.querySelectorAll(sel)];
  for (const el of all('[data-i18n]')) el.textContent = t(el.dataset.i18n, args(el));
  for (const el of all('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key, args(el)));
    }
  }
  for (const el of all('[data-i18n-dynamic]')) el.dispatchEvent(new Event('i18n'));
}
