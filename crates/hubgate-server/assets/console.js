// Copy buttons: the only script of the console, a convenience. Without it the
// values are still on the page to select and copy by hand.
document.querySelectorAll('button.copy').forEach((button) => {
  const target = document.getElementById(button.dataset.copy);
  if (!target || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener('click', () => {
    navigator.clipboard.writeText(target.textContent.trim()).then(() => { button.textContent = 'Copied'; });
  });
});
