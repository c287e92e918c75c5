// Copies the text of the element named by data-copy-target and says so in
// a polite live region.
export function initCopyButton(button, { t }) {
  button.addEventListener('click', async () => {
    const target = document.getElementById(button.dataset.copyTarget);
    const status = document.getElementById(button.dataset.copyStatus);
    const text = target.textContent.trim();
    let ok = true;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard permission: select the text so the person can copy it.
      const range = document.createRange();
      range.selectNodeContents(target);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      ok = false;
    }
    status.textContent = t(ok ? 'me.copied' : 'me.copySelected');
  });
}
