// The source opens where the reader is: beside the answer on a wide screen (the column is sticky),
// as a sheet over it on a narrow one (#qb-source-col.qb-open, see page.css; Gradio scopes the
// page's @media rules to its container, so the class sits on the column, not on body). The page never scrolls:
// only the document inside the panel moves to the quote. Escape or the close button shuts the
// sheet and gives focus back to the citation that opened it.
const column = () => element.closest('#qb-source-col') || element;
const closeSource = () => {
  if (!column().classList.contains('qb-open')) return;
  column().classList.remove('qb-open');
  const [turn, index] = (document.body.dataset.qbCite || '').split(':');
  const cite = document.querySelector(`#qb-chat .qb-cite[data-turn="${turn}"][data-index="${index}"]`);
  if (cite) cite.focus({preventScroll: true});
};
element.addEventListener('click', (event) => {
  if (event.target.closest('[data-action="close-source"]')) closeSource();
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') closeSource();
});
watch('value', () => {
  const mark = element.querySelector('mark.qb-span');
  const doc = element.querySelector('.qb-doc');
  if (!mark || !doc) {
    column().classList.remove('qb-open');
    return;
  }
  column().classList.add('qb-open');
  const pdf = element.querySelector('.qb-pdf-scroll');
  const pdfMark = element.querySelector('.qb-pdf-mark');
  const place = () => {  // the quote a third of the way down the text view, and on the rendered page
    doc.scrollTop = Math.max(0, mark.offsetTop - doc.clientHeight / 3);
    if (pdf && pdfMark) pdf.scrollTop = Math.max(0, pdfMark.offsetTop - pdf.clientHeight / 3);
  };
  place();
  const img = element.querySelector('.qb-pdf-img');
  if (img && !img.complete) img.addEventListener('load', place, {once: true});  // laid out again once decoded
  const heading = element.querySelector('.qb-source-heading');
  if (heading) heading.focus({preventScroll: true});
});
