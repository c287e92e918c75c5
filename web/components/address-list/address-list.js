// The delivery addresses: 1 to 20, each a fieldset cloned from a
// <template>, with add and remove buttons. Field ids follow the API's field
// names (addresses[0].zip is #addresses-0-zip) so its errors find them.
export const MAX_ADDRESSES = 20;

export function initAddressList(root, { translate, t }) {
  const list = root.querySelector('[data-address-items]');
  const template = root.querySelector('template');
  const addButton = root.querySelector('[data-address-add]');
  const status = root.querySelector('[data-address-status]');

  const items = () => [...list.children];
  const renumber = () => {
    items().forEach((item, i) => {
      const n = i + 1;
      item.querySelectorAll('[data-address-field]').forEach((input) => {
        const name = input.dataset.addressField;
        const id = `addresses-${i}-${name}`;
        const label = item.querySelector(`label[data-for="${name}"]`);
        input.id = id;
        label.htmlFor = id;
      });
      item.querySelectorAll('[data-i18n-args]').forEach((el) => { el.dataset.i18nArgs = 'n=' + n; });
      item.querySelector('[data-address-remove]').hidden = items().length === 1;
    });
    addButton.hidden = items().length >= MAX_ADDRESSES;
    translate(list);
  };
  const add = (value = {}) => {
    const item = template.content.firstElementChild.cloneNode(true);
    for (const name of ['zip', 'address', 'detail']) {
      item.querySelector(`[data-address-field="${name}"]`).value = value[name] || '';
    }
    item.querySelector('[data-address-remove]').addEventListener('click', () => {
      const index = items().indexOf(item);
      item.remove();
      renumber();
      status.textContent = t('address.removed', { n: index + 1 });
      const next = items()[Math.min(index, items().length - 1)];
      next.querySelector('input').focus();
    });
    list.append(item);
    renumber();
    return item;
  };
  addButton.addEventListener('click', () => {
    if (items().length >= MAX_ADDRESSES) return;
    const item = add();
    status.textContent = t('address.added', { n: items().length });
    item.querySelector('input').focus();
  });

  return {
    set(addresses) {
      list.replaceChildren();
      (addresses && addresses.length ? addresses : [{}]).slice(0, MAX_ADDRESSES).forEach((a) => add(a));
    },
    values() {
      return items().map((item) => {
        const v = {};
        for (const name of ['zip', 'address', 'detail']) v[name] = item.querySelector(`[data-address-field="${name}"]`).value.trim();
        return v;
      });
    },
    count: () => items().length,
  };
}
