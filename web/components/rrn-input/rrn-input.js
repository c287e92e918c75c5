// The registration number in two parts: the back half masked, with a
// button that shows it. The button says what it will do ("show", "hide"),
// as GOV.UK's password input does, so it carries no aria-pressed. A whole
// number pasted into the front part is split across the two (the focus
// stays where the person put it); a reset masks it again.
export function initRrnInput(root, { t }) {
  const front = root.querySelector('[data-rrn="front"]');
  const back = root.querySelector('[data-rrn="back"]');
  const toggle = root.querySelector('[data-rrn="toggle"]');
  const label = () => t(back.type === 'text' ? 'name.rrn.hide' : 'name.rrn.show');
  toggle.addEventListener('click', () => {
    back.type = back.type === 'password' ? 'text' : 'password';
    toggle.textContent = label();
  });
  toggle.dataset.i18nDynamic = '';
  toggle.textContent = label();
  toggle.addEventListener('i18n', () => { toggle.textContent = label(); });
  const form = root.closest('form');
  if (form) form.addEventListener('reset', () => { back.type = 'password'; toggle.textContent = label(); });
  front.addEventListener('paste', (e) => {
    const text = (e.clipboardData || window.clipboardData).getData('text');
    const digits = splitRrn(text);
    if (!digits) return;
    e.preventDefault();
    front.value = digits[0];
    back.value = digits[1];
  });
  // No automatic move to the back half after six digits: focus changes
  // only when the person moves it (WCAG 3.2.2; GOV.UK advises against
  // auto-tabbing), so a correction or a paste is never thrown elsewhere.
}

// splitRrn takes "900101-1234568" or 13 digits with spaces and gives the
// two parts, or null.
export function splitRrn(text) {
  const m = /^\s*(\d{6})\s*-?\s*(\d{7})\s*$/.exec(text || '');
  return m ? [m[1], m[2]] : null;
}
