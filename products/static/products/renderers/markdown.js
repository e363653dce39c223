// Model output as a safe subset of Markdown: bold, italics, lists, line breaks and web links, never raw
// HTML. Shared by the text and answer renderers in the playground and the widget. It needs markdown-it
// and DOMPurify (products/static/products/vendor/, from npm): the playground loads the three files
// before the renderer; the widget inlines them inside its own scope (products/embed/script.py), where
// `globalThis` is the widget's private registry, so a customer's page gets no global.
//
// Two locks, either enough alone: markdown-it is told to pass no HTML through (`<b>` stays text) and to
// link only http(s) and mailto addresses; DOMPurify then keeps only the tags below and those addresses.
globalThis.studioMarkdown ??= (() => {
  const { markdownit, DOMPurify } = globalThis;
  const plain = (node, text) => { node.classList.remove("markdown"); node.textContent = text; };
  if (typeof markdownit !== "function" || !DOMPurify || !DOMPurify.isSupported) {
    return { draw: plain, settle: (text) => text }; // a library missing: the text, still readable
  }
  const SAFE_URL = /^(?:https?:|mailto:)/i;
  const TAGS = ["p", "br", "strong", "em", "ul", "ol", "li", "a"];
  // The "zero" preset parses nothing but paragraphs; only what a reader needs is turned on. Headings,
  // code blocks, tables, quotes, images and HTML stay plain text.
  const md = markdownit("zero", { html: false, breaks: true, linkify: false });
  md.enable(["list", "emphasis", "newline", "link", "escape"]);
  md.validateLink = (url) => SAFE_URL.test(url.trim());

  // The part of a text still being written that is safe to draw now. A marker the model has opened
  // but not closed yet (the `**` of "**We're thr", a lone `*`, a link whose address is still coming)
  // is left out until its other half arrives, so a reader never sees asterisks flash, then turn bold.
  // Only the last line is unfinished: the lines before it are drawn as they are.
  const unpaired = (line, marker) => {
    // Indexes of `marker` runs in the line, a list bullet ("* item") and intraword "_" (snake_case) aside.
    const found = [];
    const pattern = marker === "*" ? /\*+/g : /_+/g;
    for (const match of line.matchAll(pattern)) {
      const before = line[match.index - 1] || "", after = line[match.index + match[0].length] || "";
      if (marker === "*" && /^\s*$/.test(line.slice(0, match.index)) && match[0] === "*" && after === " ") continue;
      if (marker === "_" && /[\p{L}\p{N}]/u.test(before) && /[\p{L}\p{N}]/u.test(after)) continue;
      found.push([match.index, match[0].length]);
    }
    return found;
  };
  const dropMarkers = (line, marker) => {
    const runs = unpaired(line, marker);
    const doubles = runs.reduce((n, [, length]) => n + Math.floor(length / 2), 0);
    const singles = runs.reduce((n, [, length]) => n + (length % 2), 0);
    if (doubles % 2 === 0 && singles % 2 === 0) return line;
    const [index, length] = runs[runs.length - 1]; // the last run is the one still open
    return line.slice(0, index) + line.slice(index + length);
  };
  const settleLine = (line) => {
    if (/^\s*(?:[-*+]|\d+[.)])?\s*$/.test(line)) return ""; // a list item's bullet, its words not yet here
    // A link being written: "[words" or "[words](https://exa" shows its words only, until ")" arrives.
    let settled = line.replace(/\[([^\]]*)$/, "$1").replace(/\[([^\]]*)\](\([^)]*)?$/, (whole, words, address) => (
      address !== undefined || !/^\d+$/.test(words) ? words : whole)); // "[1]" is a citation, not a link
    for (const marker of ["*", "_"]) settled = dropMarkers(settled, marker);
    return settled;
  };
  const settle = (text) => {
    const cut = text.lastIndexOf("\n") + 1;
    return text.slice(0, cut) + settleLine(text.slice(cut));
  };

  const draw = (node, text, { streaming = false } = {}) => {
    const fragment = DOMPurify.sanitize(md.render(streaming ? settle(text) : text), {
      ALLOWED_TAGS: TAGS, ALLOWED_ATTR: ["href"], ALLOWED_URI_REGEXP: SAFE_URL, RETURN_DOM_FRAGMENT: true,
    });
    fragment.querySelectorAll("a").forEach((link) => {
      link.setAttribute("rel", "noopener nofollow");
      link.setAttribute("target", "_blank");
    });
    node.classList.add("markdown");
    node.replaceChildren(fragment);
  };
  return { draw, settle };
})();
