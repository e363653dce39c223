// Playground: send the inputs over the websocket and draw each variant's result as it arrives, with
// the product kind's renderer (products/static/products/renderers/, the same one the widget uses).
(() => {
  const root = document.getElementById("playground");
  if (!root || !root.dataset.canGenerate) return;
  const renderer = (globalThis.studioRenderers || {})[root.dataset.renderer];
  const form = document.getElementById("generate-form");
  const generateButton = document.getElementById("generate-button");
  const stopButton = document.getElementById("stop-button"); // stops every variant
  const variantsControl = document.getElementById("variants");
  const draftState = document.getElementById("draft-state");
  const status = document.getElementById("status");
  const outputs = document.getElementById("outputs");
  const formError = document.getElementById("form-error");
  const template = document.getElementById("variant-template");
  // Answer kinds are a chat: earlier turns stay on the page and go with each question (the sources come first).
  const chat = root.dataset.chat === "1";
  const questionTemplate = document.getElementById("question-template");
  const clearButton = document.getElementById("clear-button");
  let conversation = []; // finished turns, oldest first: [{role: "user"|"assistant", content}]
  let asking = null; // the question being answered, added to the conversation once its answer is done
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
  let socket = null;
  let running = 0;
  const cards = new Map();

  const setRunning = (count) => {
    running = count;
    generateButton.disabled = running > 0;
    stopButton.disabled = running === 0;
    status.textContent = running > 0 ? "Writing…" : "";
    if (clearButton) clearButton.disabled = running > 0;
  };

  const showError = (message) => { formError.textContent = message; formError.hidden = !message; };

  const clearFieldErrors = () => form.querySelectorAll("[data-error-for]").forEach((el) => {
    el.textContent = ""; el.hidden = true;
  });

  // The server generates with the draft as saved; edits in the Draft settings panel are never sent. While the
  // panel holds unsaved edits the page says so and Generate asks for a save (or an undo) instead of writing.
  let unsaved = document.getElementById("draft-panel")?.dataset.unsaved === "1";
  const showDraftState = () => {
    draftState.textContent = unsaved ? draftState.dataset.unsavedText : draftState.dataset.savedText;
    draftState.classList.toggle("warn", unsaved);
    draftState.classList.toggle("muted", !unsaved);
  };
  const inDraftForm = (event) => event.target.closest?.("#draft-panel form");
  document.addEventListener("input", (event) => { if (inDraftForm(event)) { unsaved = true; showDraftState(); } });
  document.addEventListener("reset", (event) => {
    if (inDraftForm(event)) { unsaved = false; showDraftState(); showError(""); }
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const panel = document.getElementById("draft-panel");
    if (event.target !== panel) return;
    unsaved = panel.dataset.unsaved === "1"; // a refused save keeps the edits, still unsaved
    showDraftState();
    if (!unsaved) showError("");
  });

  // "Recent results" is drawn by the server only: ask htmx to fetch the fragment again (the template's hx-trigger).
  const recentChanged = () => document.body.dispatchEvent(new Event("recent-changed"));

  const card = (variant) => {
    if (!cards.has(variant)) {
      const node = template.content.firstElementChild.cloneNode(true);
      node.querySelector(".variant-title").textContent = chat ? "Answer" : `Variant ${variant + 1}`;
      node.classList.add("writing");
      const stop = node.querySelector(".stop-variant");
      if (!chat) { // a chat writes one answer: Stop covers it
        stop.textContent = `Stop variant ${variant + 1}`;
        stop.hidden = false;
        stop.onclick = () => {
          if (socket) socket.send(JSON.stringify({ action: "stop", variant }));
          stop.disabled = true;
          node.querySelector(".variant-meta").textContent = "stopping…";
        };
      }
      outputs.appendChild(node);
      cards.set(variant, node);
    }
    return cards.get(variant);
  };

  const finishCard = (variant, generationId, meta, result) => {
    const node = card(variant);
    node.classList.remove("writing");
    node.querySelector(".stop-variant").hidden = true;
    node.querySelector(".variant-meta").textContent = meta;
    const body = node.querySelector(".variant-text");
    if (result) renderer.done(body, result);
    const text = result ? renderer.text(result) : body.textContent;
    const copy = node.querySelector(".copy-button");
    copy.disabled = !text;
    copy.onclick = () => navigator.clipboard.writeText(text).then(() => { copy.textContent = "Copied"; });
    node.querySelectorAll(".thumb").forEach((button) => {
      button.disabled = !generationId;
      button.onclick = () => sendFeedback(generationId, button, node);
    });
  };

  const sendFeedback = (generationId, button, node) => {
    const pressed = button.getAttribute("aria-pressed") === "true";
    const value = pressed ? "0" : button.dataset.value;
    const url = root.dataset.feedbackUrl.replace("/0/", `/${generationId}/`);
    fetch(url, { method: "POST", headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
      body: new URLSearchParams({ value }) })
      .then((response) => {
        if (!response.ok) throw new Error();
        node.querySelectorAll(".thumb").forEach((b) => b.setAttribute("aria-pressed", "false"));
        button.setAttribute("aria-pressed", pressed ? "false" : "true");
        recentChanged();
      })
      .catch(() => showError("Could not save your rating. Check your connection and try again."));
  };

  const onFrame = (frame) => {
    const variant = frame.variant ?? 0;
    if (frame.event === "start") {
      card(variant).dataset.generation = frame.generation;
    } else if (frame.event === "queued") {
      const meta = card(variant).querySelector(".variant-meta");
      meta.textContent = frame.position > 0 ? `waiting: ${frame.position} ahead` : "waiting: next in line";
      meta.dataset.waiting = "1";
    } else if (frame.event === "sources") {
      renderer.sources(card(variant).querySelector(".variant-text"), frame.items);
    } else if (frame.event === "token") {
      const meta = card(variant).querySelector(".variant-meta");
      if (meta.dataset.waiting) { meta.textContent = ""; delete meta.dataset.waiting; } // keeps "stopping…"
      renderer.token(card(variant).querySelector(".variant-text"), frame.text);
    } else if (frame.event === "done") {
      const usage = frame.usage || {};
      // Every variant ends saying why, so a stopped one reads differently from one that finished.
      const reason = { eos: " · finished", length: " · stopped at the length limit", cancelled: " · stopped by you",
        stop: " · finished", time_limit: " · stopped at the time limit" }[usage.finish_reason] ?? "";
      const tokens = usage.completion_tokens ? `${usage.completion_tokens} tokens` : "done";
      finishCard(variant, frame.generation, `${tokens}${reason}`, frame.result);
      if (chat && asking !== null && frame.result) {
        conversation.push({ role: "user", content: asking }, { role: "assistant", content: renderer.text(frame.result) });
      }
      asking = null;
      setRunning(Math.max(0, running - 1));
      recentChanged();
    } else if (frame.event === "error") {
      if (frame.fields) {
        let marked = 0;
        Object.entries(frame.fields).forEach(([name, message]) => {
          const el = form.querySelector(`[data-error-for="${name}"]`);
          if (el) { el.textContent = message; el.hidden = false; marked += 1; }
        });
        showError(marked ? "Check the inputs marked below." : frame.message);
        setRunning(0);
      } else {
        showError(frame.message);
        if (frame.variant !== undefined) {
          finishCard(variant, null, "failed");
          setRunning(Math.max(0, running - 1));
          recentChanged(); // the failure is logged too
        } else if (frame.code !== "busy") {
          setRunning(0);
        }
      }
    }
  };

  const connect = () => new Promise((resolve, reject) => {
    if (socket && socket.readyState === WebSocket.OPEN) return resolve(socket);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${root.dataset.wsPath}`);
    socket.onopen = () => resolve(socket);
    socket.onmessage = (message) => onFrame(JSON.parse(message.data));
    socket.onclose = () => {
      if (running > 0) showError("The connection to the studio was lost. Press Generate to try again.");
      socket = null;
      setRunning(0);
    };
    socket.onerror = () => reject(new Error("The studio could not be reached. Reload the page and try again."));
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    clearFieldErrors();
    if (unsaved) {
      showError(draftState.dataset.unsavedText);
      return;
    }
    const inputs = Object.fromEntries(new FormData(form).entries());
    // Only the count is sent, from the control beside Generate; everything else is the saved draft's.
    const settings = { variants: variantsControl ? variantsControl.value : "1" };
    try {
      const ws = await connect();
      if (!chat) outputs.querySelectorAll(".variant").forEach((node) => node.remove());
      document.getElementById("outputs-empty")?.remove();
      cards.clear();
      const message = { action: "generate", inputs, settings };
      if (chat) {
        asking = Object.values(inputs).join(" ").trim();
        const bubble = questionTemplate.content.firstElementChild.cloneNode(true);
        bubble.textContent = asking;
        outputs.appendChild(bubble);
        message.conversation = conversation.slice();
        settings.variants = "1";
        form.reset();
      }
      setRunning(Math.max(1, parseInt(settings.variants || "1", 10)));
      ws.send(JSON.stringify(message));
    } catch (error) {
      showError(error.message);
    }
  });

  clearButton?.addEventListener("click", () => {
    conversation = [];
    outputs.querySelectorAll(".variant, .chat-question").forEach((node) => node.remove());
    cards.clear();
    showError("");
  });

  stopButton.addEventListener("click", () => {
    if (socket) socket.send(JSON.stringify({ action: "stop" })); // no variant: the socket stops every one
    status.textContent = "Stopping…";
  });
  showDraftState();
  root.setAttribute("data-ready", ""); // handlers attached: Generate now streams instead of submitting the form
})();
