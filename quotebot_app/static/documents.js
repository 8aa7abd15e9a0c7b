element.addEventListener('click', (event) => {
  const b = event.target.closest('button[data-action]');
  if (!b || !element.contains(b)) return;
  const data = {name: b.dataset.name || ''};
  const action = b.dataset.action;
  if (action === 'ask_remove') trigger('ask_remove', data);
  else if (action === 'cancel') trigger('cancel', data);
  else if (action === 'remove') trigger('remove', data);
});
watch('value', () => {
  const target = element.querySelector('[data-autofocus]');
  if (target) target.focus({preventScroll: false});
});
