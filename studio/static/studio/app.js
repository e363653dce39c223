/* Small behaviours every studio page shares, attached by data attributes rather than inline handlers,
   so the Content-Security-Policy can forbid inline script and style (studio/csp.py). */
(() => {
  // <select data-submit-on-change>: send its form as soon as a choice is made (a Save button stays in <noscript>).
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-submit-on-change]")) event.target.form.requestSubmit();
  });

  // <form data-confirm="Delete …?">: ask before sending.
  document.addEventListener("submit", (event) => {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // <input class="copy">: the whole value is selected on focus or click, ready to copy.
  const selectCopy = (event) => { if (event.target.matches("input.copy")) event.target.select(); };
  document.addEventListener("focusin", selectCopy);
  document.addEventListener("click", selectCopy);

  // <button data-copy="#input" data-copy-status="#status">: copy the input's value to the clipboard.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const input = document.querySelector(button.dataset.copy);
    const status = document.querySelector(button.dataset.copyStatus);
    const say = (text) => { if (status) status.textContent = text; };
    navigator.clipboard.writeText(input.value).then(
      () => say("Copied."),
      () => { input.select(); say("Press Ctrl+C to copy."); });
  });

  // <span data-percent="42">: a bar's width (style attributes in HTML are blocked by the policy; the CSSOM is not).
  const sizeBars = (root) => {
    root.querySelectorAll("[data-percent]").forEach((bar) => { bar.style.width = `${Number(bar.dataset.percent)}%`; });
  };
  document.addEventListener("DOMContentLoaded", () => sizeBars(document));
  document.addEventListener("htmx:load", (event) => sizeBars(event.target));
})();
