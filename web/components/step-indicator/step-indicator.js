// The step indicator: data-current names the current step's index (1 based);
// steps before it are done. The current step carries aria-current="step".
export function initStepIndicator(root) {
  const current = Number(root.dataset.current || 1);
  [...root.children].forEach((li, i) => {
    if (i + 1 === current) li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
    li.toggleAttribute('data-done', i + 1 < current);
  });
}
