// A modal confirmation (native <dialog>): resolves true when the person
// confirms, false on the other button or Escape. Focus starts on the
// dialog's heading and goes back where it was.
export function confirmDialog(dialog) {
  const back = document.activeElement;
  return new Promise((resolve) => {
    const done = (value) => {
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      if (back && back.isConnected) back.focus();
      resolve(value);
    };
    const onClose = () => done(dialog.returnValue === 'confirm');
    dialog.addEventListener('close', onClose);
    dialog.returnValue = '';
    dialog.showModal();
    const h = dialog.querySelector('h2');
    if (h) h.focus();
  });
}
