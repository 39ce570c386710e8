// quiz.js — the take page: a countdown and per-question autosave. The page works without it
// (a plain form); the server alone decides what counts: answers saved after the deadline
// (plus a short grace) are refused, and a late final submit is graded on what was saved in time.
// Loaded with `defer`, after site.js (dx.fetchJSON, dx.message). Plain ES2017.
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function startCountdown(form) {
    var el = document.getElementById("quiz-countdown");
    if (!el) return;
    var deadline = Date.parse(el.getAttribute("data-deadline"));
    if (isNaN(deadline)) return;
    var submitted = false;
    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      el.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
      if (left <= 60) el.className = "quiz-timer-low";
      if (left === 0 && !submitted) {
        submitted = true;
        clearInterval(timer);
        el.textContent = "时间到，正在交卷…";
        form.submit(); // bypasses the confirm handler on purpose
      }
    }
    var timer = setInterval(tick, 1000);
    tick();
  }

  function startAutosave(form) {
    var url = form.getAttribute("data-answer-url");
    var status = document.getElementById("quiz-save-status");
    if (!url || !window.dx) return;
    form.addEventListener("change", function (event) {
      var input = event.target;
      if (!input || !input.name || input.name.charAt(0) !== "q") return;
      var chosen = Array.prototype.filter.call(form.elements[input.name].length !== undefined ?
        form.elements[input.name] : [form.elements[input.name]], function (el) { return el.checked; })
        .map(function (el) { return el.value; });
      if (status) status.textContent = "正在保存…";
      window.dx.fetchJSON(url, { method: "POST", body: { question: input.name, options: chosen } })
        .then(function () { if (status) status.textContent = "答案已自动保存。"; })
        .catch(function (err) {
          if (status) status.textContent = "";
          window.dx.message(err.message, "error");
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("quiz-form");
    if (!form) return;
    startCountdown(form);
    startAutosave(form);
  });
})();
