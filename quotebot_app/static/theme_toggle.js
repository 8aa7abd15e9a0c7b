() => {
  const dark = !document.body.classList.contains('dark');
  document.body.classList.toggle('dark', dark);
  try { localStorage.setItem('quotebot-theme', dark ? 'dark' : 'light'); } catch (e) {}
}
