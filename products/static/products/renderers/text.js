// The renderer of text results (copywriting): one file shared by the playground and the widget.
// A renderer draws one result into a container node as its events arrive. The playground loads this
// file as it is; the widget inlines it inside its own scope (products/embed/script.py), where
// `globalThis` is the widget's private registry, so a customer's page gets no global.
// Model output is drawn as safe Markdown (renderers/markdown.js: a few tags, sanitised), never as HTML:
// the whole text so far is drawn again at each token, its unfinished last marker left out.
(globalThis.studioRenderers ??= {}).text = (() => {
  const markdown = globalThis.studioMarkdown;
  const written = new WeakMap(); // node → the text its tokens have brought so far
  return {
    token(node, text) {
      const all = (written.get(node) || "") + text;
      written.set(node, all);
      markdown.draw(node, all, { streaming: true });
    },
    sources() {},
    // The final text wins: the engine may trim a sentence the token limit cut (ending on a sentence).
    done(node, result) {
      const final = result && typeof result.text === "string" && result.text ? result.text : written.get(node);
      if (final === undefined) return;
      written.set(node, final);
      markdown.draw(node, final);
    },
    text(result) { return (result && typeof result.text === "string") ? result.text : ""; },
  };
})();
