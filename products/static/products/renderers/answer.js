// The renderer of answers (Q&A): one file shared by the playground and the widget (inlined there in the
// widget's own scope, see renderers/text.js). The `sources` event comes before any token and draws the
// passages the answer may cite (title, score, the quoted passage behind a <details>); tokens fill the
// answer above them; `done` marks the cited passages from result.citations, and says why when the
// assistant abstained. The answer is drawn as safe Markdown (renderers/markdown.js), the whole text so
// far again at each token; passages are inserted with textContent only. Never HTML.
(globalThis.studioRenderers ??= {}).answer = (() => {
  const markdown = globalThis.studioMarkdown;
  const written = new WeakMap(); // answer-text node → the text its tokens have brought so far
  const make = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  // The answer's parts inside the renderer's container, made once: text first, then the note, then sources.
  const parts = (node) => {
    let text = node.querySelector(":scope > .answer-text");
    if (!text) {
      node.textContent = "";
      text = make("div", "answer-text");
      const note = make("p", "answer-note");
      note.hidden = true;
      const sources = make("div", "answer-sources");
      sources.hidden = true;
      node.append(text, note, sources);
    }
    return { text, note: node.querySelector(":scope > .answer-note"),
      sources: node.querySelector(":scope > .answer-sources") };
  };
  const score = (value) => (typeof value === "number" ? value.toFixed(2) : "?");
  return {
    sources(node, items) {
      const { sources } = parts(node);
      sources.replaceChildren();
      if (!Array.isArray(items) || !items.length) return;
      sources.append(make("p", "answer-sources-title", "Sources"));
      const list = make("ol", "answer-source-list");
      items.forEach((item) => {
        const entry = make("li", "answer-source");
        entry.dataset.n = String(item.n);
        entry.dataset.testid = "answer-source";
        const head = make("span", "answer-source-head");
        head.append(make("span", "answer-source-n", `[${item.n}] `),
          make("span", "answer-source-title", item.title || `Passage ${item.n}`),
          make("span", "answer-source-score", ` · match ${score(item.score)}`));
        const quote = make("details", "answer-source-quote");
        quote.append(make("summary", "", "Quoted passage"), make("blockquote", "", item.text || ""));
        entry.append(head, quote);
        list.append(entry);
      });
      sources.append(list);
      sources.hidden = false;
    },
    token(node, chunk) {
      const { text } = parts(node);
      const all = (written.get(text) || "") + chunk;
      written.set(text, all);
      markdown.draw(text, all, { streaming: true });
    },
    done(node, result) {
      const { text, note, sources } = parts(node);
      if (!result) return;
      const final = written.get(text) || (typeof result.text === "string" ? result.text : "");
      written.set(text, final);
      markdown.draw(text, final);
      // "cited": the answer names the passage ([n]); "quoted": it repeats the passage's own words.
      const cited = new Map((result.citations || []).map((c) => [String(c.n), c.via === "quote" ? "quoted" : "cited"]));
      sources.querySelectorAll(".answer-source").forEach((entry) => {
        const how = cited.get(entry.dataset.n);
        entry.classList.toggle("cited", Boolean(how));
        entry.querySelector(".answer-source-cited")?.remove();
        if (how) entry.querySelector(".answer-source-head").append(make("span", "answer-source-cited", ` · ${how}`));
      });
      // A website's visitor reads the product's own "I don't know" sentence; the scores are for the studio.
      if (result.abstained && !globalThis.studioWidget) {
        note.textContent = `Not found in your documents — best match ${score(result.best_score)}, `
          + `needs ${score(result.threshold)}`;
        note.hidden = false;
      } else {
        note.hidden = true;
      }
    },
    text(result) { return (result && typeof result.text === "string") ? result.text : ""; },
  };
})();
