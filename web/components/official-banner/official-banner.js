// The official-site banner (KRDS "공식 배너"): a toggle shows how to tell
// that this is a government site.
export function initOfficialBanner(root) {
  const toggle = root.querySelector('button[aria-controls]');
  const detail = root.querySelector('#' + toggle.getAttribute('aria-controls'));
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    detail.hidden = !open;
  });
}
