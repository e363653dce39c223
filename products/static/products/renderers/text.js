// The renderer of text results (copywriting): one file shared by the playground and the widget.
// A renderer draws one result into a container node as its events arrive. The playground loads this
// file as it is; the widget inlines it inside its own scope (products/embed/script.py), where
// `globalThis` is the widget's private registry, so a customer's page gets no global.
// Model output is inserted with textContent only, never as HTML.
(globalThis.studioRenderers ??= {}).text = {
  token(node, text) { node.textContent += text; },
  sources() {},
  // The final text wins: the engine may trim a sentence the token limit cut (ending on a sentence).
  done(node, result) {
    if (result && typeof result.text === "string" && result.text && node.textContent !== result.text) {
      node.textContent = result.text;
    }
  },
  text(result) { return (result && typeof result.text === "string") ? result.text : ""; },
};
