element.addEventListener('click', (event) => {
  const b = event.target.closest('button[data-action]');
  if (!b || !element.contains(b)) return;
  const data = {turn: Number(b.dataset.turn), index: Number(b.dataset.index), value: b.dataset.value || ''};
  const action = b.dataset.action;
  if (action === 'cite') trigger('cite', data);
  else if (action === 'suggest' || action === 'example') trigger('ask', {...data, kind: action});
  else if (action === 'vote') trigger('vote', data);
});
watch('value', () => {
  const turns = element.querySelectorAll('.qb-turn');
  const count = String(turns.length);
  if (turns.length && element.dataset.count !== count) {
    element.dataset.count = count;
    turns[turns.length - 1].scrollIntoView({block: 'start', behavior: 'smooth'});
  } else if (!turns.length) {
    element.dataset.count = '0';
  }
});
