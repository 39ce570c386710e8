// watch.js — the lesson player's side of the watch API (templates/school/_player.html).
// ES5 for old phones, no framework. The server decides what counts; this file only tells it
// honestly what was played:
//   - first play → POST data-watch-url (a watch session), then seek to resume_at;
//   - what was played = video.played (the browser's own TimeRanges) minus what the server has
//     already acknowledged, clipped to the lesson's duration; seeks play nothing, so they add
//     nothing; a failed report is simply included again in the next one;
//   - reports every 15 s while playing and on pause / ended / tab hidden / page hide (keepalive);
//   - 409 session_superseded → "已在其他窗口或设备继续播放", reporting stops (在此继续学习 takes over);
//   - speeds 0.75–2× (faster rates are brought back to the maximum);
//   - optional attention check: after N minutes without interaction the video pauses and asks
//     仍在学习吗？ (paused time plays nothing, so it is not reported).
(function () {
  "use strict";
  var video = document.getElementById("lesson-player");
  if (!video || !window.fetch) return;

  var REPORT_MS = 15000;
  var MIN_PIECE = 0.05;
  var duration = parseFloat(video.getAttribute("data-duration")) || 0;
  var maxRate = parseFloat(video.getAttribute("data-max-rate")) || 2;
  var attentionMs = (parseFloat(video.getAttribute("data-attention-minutes")) || 0) * 60000;
  var bar = document.getElementById("lesson-progress");
  var barText = document.getElementById("lesson-progress-text");
  var statusBox = document.getElementById("lesson-player-status");
  var statusText = document.getElementById("lesson-player-status-text");
  var takeover = document.getElementById("lesson-player-takeover");
  var dialog = document.getElementById("lesson-attention");
  var dialogButton = document.getElementById("lesson-attention-continue");

  var token = null;       // the watch session
  var starting = false;   // a POST …/watch is on its way
  var stopped = false;    // superseded or refused: no more reports
  var sending = false;    // a report is on its way
  var acked = [];         // union of intervals the server has answered for
  var lastInteraction = Date.now();

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function request(method, url, body, keepalive) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() }
    };
    if (body !== undefined) options.body = JSON.stringify(body);
    if (keepalive) options.keepalive = true;
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, data: data || {} };
      });
    });
  }

  function say(text, offerTakeover) {
    statusText.textContent = text;
    statusBox.hidden = !text;
    takeover.hidden = !offerTakeover;
  }

  function showProgress(data) {
    if (!data || typeof data.played !== "number") return;
    var total = data.duration || duration;
    var percent = total > 0 ? Math.min(100, Math.floor((data.played / total) * 100)) : 0;
    bar.value = data.complete ? 100 : percent;
    bar.textContent = percent + "%";
    barText.textContent = data.complete ? "已完成" : "已学 " + percent + "%";
    if (data.complete && bar.parentNode.classList) bar.parentNode.classList.add("is-complete");
  }

  // --- what was played ------------------------------------------------------------------------

  function merge(list) {
    list.sort(function (a, b) { return a[0] - b[0]; });
    var out = [];
    for (var i = 0; i < list.length; i++) {
      var last = out[out.length - 1];
      if (last && list[i][0] <= last[1]) last[1] = Math.max(last[1], list[i][1]);
      else out.push([list[i][0], list[i][1]]);
    }
    return out;
  }

  function unreported() {
    var ranges = video.played, pieces = [];
    for (var i = 0; i < ranges.length; i++) {
      var start = Math.max(0, ranges.start(i)), end = duration > 0 ? Math.min(ranges.end(i), duration) : ranges.end(i);
      for (var j = 0; j < acked.length && start < end; j++) {
        if (acked[j][1] <= start) continue;
        if (acked[j][0] >= end) break;
        if (acked[j][0] > start) pieces.push([start, acked[j][0]]);
        start = Math.max(start, acked[j][1]);
      }
      if (start < end) pieces.push([start, end]);
    }
    var out = [];
    for (var k = 0; k < pieces.length && out.length < 200; k++) {
      if (pieces[k][1] - pieces[k][0] >= MIN_PIECE) {
        out.push([Math.round(pieces[k][0] * 1000) / 1000, Math.round(pieces[k][1] * 1000) / 1000]);
      }
    }
    return out;
  }

  function currentRate() {
    var rate = video.playbackRate || 1;
    return Math.min(Math.max(rate, 0.1), maxRate);
  }

  function position() {
    var at = video.currentTime || 0;
    return duration > 0 ? Math.min(at, duration) : at;
  }

  // --- the session and reports ----------------------------------------------------------------

  function refused(result) {
    var error = result.data && result.data.error;
    if (result.status === 409) {
      stopped = true;
      video.pause();
      say("已在其他窗口或设备继续播放，本页的学习进度暂停记录。", true);
    } else if (result.status === 401) {
      stopped = true;
      say("登录已过期，请重新登录后继续学习。", false);
    } else if (result.status === 429 || result.status >= 500) {
      return; // transient: the next report carries the same intervals again
    } else {
      stopped = true;
      say(error && error.message ? error.message : "学习进度无法记录，请刷新页面后重试。", false);
    }
  }

  function start() {
    if (token || starting) return;
    starting = true;
    request("POST", video.getAttribute("data-watch-url"), {}).then(function (result) {
      starting = false;
      if (result.status !== 201) { refused(result); return; }
      token = result.data.session;
      stopped = false;
      say("", false);
      showProgress(result.data);
      if (result.data.resume_at > 0 && (video.currentTime || 0) < 1) video.currentTime = result.data.resume_at;
    }, function () {
      starting = false; // offline: the next play tries again
    });
  }

  function report(keepalive) {
    if (!token || stopped || (sending && !keepalive)) return;
    var intervals = unreported();
    if (!intervals.length) return;
    var body = { intervals: intervals, rate: currentRate(), position: position() };
    sending = true;
    request("POST", video.getAttribute("data-report-base") + encodeURIComponent(token), body, keepalive).then(function (result) {
      sending = false;
      if (result.status === 200) {
        acked = merge(acked.concat(intervals));
        showProgress({ played: result.data.played, complete: result.data.complete, duration: duration });
      } else {
        refused(result);
      }
    }, function () {
      sending = false; // network hiccup: nothing acknowledged, sent again next time
    });
  }

  // --- events ---------------------------------------------------------------------------------

  video.addEventListener("play", function () {
    if (!token) start();
    else if (stopped) say("已在其他窗口或设备继续播放，本页的学习进度暂停记录。", true);
  });
  video.addEventListener("pause", function () { report(false); });
  video.addEventListener("ended", function () { report(false); });
  video.addEventListener("ratechange", function () {
    if (video.playbackRate > maxRate) video.playbackRate = maxRate;
    var buttons = document.querySelectorAll(".lp-speed");
    for (var i = 0; i < buttons.length; i++) {
      var pressed = Math.abs(parseFloat(buttons[i].getAttribute("data-rate")) - video.playbackRate) < 0.01;
      buttons[i].setAttribute("aria-pressed", pressed ? "true" : "false");
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") report(true);
  });
  window.addEventListener("pagehide", function () { report(true); });
  window.setInterval(function () {
    if (!video.paused) report(false);
    checkAttention();
  }, REPORT_MS);

  var speeds = document.querySelectorAll(".lp-speed");
  for (var s = 0; s < speeds.length; s++) {
    speeds[s].addEventListener("click", function (event) {
      video.playbackRate = parseFloat(event.currentTarget.getAttribute("data-rate")) || 1;
    });
  }

  takeover.addEventListener("click", function () {
    token = null;
    stopped = false;
    say("", false);
    start();
    var played = video.play();
    if (played && played.catch) played.catch(function () {});
  });

  // --- attention check ------------------------------------------------------------------------

  function touched() { lastInteraction = Date.now(); }

  function checkAttention() {
    if (!attentionMs || video.paused || !dialog.hidden) return;
    if (Date.now() - lastInteraction < attentionMs) return;
    video.pause();
    dialog.hidden = false;
    dialogButton.focus();
  }

  function resume() {
    dialog.hidden = true;
    touched();
    var played = video.play();
    if (played && played.catch) played.catch(function () {});
    video.focus();
  }

  if (attentionMs) {
    var kinds = ["pointerdown", "keydown", "touchstart", "mousemove", "wheel", "scroll"];
    for (var k = 0; k < kinds.length; k++) document.addEventListener(kinds[k], touched, { passive: true });
    video.addEventListener("seeked", touched);
    video.addEventListener("volumechange", touched);
    dialogButton.addEventListener("click", resume);
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") resume();
      if (event.key === "Tab") { event.preventDefault(); dialogButton.focus(); } // keep focus inside
    });
  }

  // The bar shows what the server has credited so far, before anyone presses play.
  request("GET", video.getAttribute("data-progress-url")).then(function (result) {
    if (result.status === 200) showProgress(result.data);
  }, function () {});
})();
