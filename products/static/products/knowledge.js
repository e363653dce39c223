// Knowledge tab: show the strictness slider's value next to it as it moves.
(() => {
  const slider = document.getElementById("id_threshold");
  const output = document.getElementById("threshold-value");
  if (!slider || !output) return;
  const show = () => { output.textContent = Number(slider.value).toFixed(2); };
  slider.addEventListener("input", show);
  show();
})();
