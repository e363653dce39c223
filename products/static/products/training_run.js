// Run page: follow a training run over its websocket (snapshot, then live frames) and redraw the
// progress, the loss chart (same scale as products/training/chart.py) and the log. When the run
// finishes, fetch the report fragment. Text from the server is inserted with textContent only.
(() => {
  const root = document.getElementById("training-run");
  if (!root) return;
  const WIDTH = 640, HEIGHT = 240, PAD = 36;
  const points = new Map(); // "split:step" -> {split, step, loss}
  JSON.parse(document.getElementById("run-points").textContent).forEach((p) => points.set(`${p.split}:${p.step}`, p));
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

  const drawChart = () => {
    const all = [...points.values()].sort((a, b) => a.step - b.step);
    $("chart-empty").hidden = all.length > 0;
    if (!all.length) return;
    let low = Math.min(...all.map((p) => p.loss)), high = Math.max(...all.map((p) => p.loss));
    if (high - low < 1e-9) { low -= 0.5; high += 0.5; }
    const xMax = Math.max(totalSteps, ...all.map((p) => p.step), 1);
    const xy = (p) => {
      const x = PAD + (WIDTH - 2 * PAD) * p.step / xMax;
      const y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (p.loss - low) / (high - low);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    };
    $("chart-train").setAttribute("points", all.filter((p) => p.split === "train").map(xy).join(" "));
    $("chart-validation").setAttribute("points", all.filter((p) => p.split === "validation").map(xy).join(" "));
    $("chart-y-max").textContent = high.toFixed(2);
    $("chart-y-min").textContent = low.toFixed(2);
    $("chart-x-max").textContent = `step ${xMax}`;
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
    if (frame.event === "snapshot") points.clear();
    (frame.points || []).forEach((p) => points.set(`${p.split}:${p.step}`, p));
    if (frame.event === "snapshot" || frame.points) drawChart();
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
