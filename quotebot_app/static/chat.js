element.addEventListener('click', (event) => {
  const b = event.target.closest('button[data-action]');
  if (!b || !element.contains(b)) return;
  const data = {turn: Number(b.dataset.turn), index: Number(b.dataset.index), value: b.dataset.value || ''};
  const action = b.dataset.action;
  if (action === 'cite') {
    document.body.dataset.qbCite = `${data.turn}:${data.index}`;  // where focus returns when the source closes
    trigger('cite', data);
  }
  else if (action === 'suggest' || action === 'example') trigger('ask', {...data, kind: action});
  else if (action === 'vote') trigger('vote', data);
  else if (action === 'comment') sendComment(b.dataset.turn);
});
const sendComment = (turn) => {
  const input = element.querySelector(`.qb-comment-input[data-turn="${turn}"]`);
  if (input && input.value.trim()) trigger('comment', {turn: Number(turn), text: input.value});
};
element.addEventListener('keydown', (event) => {
  const input = event.target.closest('.qb-comment-input');
  if (input && event.key === 'Enter') {
    event.preventDefault();
    sendComment(input.dataset.turn);
  }
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
