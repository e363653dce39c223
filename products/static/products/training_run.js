// Run page: follow a training run over its websocket (snapshot, then live frames) and update the
// progress and the log. The loss chart is drawn by the server only (products/training/chart.py): a frame
// with new points fires "training-progress" and htmx fetches the chart fragment again. When the run
// finishes, fetch the report fragment. Text from the server is inserted with textContent only.
(() => {
  const root = document.getElementById("training-run");
  if (!root) return;
  let totalSteps = Number(document.getElementById("run-total").textContent) || 0;
  let finished = Boolean(root.dataset.finished);
  let reportLoaded = finished;
  let retry = 1000;

  const $ = (id) => document.getElementById(id);
  const fixed = (value) => (value === null || value === undefined ? "—" : Number(value).toFixed(3));

  const durationWords = (seconds) => {
    const minutes = seconds / 60;
    if (minutes < 1) return "under a minute";
    if (minutes < 1.5) return "about a minute";
    if (minutes < 90) return `about ${Math.round(minutes)} minutes`;
    return `about ${(minutes / 60).toFixed(1)} hours`;
  };

  // The chart fragment's hx-trigger listens for "training-progress". Frames arriving within 250 ms share one
  // fetch, made after the last of them, so the fragment always includes the latest point (none is dropped).
  let chartTimer = null;
  const refreshChart = () => {
    if (chartTimer) return;
    chartTimer = setTimeout(() => {
      chartTimer = null;
      document.body.dispatchEvent(new Event("training-progress"));
    }, 250);
  };

  const addLogs = (logs, replace) => {
    const list = $("run-log");
    if (replace) list.replaceChildren();
    logs.forEach((entry) => {
      const item = document.createElement("li");
      item.className = `log-${entry.level}`;
      const time = document.createElement("time");
      time.className = "muted small";
      time.dateTime = entry.time;
      // UTC, like the times the server renders into the page.
      time.textContent = new Date(entry.time).toLocaleTimeString([], { hour12: false, timeZone: "UTC" });
      item.append(time, ` ${entry.message}`);
      list.appendChild(item);
    });
    while (list.children.length > 50) list.removeChild(list.firstChild);
  };

  const showState = (frame) => {
    const status = $("run-status");
    status.textContent = frame.status_label;
    status.className = `tag status-${frame.status}`;
    totalSteps = frame.total_steps || totalSteps;
    $("run-step").textContent = frame.step;
    $("run-total").textContent = totalSteps;
    const progress = $("run-progress");
    progress.max = totalSteps || 1;
    progress.value = frame.step;
    $("run-train-loss").textContent = fixed(frame.train_loss);
    $("run-validation-loss").textContent = fixed(frame.validation_loss);
    $("run-eta").textContent = frame.eta_seconds != null ? durationWords(frame.eta_seconds)
      : frame.status === "queued" ? "waiting for a worker" : "—";
    $("run-device").textContent = frame.device ? frame.device.toUpperCase() : "—";
    $("run-checkpoint").textContent = frame.checkpoint_step ? `step ${frame.checkpoint_step}` : "none yet";
    $("run-attempts").textContent = frame.attempts;
    const error = $("run-error");
    error.textContent = frame.error || "";
    error.hidden = !frame.error;
    // The "queued" notice of the redirect from the form is stale once a worker has taken the run.
    if (frame.status !== "queued") document.querySelectorAll(".flash.run-queued").forEach((n) => n.remove());
    const cancel = $("cancel-button");
    if (cancel && frame.cancel_requested) { cancel.disabled = true; cancel.textContent = "Stopping…"; }
    if (["succeeded", "failed", "cancelled"].includes(frame.status)) {
      finished = true;
      $("cancel-form")?.remove();
      if (!reportLoaded && window.htmx) {
        reportLoaded = true;
        htmx.ajax("GET", root.dataset.reportUrl, { target: "#run-report", swap: "outerHTML" });
      }
    }
  };

  const onFrame = (frame) => {
    // A snapshot (first frame, or after a reconnect) may carry points this page missed.
    if (frame.event === "snapshot" || (frame.points && frame.points.length)) refreshChart();
    if (frame.logs) addLogs(frame.logs, frame.event === "snapshot");
    if (frame.status) showState(frame);
  };

  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.wsPath}`);
    socket.onopen = () => { retry = 1000; };
    socket.onmessage = (message) => onFrame(JSON.parse(message.data));
    socket.onclose = () => {
      if (finished) return;
      setTimeout(connect, retry); // the snapshot on reconnect fills in whatever was missed
      retry = Math.min(retry * 2, 15000);
    };
  };
  connect();
})();
