// The error summary (GOV.UK pattern): a box at the top of the form listing
// each problem as a link to its field, focused when shown so it is read
// out. Fields get aria-invalid and their message beside them.
export function showErrors(form, errors, { t, message } = {}) {
  clearErrors(form);
  const summary = form.querySelector('[data-module="error-summary"]');
  const list = summary.querySelector('ul');
  const extra = summary.querySelector('[data-summary-message]');
  extra.textContent = message || '';
  extra.hidden = !message;
  for (const e of errors) {
    const field = e.id ? form.querySelector('#' + CSS.escape(e.id)) : null;
    const li = document.createElement('li');
    if (field) {
      const a = document.createElement('a');
      a.href = '#' + e.id;
      a.textContent = e.text;
      a.addEventListener('click', (ev) => { ev.preventDefault(); field.focus(); field.scrollIntoView({ block: 'center' }); });
      li.append(a);
      markField(field, e.text);
    } else {
      li.textContent = e.text;
    }
    list.append(li);
  }
  summary.hidden = false;
  summary.focus();
  return summary;
}

function markField(field, text) {
  const wrap = field.closest('.field') || field.parentElement;
  wrap.classList.add('field--error');
  const p = document.createElement('p');
  p.className = 'field-error';
  p.id = field.id + '-error';
  p.dataset.fieldError = '';
  p.textContent = text;
  const label = wrap.querySelector(':scope > label, :scope > legend, :scope > fieldset > legend');
  // After the label and any message already there, in the summary's order.
  let at = label || field;
  while (at.nextElementSibling && at.nextElementSibling.hasAttribute('data-field-error')) at = at.nextElementSibling;
  at.insertAdjacentElement('afterend', p);
  // A group of radios is marked on each radio; a text input on itself.
  const targets = field.matches('input[type="radio"]') ? wrap.querySelectorAll('input[type="radio"]') : [field];
  targets.forEach((el) => {
    el.setAttribute('aria-invalid', 'true');
    const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    if (!ids.includes(p.id)) el.setAttribute('aria-describedby', [p.id, ...ids].join(' '));
  });
}

export function clearErrors(form) {
  const summary = form.querySelector('[data-module="error-summary"]');
  if (summary) {
    summary.hidden = true;
    summary.querySelector('ul').replaceChildren();
  }
  form.querySelectorAll('[data-field-error]').forEach((p) => {
    form.querySelectorAll('[aria-describedby]').forEach((el) => {
      const ids = el.getAttribute('aria-describedby').split(' ').filter((id) => id && id !== p.id);
      if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
      else el.removeAttribute('aria-describedby');
    });
    p.remove();
  });
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  form.querySelectorAll('.field--error').forEach((el) => el.classList.remove('field--error'));
}
