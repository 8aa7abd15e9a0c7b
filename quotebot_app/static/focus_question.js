() => {
  // After "New chat" the reader's next move is typing: the question box gets the focus.
  const box = document.querySelector('#qb-question textarea, #qb-question input');
  if (box) box.focus();
}
