// Dashboard: follow the team's live events (studio/consumers.py). When a training run finishes, say so
// at the top of the page and refresh the panels (htmx listens for "team-changed" on the body).
(() => {
  const root = document.getElementById("dashboard-panels");
  const notices = document.getElementById("team-notices");
  if (!root || !notices || !root.dataset.eventsPath) return;
  const words = { succeeded: "finished", failed: "failed", cancelled: "was cancelled" };
  let retry = 1000;

  const notify = (payload) => {
    const notice = document.createElement("p");
    notice.className = `flash ${payload.status === "succeeded" ? "success" : "error"}`;
    notice.setAttribute("data-testid", "training-notice");
    const link = document.createElement("a");
    link.href = payload.url;
    link.textContent = `Training run ${payload.run}`;
    notice.append(link, ` of ${payload.product} ${words[payload.status] || payload.status}.`);
    notices.prepend(notice);
  };

  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.eventsPath}`);
    socket.onopen = () => { retry = 1000; };
    socket.onmessage = (message) => {
      const payload = JSON.parse(message.data);
      if (payload.event === "training.finished") notify(payload);
      if (String(payload.event).startsWith("training.")) document.body.dispatchEvent(new Event("team-changed"));
    };
    socket.onclose = () => { setTimeout(connect, retry); retry = Math.min(retry * 2, 30000); };
  };
  connect();
})();
