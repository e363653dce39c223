// The renderer of recommendations: cards with the item's name, its reason, its score and, when the catalog
// has them, a picture and a link. One file shared by the playground and the widget (inlined there in the
// widget's own scope). textContent and attributes only, never HTML; links and pictures must be http(s).
// With pitches on, the items come first as `sources` (the cards are drawn at once), then the pitches as one
// token stream, a line per item (inference/runners/pitch.py): line n goes under card n as it is written.
(globalThis.studioRenderers ??= {}).items = {
  pitchText: new WeakMap(), // node → the pitch lines streamed so far
  token(node, text) {
    const lines = `${this.pitchText.get(node) ?? ""}${text}`;
    this.pitchText.set(node, lines);
    const cards = node.querySelectorAll(".reco-card");
    lines.split("\n").forEach((line, n) => { if (cards[n]) this.pitch(cards[n], line.trim()); });
  },
  sources(node, items) {
    this.pitchText.delete(node);
    this.done(node, { items });
  },
  pitch(card, text) {
    let line = card.querySelector(".reco-pitch");
    if (!line) {
      line = document.createElement("p");
      line.className = "reco-pitch";
      card.append(line);
    }
    line.textContent = text;
  },
  done(node, result) {
    if (!result || !Array.isArray(result.items)) return;
    const safe = (url) => {
      try { const parsed = new URL(url, document.baseURI); return /^https?:$/.test(parsed.protocol) ? parsed.href : ""; }
      catch { return ""; }
    };
    const parts = [];
    if (result.fallback) {
      const note = document.createElement("p");
      note.className = "reco-fallback";
      note.textContent = result.fallback;
      parts.push(note);
    }
    const list = document.createElement("ol");
    list.className = "reco-cards";
    list.setAttribute("aria-label", "Recommended items");
    result.items.forEach((item) => {
      const card = document.createElement("li");
      card.className = "reco-card";
      card.dataset.itemId = item.id;
      const image = item.image && safe(item.image);
      if (image) {
        const picture = document.createElement("img");
        picture.src = image;
        picture.alt = "";
        picture.loading = "lazy";
        card.append(picture);
      }
      const title = document.createElement("strong");
      const link = item.link && safe(item.link);
      if (link) {
        const anchor = document.createElement("a");
        anchor.href = link;
        anchor.rel = "noopener nofollow";
        anchor.target = "_top";
        anchor.textContent = item.title;
        anchor.dataset.itemId = item.id;
        title.append(anchor);
      } else {
        title.textContent = item.title;
      }
      const reason = document.createElement("p");
      reason.className = "reco-reason";
      reason.textContent = item.reason;
      const score = document.createElement("span");
      score.className = "reco-score";
      score.textContent = `match ${Math.round((item.score || 0) * 100)} %`;
      card.append(title, reason, score);
      if (item.pitch) this.pitch(card, item.pitch);
      list.append(card);
    });
    if (result.pitch_error) {
      const note = document.createElement("p");
      note.className = "reco-fallback";
      note.textContent = result.pitch_error;
      parts.push(note);
    }
    node.replaceChildren(...parts, list);
  },
  text(result) { return ((result && result.items) || []).map((item) => item.title).join(", "); },
};
