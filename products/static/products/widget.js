// AI Product Studio chat widget. Served as /embed/<public_key>.js with its product's config inlined.
// Everything lives in a shadow root, so the host page's CSS cannot break it and ours cannot leak out.
// It asks the studio first whether this website may show it, and draws nothing on a no. Model output is
// drawn by the kind's renderer (safe Markdown: a few tags, sanitised) or as textContent, never as HTML.
(() => {
  "use strict";
  const CONFIG = /*STUDIO_WIDGET_CONFIG*/null;
  if (!CONFIG || !CONFIG.publicKey) return;
  // The product kind's renderer (products/static/products/renderers/) and what it needs (the Markdown
  // libraries), inlined here by the server; they register on this private `globalThis`, not the page's.
  const RENDERERS = {};
  ((globalThis) => { /*STUDIO_RENDERER*/ })({ studioRenderers: RENDERERS, studioWidget: true });
  const renderer = Object.values(RENDERERS)[0];
  const HOST_ID = `ai-studio-widget-${CONFIG.publicKey}`;
  // Recommendations (task "rank"): the host page says which items the visitor viewed, with a data-viewed
  // attribute on this script tag ("B12, B40") or, as they browse, with
  //   document.dispatchEvent(new CustomEvent("ai-studio:viewed", { detail: { items: ["B12", "B40"] } }))
  // and the widget shows "Recommended for you" cards for that session. No global is added to the page.
  const RANK = CONFIG.task === "rank";
  const SCRIPT = document.currentScript;
  if (document.getElementById(HOST_ID)) return; // the script tag was pasted twice
  const STORAGE_KEY = `ai-studio-widget:${CONFIG.publicKey}`;
  const VISITOR_KEY = `ai-studio-visitor:${CONFIG.publicKey}`;
  const MAX_STORED = 50;
  // Earlier turns sent with each message, so a follow-up ("and express?") is read with what came before.
  const MAX_CONTEXT_TURNS = 10;

  const TEXT = {
    open: RANK ? "Show recommendations" : "Open chat",
    close: RANK ? "Hide recommendations" : "Close chat",
    clear: "Clear conversation",
    send: "Send",
    stop: "Stop",
    label: "Your message",
    typing: `${CONFIG.title} is typing…`,
    queued: (ahead) => `Busy right now: ${ahead} ahead of you…`,
    next: "Busy right now: you are next…",
    good: "Good answer",
    bad: "Bad answer",
    stopped: "Stopped.",
    empty: RANK ? "Recommendations appear here as you browse." : "Ask a question to start.",
    recommended: "Recommended for you",
    unreachable: "This chat is not available on this website right now.",
    lost: "The connection was lost. Send your message again.",
    feedbackFailed: "Your rating could not be saved. Please try again.",
    thanks: "Thanks for the feedback.",
  };

  const CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    .root { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; font: 15px/1.45 system-ui, -apple-system,
      "Segoe UI", Roboto, sans-serif; color: #1f2330; }
    button { font: inherit; cursor: pointer; }
    button:focus-visible, textarea:focus-visible { outline: 3px solid #3451d1; outline-offset: 2px; }
    header button:focus-visible { outline-color: #fff; }
    .icon { display: block; }
    .launcher { width: 56px; height: 56px; border-radius: 50%; border: none; background: #3451d1; color: #fff;
      font-size: 26px; box-shadow: 0 6px 20px rgba(0,0,0,.25); display: grid; place-items: center; margin-left: auto; }
    .launcher:hover { background: #2a41a8; }
    .panel { width: min(380px, calc(100vw - 40px)); height: min(560px, calc(100vh - 110px)); background: #fff;
      border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.28); display: flex; flex-direction: column;
      overflow: hidden; margin-bottom: 12px; }
    .panel[hidden] { display: none; }
    header { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: #3451d1; color: #fff; }
    header h2 { font-size: 16px; margin: 0; flex: 1; font-weight: 600; overflow: hidden; text-overflow: ellipsis;
      white-space: nowrap; }
    header button { background: transparent; border: 1px solid rgba(255,255,255,.5); color: #fff; border-radius: 6px;
      padding: 2px 8px; font-size: 13px; }
    .log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px;
      background: #f6f7fb; }
    .empty { color: #5b6275; text-align: center; margin: auto; }
    .msg { max-width: 85%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
    .markdown { white-space: normal; }
    .markdown p, .markdown ul, .markdown ol { margin: 0; }
    .markdown > * + * { margin-top: 6px; }
    .markdown ul, .markdown ol { padding-left: 20px; }
    .markdown a { color: #2a41a8; text-decoration: underline; }
    .user { align-self: flex-end; background: #3451d1; color: #fff; border-bottom-right-radius: 4px; }
    .assistant { align-self: flex-start; background: #fff; border: 1px solid #dde1ec; border-bottom-left-radius: 4px; }
    .note { font-size: 13px; color: #5b6275; margin-top: 4px; }
    .notice { align-self: stretch; background: #fff4e5; border: 1px solid #f1c27d; color: #6b4300; border-radius: 8px;
      padding: 8px 12px; font-size: 14px; }
    .rate { display: flex; gap: 4px; margin-top: 6px; }
    .rate button { border: 1px solid #8a94a6; background: #fff; color: #1f2330; border-radius: 6px; padding: 3px 6px; font-size: 15px; }
    .rate button[aria-pressed="true"] { background: #e3e8ff; border-color: #3451d1; }
    .typing { padding: 0 14px 6px; font-size: 13px; color: #5b6275; background: #f6f7fb; min-height: 1.5em; }
    form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #dde1ec; background: #fff; }
    textarea { flex: 1; resize: none; font: inherit; border: 1px solid #c9cfdf; border-radius: 8px; padding: 8px;
      min-height: 40px; max-height: 120px; color: inherit; background: #fff; }
    .send, .stop { border: none; border-radius: 8px; padding: 0 14px; background: #3451d1; color: #fff; font-weight: 600; }
    .stop { background: #b4232f; }
    .send:disabled { opacity: .5; cursor: default; }
    .answer-note { font-size: 13px; color: #5b6275; margin: 4px 0 0; }
    .answer-sources { margin-top: 8px; font-size: 13px; white-space: normal; }
    .answer-sources-title { margin: 0; font-weight: 600; color: #5b6275; }
    .answer-source-list { margin: 2px 0 0; padding-left: 0; list-style: none; }
    .answer-source { margin: 2px 0; }
    .answer-source.cited .answer-source-title { font-weight: 600; }
    .answer-source-n, .answer-source-score, .answer-source-cited { color: #5b6275; }
    .answer-source details summary { cursor: pointer; color: #3451d1; }
    .answer-source blockquote { margin: 4px 0; padding-left: 8px; border-left: 3px solid #dde1ec; white-space: pre-wrap; }
    .reco-cards { list-style: none; margin: 0; padding: 0; display: grid; gap: 8px; }
    .reco-card { background: #fff; border: 1px solid #dde1ec; border-radius: 10px; padding: 8px; white-space: normal; }
    .reco-card img { width: 100%; height: 110px; object-fit: cover; border-radius: 6px; display: block; }
    .reco-card a { color: #3451d1; } .reco-reason { margin: 2px 0; font-size: 13px; color: #5b6275; }
    .reco-pitch { margin: 4px 0 0; font-size: 13px; font-style: italic; }
    .reco-score { font-size: 12px; color: #5b6275; } .reco-fallback { font-size: 13px; color: #6b4300; margin: 0 0 6px; }
    .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  `;

  // State kept across page reloads on this website (localStorage is per origin; keyed per product).
  const load = () => {
    try {
      const data = JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}");
      return { messages: Array.isArray(data.messages) ? data.messages : [], open: !!data.open };
    } catch (error) {
      return { messages: [], open: false };
    }
  };
  const state = load();
  // A random id of this browser on this website (first-party localStorage, never a fingerprint): it keeps a
  // visitor on one side of an A/B split. Clearing the conversation keeps it; clearing site data drops it.
  const visitorId = (() => {
    try {
      const stored = localStorage.getItem(VISITOR_KEY);
      if (stored && /^[A-Za-z0-9_-]{8,64}$/.test(stored)) return stored;
    } catch (error) { /* storage blocked: an id for this page only */ }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const fresh = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    try { localStorage.setItem(VISITOR_KEY, fresh); } catch (error) { /* this page only */ }
    return fresh;
  })();
  const save = () => {
    try {
      const messages = state.messages.filter((m) => m.role !== "notice").slice(-MAX_STORED);
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ messages, open: state.open }));
    } catch (error) { /* storage full or blocked: the chat still works, it just forgets */ }
  };

  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    Object.entries(attrs).forEach(([name, value]) => node.setAttribute(name, value));
    if (text !== undefined) node.textContent = text;
    return node;
  };

  // Icons as inline SVG, not emoji: a visitor's machine without an emoji font drew 👍 and 💬 as boxes.
  // Decorative (aria-hidden): each button carries its name in aria-label.
  const ICONS = {
    good: "M7 10v11H3V10h4zm2 11h8.2a2 2 0 0 0 2-1.6l1.5-7A2 2 0 0 0 18.7 10H14l.9-4.4a1.6 1.6 0 0 0-2.8-1.3L9 9v12z",
    bad: "M17 14V3h4v11h-4zM15 3H6.8a2 2 0 0 0-2 1.6l-1.5 7A2 2 0 0 0 5.3 14H10l-.9 4.4a1.6 1.6 0 0 0 2.8 1.3L15 15V3z",
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z",
  };
  const icon = (name) => {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "1.2em");
    svg.setAttribute("height", "1.2em");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", `icon icon-${name}`);
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", ICONS[name]);
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
  };
  const iconButton = (attrs, name) => {
    const button = el("button", attrs);
    button.append(icon(name));
    return button;
  };

  // A custom element, not a <div>: the site's rules for div, section, button... cannot match the host,
  // and its inline !important reset beats even a site's `* { ... !important }`.
  const host = el("ai-studio-chat", { id: HOST_ID });
  host.style.setProperty("all", "initial", "important");
  const shadow = host.attachShadow({ mode: "open" });
  // A constructed style sheet is not inline style, so it works under a site's CSP without 'unsafe-inline'.
  const sheets = "adoptedStyleSheets" in shadow && "replaceSync" in CSSStyleSheet.prototype;
  const style = sheets ? new CSSStyleSheet() : el("style");
  if (sheets) { style.replaceSync(CSS); shadow.adoptedStyleSheets = [style]; } else { style.textContent = CSS; }
  const root = el("div", { class: "root" });
  const panelId = `${HOST_ID}-panel`;
  const panel = el("section", { class: "panel", id: panelId, role: "dialog",
    "aria-label": RANK ? TEXT.recommended : `${CONFIG.title} chat` });
  panel.hidden = true;
  const header = el("header");
  header.append(el("h2", {}, RANK ? TEXT.recommended : CONFIG.title));
  const clearButton = el("button", { type: "button", class: "clear" }, "Clear");
  clearButton.setAttribute("aria-label", TEXT.clear);
  const closeButton = iconButton({ type: "button", class: "close", "aria-label": TEXT.close }, "close");
  header.append(clearButton, closeButton);
  const log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation",
    tabindex: "0" });
  const typing = el("div", { class: "typing", role: "status", "aria-live": "polite" });
  const form = el("form");
  const inputId = `${HOST_ID}-input`;
  const label = el("label", { for: inputId, class: "sr-only" }, TEXT.label);
  const input = el("textarea", { id: inputId, rows: "1", placeholder: CONFIG.placeholder, maxlength: "2000" });
  const sendButton = el("button", { type: "submit", class: "send" }, TEXT.send);
  const stopButton = el("button", { type: "button", class: "stop" }, TEXT.stop);
  stopButton.hidden = true;
  form.append(label, input, sendButton, stopButton);
  panel.append(header, log, typing, ...(RANK ? [] : [form]));
  const launcher = iconButton({ type: "button", class: "launcher", "aria-label": TEXT.open,
    "aria-expanded": "false", "aria-controls": panelId }, "chat");
  root.append(panel, launcher);
  shadow.append(...(sheets ? [] : [style]), root);

  let socket = null;
  let current = null; // the assistant message being written: { message, node }
  let connecting = false; // a message is waiting for the socket: a second Enter must not send twice

  const scrollDown = () => { log.scrollTop = log.scrollHeight; };

  const rateButtons = (message, node) => {
    if (!message.generation || !message.token) return;
    const rate = el("div", { class: "rate", role: "group", "aria-label": "Rate this answer" });
    [[1, "good", TEXT.good], [-1, "bad", TEXT.bad]].forEach(([value, shape, name]) => {
      const button = iconButton({ type: "button", "aria-label": name,
        "aria-pressed": String(message.feedback === value) }, shape);
      button.addEventListener("click", () => sendFeedback(message, value, rate));
      rate.append(button);
    });
    node.append(rate);
  };

  // A click on a recommendation card (or its link) is reported once per item, so the product's page can count
  // clicks; keepalive lets the report leave with a link that navigates the page away.
  const itemClicked = (message, event) => {
    const item = event.target.closest("[data-item-id]")?.dataset.itemId;
    if (!item || (message.clicked ||= []).includes(item)) return;
    message.clicked.push(item);
    save();
    fetch(CONFIG.feedbackUrl, {
      method: "POST", mode: "cors", credentials: "omit", keepalive: true, headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ generation: message.generation, token: message.token, event: "click", item }),
    }).catch(() => {}); // a lost click must not bother the visitor
  };

  const render = (message, { append = true } = {}) => {
    if (message.role === "notice") {
      const node = el("p", { class: "notice", role: "alert" }, message.text);
      log.append(node);
      return node;
    }
    const node = el("div", { class: `msg ${message.role}` });
    node.append(el("span", { class: "sr-only" }, message.role === "user" ? "You said: " : `${CONFIG.title}: `));
    const text = el("div", { class: "text" });
    if (message.role === "assistant" && message.sources) renderer.sources(text, message.sources);
    if (message.role === "assistant" && message.result) renderer.done(text, message.result);
    else if (message.role === "assistant" && message.sources) renderer.token(text, message.text);
    else text.textContent = message.text;
    if (RANK && message.generation && message.token) text.addEventListener("click", (e) => itemClicked(message, e));
    node.append(text);
    if (message.status === "stopped") node.append(el("div", { class: "note" }, TEXT.stopped));
    if (message.role === "assistant" && message.status !== "writing" && message.text) rateButtons(message, node);
    if (append) log.append(node);
    return node;
  };

  const renderAll = () => {
    log.replaceChildren();
    if (CONFIG.greeting) { // the team's own words, first, every time (never stored with the conversation)
      const greeting = el("div", { class: "msg assistant greeting" });
      greeting.append(el("span", { class: "sr-only" }, `${CONFIG.title}: `), CONFIG.greeting);
      log.append(greeting);
    } else if (!state.messages.length) {
      log.append(el("p", { class: "empty" }, TEXT.empty));
    }
    state.messages.forEach(render);
    scrollDown();
  };

  const notice = (text) => {
    log.querySelector(".empty")?.remove();
    render({ role: "notice", text });
    scrollDown();
  };

  const setBusy = (busy) => {
    const stopHadFocus = shadow.activeElement === stopButton; // asked before hiding it drops the focus
    sendButton.hidden = busy;
    stopButton.hidden = !busy;
    // While busy, screen readers hold the log's announcements: the finished answer is read once,
    // not every token as it streams in. The typing indicator (a status) says that something is coming.
    log.setAttribute("aria-busy", String(busy));
    if (!busy) typing.textContent = "";
    if (stopHadFocus && !busy) input.focus(); // keyboard users stay in the chat, not on a vanished button
  };

  const finish = (status) => {
    if (!current) return;
    const { message, node } = current;
    message.status = status;
    if (!message.text && status === "failed") { // nothing to keep: the notice that follows says why
      node.remove();
      state.messages.splice(state.messages.indexOf(message), 1);
    } else {
      node.replaceWith(render(message, { append: false }));
    }
    current = null;
    setBusy(false);
    save();
    scrollDown();
  };

  const onFrame = (frame) => {
    if (frame.event === "start") {
      typing.textContent = TEXT.typing;
    } else if (frame.event === "queued") {
      typing.textContent = frame.position > 0 ? TEXT.queued(frame.position) : TEXT.next;
    } else if (frame.event === "sources") {
      if (!current) return;
      current.message.sources = frame.items; // kept, so the answer's sources are still there after a reload
      renderer.sources(current.node.querySelector(".text"), frame.items);
    } else if (frame.event === "token") {
      if (!current) return;
      typing.textContent = TEXT.typing;
      current.message.text += frame.text;
      renderer.token(current.node.querySelector(".text"), frame.text);
      scrollDown();
    } else if (frame.event === "done") {
      if (!current) return;
      current.message.generation = frame.generation;
      current.message.token = frame.feedback_token;
      current.message.result = frame.result;
      current.message.text = renderer.text(frame.result) || current.message.text;
      finish(frame.usage && frame.usage.finish_reason === "cancelled" ? "stopped" : "done");
    } else if (frame.event === "error") {
      finish("failed");
      const fields = frame.fields ? Object.values(frame.fields).join(" ") : "";
      notice(fields || frame.message);
    }
  };

  const connect = () => new Promise((resolve, reject) => {
    if (socket && socket.readyState === WebSocket.OPEN) { resolve(socket); return; }
    let opened = false;
    const ws = new WebSocket(CONFIG.socketUrl);
    ws.onopen = () => { opened = true; socket = ws; resolve(ws); };
    ws.onmessage = (event) => {
      try { onFrame(JSON.parse(event.data)); } catch (error) { /* ignore a malformed frame */ }
    };
    ws.onclose = () => {
      socket = null;
      if (!opened) { reject(new Error(TEXT.unreachable)); return; }
      if (current) { finish("failed"); notice(TEXT.lost); }
    };
  });

  // The finished turns before this message, oldest first, as the studio's generate call takes them.
  const earlierTurns = () => state.messages
    .filter((m) => (m.role === "user" || (m.role === "assistant" && m.status === "done")) && m.text)
    .slice(-MAX_CONTEXT_TURNS)
    .map((m) => ({ role: m.role, content: m.text }));

  // Open the socket if need be, show the answer being written, and send one generate frame.
  const ask = async (frame) => {
    const answer = { role: "assistant", text: "", status: "writing" };
    connecting = true;
    try {
      const ws = await connect();
      state.messages.push(answer);
      current = { message: answer, node: render(answer) };
      setBusy(true);
      typing.textContent = TEXT.typing;
      ws.send(JSON.stringify({ action: "generate", ...frame }));
    } catch (error) {
      notice(error.message);
    } finally {
      connecting = false;
    }
  };

  const send = async (text) => {
    const conversation = earlierTurns();
    log.querySelector(".empty")?.remove();
    const question = { role: "user", text };
    state.messages.push(question);
    render(question);
    save();
    scrollDown();
    await ask({ message: text, conversation, visitor: visitorId });
  };

  // Recommendations for the viewed items: one request, the cards replace the previous ones (no chat log).
  let viewed = [];
  const recommend = async (items) => {
    viewed = [...new Set([...viewed, ...items.map((item) => String(item).trim()).filter(Boolean)])].slice(-50);
    if (!viewed.length || current || connecting) return;
    state.messages = [];
    log.replaceChildren();
    await ask({ message: viewed.join(", "), visitor: visitorId });
  };

  const sendFeedback = (message, value, group) => {
    const next = message.feedback === value ? 0 : value;
    fetch(CONFIG.feedbackUrl, {
      method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ generation: message.generation, token: message.token, value: next }),
    }).then((response) => {
      if (!response.ok) throw new Error();
      message.feedback = next;
      save();
      group.querySelectorAll("button").forEach((button, index) => {
        button.setAttribute("aria-pressed", String(next === (index === 0 ? 1 : -1)));
      });
      typing.textContent = next ? TEXT.thanks : "";
    }).catch(() => notice(TEXT.feedbackFailed));
  };

  const setOpen = (open, { focus = true } = {}) => {
    state.open = open;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? TEXT.close : TEXT.open);
    launcher.replaceChildren(icon(open ? "close" : "chat"));
    save();
    if (open && focus) input.focus();
    if (!open && focus) launcher.focus();
  };

  launcher.addEventListener("click", () => setOpen(panel.hidden));
  closeButton.addEventListener("click", () => setOpen(false));
  clearButton.addEventListener("click", () => {
    if (current) return;
    state.messages = [];
    save();
    renderAll();
    input.focus();
  });
  // Escape closes the chat from anywhere in the widget (the panel or its launcher), and focus goes back
  // to the launcher. Keys pressed on the host page are the page's own business.
  root.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) { event.preventDefault(); setOpen(false); }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || current || connecting) return;
    input.value = "";
    send(text);
  });
  stopButton.addEventListener("click", () => {
    if (socket && current) socket.send(JSON.stringify({ action: "stop" }));
    typing.textContent = "Stopping…";
  });

  // An answer that was still being written when the page was left is kept as it stood.
  state.messages.forEach((message) => { if (message.status === "writing") message.status = "stopped"; });
  renderAll();
  const mount = () => {
    if (document.getElementById(HOST_ID)) return;
    document.body.append(host);
    setOpen(state.open, { focus: false });
    if (RANK) {
      document.addEventListener("ai-studio:viewed", (event) => {
        const items = event.detail && event.detail.items;
        if (Array.isArray(items)) recommend(items);
      });
      const attribute = SCRIPT && SCRIPT.getAttribute("data-viewed");
      if (attribute) recommend(attribute.split(","));
    }
    host.setAttribute("data-ready", ""); // mounted and listening: what tests (and host pages) wait for
  };
  // The script tag's request carries no Origin, so the studio could not refuse it: this CORS request
  // carries the page's real Origin, and the button appears only when the studio says this website may
  // show it. No answer (the studio unreachable) is a no too: better no button than one that cannot chat.
  // On the studio's own page (the Embed tab's preview) a browser sends no Origin with a GET: no need to ask.
  const studioPage = new URL(CONFIG.allowedUrl).origin === window.location.origin;
  (studioPage ? Promise.resolve({ allowed: true })
    : fetch(CONFIG.allowedUrl, { mode: "cors", credentials: "omit", cache: "no-store" })
      .then((response) => (response.ok ? response.json() : { allowed: false })))
    .then((answer) => {
      if (!answer || answer.allowed !== true) return;
      if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
    })
    .catch(() => { /* not allowed here, or unreachable: nothing is drawn */ });
})();
