// The renderer of classification results: the label and a bar per label's probability. One file shared
// by the playground and the widget (inlined there in the widget's own scope). textContent and style
// widths only, never HTML, so a label a team typed cannot inject markup.
(globalThis.studioRenderers ??= {}).label = {
  token() {},
  sources() {},
  done(node, result) {
    if (!result || !result.probabilities) return;
    if (result.zero_shot) {  // the base language model's pick before any training: a label, no confidences
      const guess = document.createElement("p");
      guess.className = "label-answer";
      const strong = document.createElement("strong");
      strong.textContent = result.unsure ? "unsure" : result.label;
      guess.append(strong, result.unsure
        ? ` — the base model's reply (“${result.reply}”) named none of the labels.`
        : " — a zero-shot guess by the base language model (no confidences until you train a classifier).");
      node.replaceChildren(guess);
      return;
    }
    const head = document.createElement("p");
    head.className = "label-answer";
    const strong = document.createElement("strong");
    strong.textContent = result.label;
    head.append(strong);
    if (result.unsure) head.append(` — not sure enough; most likely “${result.top_label}”`);
    const list = document.createElement("ul");
    list.className = "label-bars";
    Object.entries(result.probabilities).forEach(([label, p]) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.className = "label-name";
      name.textContent = label;
      const bar = document.createElement("span");
      bar.className = "label-bar";
      bar.setAttribute("role", "meter");
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.setAttribute("aria-valuenow", String(Math.round(p * 100)));
      bar.setAttribute("aria-label", label);
      const fill = document.createElement("span");
      fill.className = "label-fill";
      fill.style.width = `${(p * 100).toFixed(1)}%`;
      fill.style.display = "block";
      fill.style.height = "100%";
      fill.style.background = "currentColor";
      bar.style.display = "inline-block";
      bar.style.width = "10em";
      bar.style.height = "0.8em";
      bar.style.verticalAlign = "middle";
      bar.style.opacity = "0.8";
      bar.append(fill);
      const value = document.createElement("span");
      value.className = "label-p";
      value.textContent = ` ${(p * 100).toFixed(1)} %`;
      item.append(name, " ", bar, value);
      list.append(item);
    });
    node.replaceChildren(head, list);
  },
  text(result) { return (result && typeof result.label === "string") ? result.label : ""; },
};
