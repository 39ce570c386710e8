// Media player: hls.js (from npm) where Media Source Extensions exist, the browser's own
// HLS otherwise (Safari, set-top boxes), and the MP4/M4A file as the last resort.
// Contract for pages and scripts built on it: <video data-hls="…" data-fallback="…">; the
// engine in use is in video.dataset.engine. The URLs carry an expiring grant (media/grants.py):
// once it has expired the server answers 403 and the player says to reload the page (which
// issues a new grant) instead of trying the fallback, which would be refused too.
//
// Pages that must stay light (lessons, on slow village lines) do not include hls.js: they
// name it in data-hls-script, and it is fetched only when the member presses play and the
// browser needs it (Media Source Extensions without native HLS). The page itself stays far
// under its weight budget; the ~390 KB player arrives with the video it is needed for.
(function () {
  "use strict";
  var video = document.querySelector("video[data-hls]");
  if (!video) return;
  var hlsUrl = video.dataset.hls;
  var fallbackUrl = video.dataset.fallback;

  function showRefused() {
    video.dataset.error = "grant";
    if (video.nextElementSibling && video.nextElementSibling.dataset.playerError) return;
    var notice = document.createElement("p");
    notice.className = "notice error-text";
    notice.setAttribute("role", "alert");
    notice.dataset.playerError = "grant";
    notice.textContent = "播放地址已失效（授权已过期），请刷新页面后重新播放。";
    video.insertAdjacentElement("afterend", notice);
  }

  function useFallback(reason) {
    if (video.dataset.engine === "file") return;
    video.dataset.engine = "file";
    if (reason) video.dataset.fallbackReason = reason;
    video.src = fallbackUrl;
    start();
  }

  function start() {
    if (video.autoplay) {
      var played = video.play();
      if (played && played.catch) played.catch(function () { /* autoplay refused: the user presses play */ });
    }
  }

  function startHls() {
    var hls = new window.Hls({ capLevelToPlayerSize: true });
    video.dataset.engine = "hls.js";
    hls.on(window.Hls.Events.ERROR, function (event, data) {
      if (!data.fatal) return;
      if (data.response && data.response.code === 403) {
        hls.destroy();
        showRefused();
        return;
      }
      if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR && !video.dataset.recovered) {
        video.dataset.recovered = "1";
        hls.recoverMediaError();
        return;
      }
      hls.destroy();
      useFallback("hls.js: " + data.details);
    });
    hls.on(window.Hls.Events.MANIFEST_PARSED, start);
    hls.loadSource(hlsUrl);
    hls.attachMedia(video);
  }

  function loadHlsOnPlay(src) {
    video.dataset.engine = "pending";
    var requested = false;
    function load() {
      if (requested) return;
      requested = true;
      video.removeEventListener("play", load);
      var script = document.createElement("script");
      script.src = src;
      script.onload = function () {
        if (window.Hls && window.Hls.isSupported()) {
          video.autoplay = true; // the member already pressed play
          startHls();
        } else {
          useFallback("hls.js unsupported");
        }
      };
      script.onerror = function () { useFallback("hls.js did not load"); };
      document.head.appendChild(script);
    }
    // A video without a source shows no usable controls everywhere, so a plain button starts it.
    var button = document.createElement("button");
    button.type = "button";
    button.className = "player-start primary";
    button.textContent = "▶ 播放";
    button.setAttribute("aria-label", "播放视频");
    button.addEventListener("click", function () {
      button.hidden = true;
      load();
      video.focus();
    });
    video.insertAdjacentElement("afterend", button);
    video.addEventListener("play", function () { button.hidden = true; load(); });
  }

  var lazyScript = video.dataset.hlsScript;
  var mse = window.MediaSource || window.ManagedMediaSource;
  if (window.Hls && window.Hls.isSupported()) {
    startHls();
  } else if (lazyScript && mse && !video.canPlayType("application/vnd.apple.mpegurl")) {
    loadHlsOnPlay(lazyScript);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.dataset.engine = "native";
    video.addEventListener("error", function () { useFallback("native HLS error"); }, { once: true });
    video.src = hlsUrl;
    start();
  } else {
    useFallback("");
  }
})();
