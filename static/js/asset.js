// Live status of one media asset (templates/media/asset.html): polls the JSON status until it
// settles, keeping every fact on the page (status, progress, duration, sizes, quality tags) current.
// An upload the browser abandoned is polled slowly and not at all once it has expired; when the
// asset is gone (expired upload cleared, or deleted elsewhere) the page says so and stops.
(function () {
  "use strict";
  var section = document.getElementById("asset-status");
  if (!section) return;
  var url = section.dataset.statusUrl;
  var label = document.getElementById("asset-status-label");
  var progress = document.getElementById("asset-progress");
  var progressText = document.getElementById("asset-progress-text");
  var attempts = document.getElementById("asset-attempts");
  var gone = document.getElementById("asset-gone");
  var FAST = 1500, SLOW = 10000;

  // <form data-confirm> is handled by site.js.

  if (section.dataset.settled === "true") return;

  function byId(id) { return document.getElementById(id); }

  function setText(id, value) {
    var element = byId(id);
    if (element) element.textContent = value == null ? "" : value;
  }

  function showRow(id, visible) {
    var row = byId(id);
    if (row) row.hidden = !visible;
  }

  function renderRenditions(list) {
    var box = byId("asset-renditions");
    if (!box) return;
    box.textContent = "";
    (list || []).forEach(function (r) {
      var tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = r.label + (r.width ? " " + r.width + "×" + r.height : "");
      box.appendChild(tag);
    });
    showRow("asset-renditions-row", list && list.length > 0);
  }

  function render(state) {
    label.textContent = state.status_label;
    label.className = "status status-" + state.status +
      (state.status === "uploading" && state.upload && state.upload.stalled ? " status-unfinished" : "");
    setText("asset-failure", state.failure_reason);
    showRow("asset-failure-row", !!state.failure_reason);
    setText("asset-upload", state.upload ? state.upload.note : "");
    showRow("asset-upload-row", !!state.upload);
    setText("asset-duration", state.duration_text);
    setText("asset-size", state.size_text);
    setText("asset-picture", state.picture_text);
    setText("asset-fast-path", state.fast_path ? "（源文件已符合要求，直接封装，未重新编码）" : "");
    setText("asset-output", state.output_size_text);
    showRow("asset-output-row", !!state.output_size_text);
    renderRenditions(state.renditions);
    var job = state.job;
    if (state.upload && typeof state.upload.percent === "number") progress.value = state.upload.percent;
    if (job) {
      progress.value = job.progress;
      if (attempts) {
        attempts.textContent = "第 " + job.attempts + " 次尝试（最多 " + job.max_attempts + " 次）" +
          (job.stale ? "，工作进程无响应，等待重新排队" : "");
      }
      var parts = [];
      if (state.status === "transcoding") parts.push(job.progress + "%");
      if (job.speed) parts.push("（" + job.speed + " 倍速）");
      if (job.stale) parts.push("工作进程无响应，等待重新排队");
      progressText.textContent = parts.join("");
    }
  }

  function showGone() {
    label.textContent = "已不存在";
    label.className = "status status-cancelled";
    gone.textContent = "该媒体已不存在：未完成的上传已过期被自动清除，或已被删除。请回到媒体库重新上传。";
    gone.hidden = false;
    showRow("asset-upload-row", false);
  }

  async function poll() {
    var delay = section.dataset.stalled === "true" ? SLOW : FAST;
    try {
      var response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.status === 404) { showGone(); return; }
      if (response.ok) {
        var state = await response.json();
        render(state);
        if (state.settled) {
          // Finished (ready/failed/cancelled): reload for the player and the right buttons.
          // An expired upload stays as it is: nothing will change until the reaper removes it.
          // An asset that was already playable when the page loaded (phase 2 of a two-phase
          // publish) is not reloaded: that would interrupt the preview player.
          if (state.status !== "uploading" && state.status !== section.dataset.status) window.location.reload();
          return;
        }
        var stalled = !!(state.upload && state.upload.stalled);
        section.dataset.stalled = stalled ? "true" : "false";
        delay = stalled ? SLOW : FAST;
      }
    } catch (e) { /* network blip: keep polling */ }
    setTimeout(poll, delay);
  }
  setTimeout(poll, section.dataset.stalled === "true" ? SLOW : 1000);
})();
