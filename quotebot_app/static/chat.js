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
  else if (action === 'copy') copyQuote(b);
});
// "Copy quote": the quote as shown, in quotation marks, with its citation (title, place, file).
const copyQuote = (b) => {
  const item = b.closest('.qb-passage');
  if (!item) return;
  const quote = item.querySelector('.qb-quote').textContent.trim();
  const title = item.querySelector('.qb-cite-title').textContent.trim();
  const place = item.querySelector('.qb-cite-loc').textContent.trim();
  const text = `\u201c${quote}\u201d (${title}${place ? ', ' + place : ''})`;
  const done = () => { b.textContent = 'Copied'; setTimeout(() => { b.textContent = 'Copy quote'; }, 2000); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
};
const fallbackCopy = (text, done) => {
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  try { if (document.execCommand('copy')) done(); } finally { area.remove(); }
};
// A counter under the question box once a question nears the limit (the header carries it).
const counter = () => {
  const block = document.querySelector('#qb-question');
  if (!block) return null;
  let out = block.querySelector('.qb-count');
  if (!out) {
    out = document.createElement('div');
    out.className = 'qb-count';
    out.setAttribute('aria-live', 'polite');
    block.appendChild(out);
  }
  return out;
};
document.addEventListener('input', (event) => {
  if (!event.target.closest || !event.target.closest('#qb-question')) return;
  const header = document.querySelector('.qb-header[data-max-question]');
  const out = counter();
  if (!header || !out) return;
  const max = Number(header.dataset.maxQuestion);
  const n = event.target.value.length;
  const near = n >= Math.floor(max * 0.8);
  out.hidden = !near;
  out.textContent = near ? `${n} / ${max} characters${n > max ? ': too long, please shorten it' : ''}` : '';
  out.classList.toggle('qb-count-over', n > max);
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
