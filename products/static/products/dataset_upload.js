/* Drag and drop plus an upload progress bar on top of the plain form, which works without this. */
(() => {
  const zoneOf = (event) => event.target.closest && event.target.closest(".dropzone");
  const mb = (bytes) => `${(bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0)} MB`;
  const show = (input) => {
    const file = input.files[0];
    input.closest("form").querySelector("[data-file-name]").textContent = file ? `${file.name} · ${mb(file.size)}` : "";
  };
  document.addEventListener("dragover", (event) => {
    const zone = zoneOf(event);
    if (zone) { event.preventDefault(); zone.classList.add("dragging"); }
  });
  document.addEventListener("dragleave", (event) => { const zone = zoneOf(event); if (zone) zone.classList.remove("dragging"); });
  document.addEventListener("drop", (event) => {
    const zone = zoneOf(event);
    if (!zone || !event.dataTransfer.files.length) return;
    event.preventDefault();
    zone.classList.remove("dragging");
    const input = zone.querySelector("input[type=file]");
    input.files = event.dataTransfer.files;
    show(input);
  });
  document.addEventListener("change", (event) => { if (event.target.matches("#upload-form input[type=file]")) show(event.target); });
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id !== "upload-form" || !window.FormData) return;
    event.preventDefault();
    const status = form.querySelector("[data-status]");
    const bar = form.querySelector("[data-progress]");
    const button = form.querySelector("button[type=submit]");
    const file = form.querySelector("input[type=file]").files[0];
    if (file && file.size > Number(form.dataset.maxBytes)) {
      status.textContent = `This file is ${mb(file.size)}; the limit is ${form.dataset.maxLabel}. Split it into smaller files, or ask whoever runs the studio to raise STUDIO_MAX_UPLOAD_MB.`;
      return;
    }
    const fail = (message) => { status.textContent = message; button.disabled = false; bar.hidden = true; };
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("HX-Request", "true");
    xhr.upload.addEventListener("progress", (p) => {
      if (!p.lengthComputable) return;
      bar.value = Math.round((100 * p.loaded) / p.total);
      status.textContent = `Uploading… ${bar.value} %`;
    });
    xhr.upload.addEventListener("load", () => { status.textContent = "Uploaded. Checking every row…"; });
    xhr.addEventListener("load", () => {
      const next = xhr.getResponseHeader("HX-Redirect");
      if (next) { window.location.assign(next); return; }
      if (xhr.status >= 500 || !xhr.responseText) { fail("Something went wrong on our side. Try again in a moment."); return; }
      document.getElementById("upload-panel").outerHTML = xhr.responseText;
    });
    xhr.addEventListener("error", () => fail("The upload was interrupted. Check your connection and try again."));
    bar.hidden = false;
    button.disabled = true;
    status.textContent = "Uploading…";
    xhr.send(new FormData(form));
  });
})();
