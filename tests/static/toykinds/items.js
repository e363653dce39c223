// The toy kind's renderer: a numbered list of items with their reasons (textContent only).
(globalThis.studioRenderers ??= {}).items = {
  token() {},
  sources() {},
  done(node, result) {
    const list = document.createElement("ol");
    list.className = "ranked";
    (result.items || []).forEach((item) => {
      const entry = document.createElement("li");
      entry.textContent = `${item.title} — ${item.reason}`;
      list.append(entry);
    });
    node.replaceChildren(list);
  },
  text(result) { return (result.items || []).map((item) => item.title).join(", "); },
};
