// The language switch: one button per language, the current one pressed.
// The choice is remembered in localStorage (it is not personal data).
export function initLanguageSwitch(root, { current, onChange }) {
  const buttons = [...root.querySelectorAll('button[lang]')];
  const mark = (lang) => buttons.forEach((b) => b.setAttribute('aria-pressed', String(b.lang === lang)));
  mark(current());
  buttons.forEach((b) => b.addEventListener('click', async () => {
    if (b.lang === current()) return;
    await onChange(b.lang);
    mark(b.lang);
  }));
}
