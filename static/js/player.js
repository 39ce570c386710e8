// Media player: hls.js (from npm) where Media Source Extensions exist, the browser's own
// HLS otherwise (Safari, set-top boxes), and the MP4/M4A file as the last resort.
(function () {
  "use strict";
  var video = document.querySelector("video[data-hls]");
  if (!video) return;
  var hlsUrl = video.dataset.hls;
  var fallbackUrl = video.dataset.fallback;

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

  if (window.Hls && window.Hls.isSupported()) {
    var hls = new window.Hls({ capLevelToPlayerSize: true });
    video.dataset.engine = "hls.js";
    hls.on(window.Hls.Events.ERROR, function (event, data) {
      if (!data.fatal) return;
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
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.dataset.engine = "native";
    video.addEventListener("error", function () { useFallback("native HLS error"); }, { once: true });
    video.src = hlsUrl;
    start();
  } else {
    useFallback("");
  }
})();
