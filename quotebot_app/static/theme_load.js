() => {
  try {
    const saved = localStorage.getItem('quotebot-theme');
    if (saved) document.body.classList.toggle('dark', saved === 'dark');
  } catch (e) {}
}
