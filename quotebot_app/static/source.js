watch('value', () => {
  const mark = element.querySelector('mark.qb-span');
  const doc = element.querySelector('.qb-doc');
  if (!mark || !doc) return;
  doc.scrollTop = Math.max(0, mark.offsetTop - doc.clientHeight / 3);
  const box = element.getBoundingClientRect();
  if (box.top < 0 || box.top > window.innerHeight * 0.6) element.scrollIntoView({block: 'start'});
  const heading = element.querySelector('.qb-source-heading');
  if (heading) heading.focus({preventScroll: true});
});
