// Live status of one media asset: polls the JSON status every 1.5 s until it settles.
(function () {
  "use strict";
  var section = document.getElementById("asset-status");
  if (!section) return;
  var url = section.dataset.statusUrl;
  var label = document.getElementById("asset-status-label");
  var progress = document.getElementById("asset-progress");
  var progressText = document.getElementById("asset-progress-text");
  var failure = document.getElementById("asset-failure");
  var attempts = document.getElementById("asset-attempts");
  var terminal = { ready: true, failed: true, cancelled: true };

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  if (section.dataset.terminal === "true") return;

  function render(state) {
    label.textContent = state.status_label;
    label.className = "status status-" + state.status;
    failure.textContent = state.failure_reason || "—";
    var job = state.job;
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

  async function poll() {
    try {
      var response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        var state = await response.json();
        render(state);
        if (terminal[state.status]) { window.location.reload(); return; }
      }
    } catch (e) { /* network blip: keep polling */ }
    setTimeout(poll, 1500);
  }
  setTimeout(poll, 1000);
})();
