// The 10-foot pages (templates/tv/) driven by a set-top box remote: arrow keys move the focus,
// OK (Enter) opens, Back returns. ES5 ONLY — the boxes run old WebKit builds and there is no
// build step: var and function, XMLHttpRequest, no let/const/arrows/template strings/classes/
// fetch/Promise (tests/tv/test_ui.py parses this file with an ES5 parser).
//
// Navigation is by structure, not by pixels: [data-nav-row] elements hold [data-nav-item]s;
// left/right move within a row, up/down go to the neighbouring row (to the item last focused
// there, else the one nearest horizontally). A course list is one row per lesson.
//
// The player (video#tv-video): MP4 first (every box plays it), the browser's own HLS next,
// hls.js only where Media Source Extensions exist and neither works. It resumes at the
// position the server rendered (the station's last play), and reports plays to the play
// API: seconds actually played (sums of timeupdate steps of at most 2 s, so seeking adds
// nothing) and the position, every 30 s and on pause, end and Back.
(function () {
  "use strict";

  var LEFT = 37;
  var UP = 38;
  var RIGHT = 39;
  var DOWN = 40;
  var ENTER = 13;
  // Backspace, Escape, LG webOS Back, Samsung Tizen Back, the BrowserBack key of some remotes.
  var BACK_KEYS = [8, 27, 461, 10009, 166];
  var SEEK_STEP = 30;
  var REPORT_EVERY_MS = 30000;
  var MAX_STEP = 2;
  var OSD_HIDE_MS = 5000;

  var body = document.body;
  var player = null; // set when this page has the video

  function toArray(list) {
    var out = [];
    for (var i = 0; i < list.length; i++) out.push(list[i]);
    return out;
  }

  function isBackKey(code) {
    for (var i = 0; i < BACK_KEYS.length; i++) {
      if (BACK_KEYS[i] === code) return true;
    }
    return false;
  }

  function goBack() {
    var back = body.getAttribute("data-back");
    if (back) {
      window.location.href = back;
      return true;
    }
    if (window.history.length > 1) {
      window.history.back();
      return true;
    }
    return false; // the start page: let the box handle Back (it usually leaves the app)
  }

  // ---- spatial navigation ------------------------------------------------------------

  var remembered = [];

  function rows() {
    var all = toArray(document.querySelectorAll("[data-nav-row]"));
    var out = [];
    for (var i = 0; i < all.length; i++) {
      if (items(all[i]).length) out.push(all[i]);
    }
    return out;
  }

  function items(row) {
    return toArray(row.querySelectorAll("[data-nav-item]"));
  }

  function locate(el, allRows) {
    for (var r = 0; r < allRows.length; r++) {
      var list = items(allRows[r]);
      for (var c = 0; c < list.length; c++) {
        if (list[c] === el) return { row: r, col: c };
      }
    }
    return null;
  }

  function centerX(el) {
    var rect = el.getBoundingClientRect();
    return rect.left + rect.width / 2;
  }

  function reveal(el, row) {
    // Horizontal: scroll the row's strip so the whole card shows (strips hide their overflow).
    if (row.scrollWidth > row.clientWidth) {
      var left = el.offsetLeft - row.offsetLeft;
      var pad = 24;
      if (left - pad < row.scrollLeft) {
        row.scrollLeft = Math.max(0, left - pad);
      } else if (left + el.offsetWidth + pad > row.scrollLeft + row.clientWidth) {
        row.scrollLeft = left + el.offsetWidth + pad - row.clientWidth;
      }
    }
    // Vertical: keep the row with its heading on screen, above the key hints.
    var box = (row.parentNode && row.parentNode.getBoundingClientRect()) || row.getBoundingClientRect();
    var rect = el.getBoundingClientRect();
    var bottom = window.innerHeight - 90;
    if (box.top < 0 || rect.top < 0) {
      window.scrollBy(0, Math.min(box.top, rect.top) - 24);
    } else if (rect.bottom > bottom) {
      window.scrollBy(0, rect.bottom - bottom + 24);
    }
  }

  function focusAt(allRows, r, c) {
    var list = items(allRows[r]);
    if (!list.length) return;
    c = Math.max(0, Math.min(c, list.length - 1));
    remembered[r] = c;
    list[c].focus();
    reveal(list[c], allRows[r]);
  }

  function nearestIndex(list, x) {
    var best = 0;
    var bestDistance = Infinity;
    for (var i = 0; i < list.length; i++) {
      var distance = Math.abs(centerX(list[i]) - x);
      if (distance < bestDistance) {
        best = i;
        bestDistance = distance;
      }
    }
    return best;
  }

  function startFocus() {
    var allRows = rows();
    if (!allRows.length) return;
    var start = document.querySelector("[data-nav-start]");
    var at = start ? locate(start, allRows) : null;
    if (at) focusAt(allRows, at.row, at.col);
    else focusAt(allRows, 0, 0);
  }

  function move(code) {
    var allRows = rows();
    if (!allRows.length) return;
    var at = locate(document.activeElement, allRows);
    if (!at) {
      startFocus();
      return;
    }
    if (code === LEFT || code === RIGHT) {
      var next = at.col + (code === RIGHT ? 1 : -1);
      if (next >= 0 && next < items(allRows[at.row]).length) focusAt(allRows, at.row, next);
      return;
    }
    var target = at.row + (code === DOWN ? 1 : -1);
    if (target < 0 || target >= allRows.length) return;
    var list = items(allRows[target]);
    var col = remembered[target];
    if (col === undefined || col >= list.length) col = nearestIndex(list, centerX(document.activeElement));
    focusAt(allRows, target, col);
  }

  function activate() {
    var el = document.activeElement;
    if (el && el.getAttribute && el.getAttribute("href")) {
      window.location.href = el.href;
      return true;
    }
    if (el && el.click && el.hasAttribute && el.hasAttribute("data-nav-item")) {
      el.click();
      return true;
    }
    return false;
  }

  // ---- play reports --------------------------------------------------------------------

  function postJSON(url, data, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url, true);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("Accept", "application/json");
    var key = body.getAttribute("data-key");
    if (key) xhr.setRequestHeader("X-Device-Key", key);
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      var answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch (ignored) {
        answer = null;
      }
      if (done) done(xhr.status, answer);
    };
    xhr.send(JSON.stringify(data));
  }

  function Reporter(video) {
    this.video = video;
    this.lessonId = parseInt(video.getAttribute("data-lesson-id"), 10);
    this.startUrl = video.getAttribute("data-plays-url");
    this.reportBase = video.getAttribute("data-report-base");
    this.token = null;
    this.starting = false;
    this.waiting = []; // callbacks queued while the play is being started
    this.watched = 0;
    this.last = null;
    this.sent = -1;
  }

  Reporter.prototype.step = function () {
    // Only small forward steps count: a seek (or a stall) is not watching.
    var now = this.video.currentTime;
    if (this.last !== null) {
      var delta = now - this.last;
      if (delta > 0 && delta <= MAX_STEP) this.watched += delta;
    }
    this.last = now;
  };

  Reporter.prototype.start = function () {
    var self = this;
    if (this.token || this.starting) return;
    this.starting = true;
    postJSON(this.startUrl, { lesson_id: this.lessonId }, function (status, answer) {
      self.starting = false;
      if (status === 201 && answer && answer.play) self.token = answer.play.token;
      var queued = self.waiting;
      self.waiting = [];
      for (var i = 0; i < queued.length; i++) self.report(queued[i]);
    });
  };

  Reporter.prototype.report = function (done) {
    var self = this;
    if (this.starting) {
      this.waiting.push(done || null);
      return;
    }
    var seconds = Math.round(this.watched * 10) / 10;
    var position = Math.round(this.video.currentTime * 10) / 10;
    if (!this.token || (seconds === this.sent && !done)) {
      if (done) done();
      return;
    }
    this.sent = seconds;
    postJSON(this.reportBase + encodeURIComponent(this.token), { seconds: seconds, position: position }, function () {
      if (done) done();
    });
  };

  // ---- the player ----------------------------------------------------------------------

  function formatClock(seconds) {
    var total = Math.max(0, Math.floor(seconds || 0));
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    var mm = (hours && minutes < 10 ? "0" : "") + minutes;
    return (hours ? hours + ":" : "") + mm + ":" + (secs < 10 ? "0" : "") + secs;
  }

  function Player(video) {
    var self = this;
    this.video = video;
    this.reporter = new Reporter(video);
    this.resume = parseFloat(video.getAttribute("data-resume")) || 0;
    this.duration = parseFloat(video.getAttribute("data-duration")) || 0;
    this.next = video.getAttribute("data-next");
    this.osd = document.getElementById("tv-osd");
    this.state = document.getElementById("tv-state");
    this.time = document.getElementById("tv-time");
    this.fill = document.getElementById("tv-bar-fill");
    this.leaving = false;
    this.retried = false;
    this.hideTimer = null;

    video.addEventListener("loadedmetadata", function () {
      if (video.duration && isFinite(video.duration)) self.duration = video.duration;
      if (self.resume > 0 && self.resume < self.duration - 1) video.currentTime = self.resume;
      self.resume = 0;
      self.reporter.last = null;
    });
    video.addEventListener("timeupdate", function () {
      self.reporter.step();
      self.paint();
    });
    video.addEventListener("seeking", function () {
      self.reporter.last = null;
    });
    video.addEventListener("playing", function () {
      self.reporter.start();
      self.say("正在播放");
      self.showOsd();
    });
    video.addEventListener("waiting", function () {
      self.say("正在缓冲…");
    });
    video.addEventListener("pause", function () {
      if (self.leaving || video.ended) return;
      self.say("已暂停");
      self.showOsd(true);
      self.reporter.report();
    });
    video.addEventListener("ended", function () {
      self.say(self.next ? "本讲已播完，按 OK 看下一讲" : "本讲已播完");
      self.showOsd(true);
      self.reporter.report();
    });
    video.addEventListener("error", function () {
      self.failed();
    });
    video.addEventListener("click", function () {
      self.toggle();
    });
    window.setInterval(function () {
      if (!video.paused) self.reporter.report();
    }, REPORT_EVERY_MS);
    this.load();
  }

  Player.prototype.say = function (text) {
    if (this.state) this.state.textContent = text;
  };

  Player.prototype.paint = function () {
    var now = this.video.currentTime;
    if (this.time) this.time.textContent = formatClock(now) + " / " + formatClock(this.duration);
    if (this.fill && this.duration) this.fill.style.width = Math.min(100, (now / this.duration) * 100) + "%";
  };

  Player.prototype.showOsd = function (stay) {
    var self = this;
    if (!this.osd) return;
    this.osd.className = "tv-osd";
    if (this.hideTimer) window.clearTimeout(this.hideTimer);
    this.hideTimer = null;
    if (stay) return;
    this.hideTimer = window.setTimeout(function () {
      if (!self.video.paused) self.osd.className = "tv-osd tv-osd-hidden";
    }, OSD_HIDE_MS);
  };

  Player.prototype.engine = function (name) {
    this.video.setAttribute("data-engine", name);
  };

  Player.prototype.load = function () {
    var video = this.video;
    var self = this;
    var mp4 = video.getAttribute("data-mp4");
    var hls = video.getAttribute("data-hls");
    var script = video.getAttribute("data-hls-script");
    if (!video.canPlayType || video.canPlayType("video/mp4")) {
      this.engine("mp4");
      this.play(mp4);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      this.engine("native-hls");
      this.play(hls);
    } else if ((window.MediaSource || window.WebKitMediaSource) && script) {
      this.engine("pending");
      var tag = document.createElement("script");
      tag.src = script;
      tag.onload = function () {
        if (window.Hls && window.Hls.isSupported()) self.startHlsJs(hls);
        else self.fallback(mp4);
      };
      tag.onerror = function () {
        self.fallback(mp4);
      };
      document.getElementsByTagName("head")[0].appendChild(tag);
    } else {
      this.fallback(mp4);
    }
  };

  Player.prototype.fallback = function (mp4) {
    this.engine("mp4");
    this.play(mp4);
  };

  Player.prototype.startHlsJs = function (url) {
    var self = this;
    var hls = new window.Hls();
    this.engine("hls.js");
    hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
      self.start();
    });
    hls.on(window.Hls.Events.ERROR, function (event, data) {
      if (data && data.fatal) {
        hls.destroy();
        self.fallback(self.video.getAttribute("data-mp4"));
      }
    });
    hls.loadSource(url);
    hls.attachMedia(this.video);
  };

  Player.prototype.play = function (url) {
    this.video.src = url;
    this.start();
  };

  Player.prototype.start = function () {
    var self = this;
    var played = this.video.play();
    if (played && typeof played["catch"] === "function") {
      played["catch"](function () {
        self.say("按 OK 键开始播放");
        self.showOsd(true);
      });
    }
  };

  Player.prototype.failed = function () {
    // The stable play URL redirects to a freshly granted file: one retry covers an expired grant.
    var video = this.video;
    if (!this.retried && video.getAttribute("data-engine") === "mp4") {
      this.retried = true;
      this.resume = video.currentTime || this.resume;
      this.play(video.getAttribute("data-mp4"));
      return;
    }
    this.say("无法播放，请按返回键后重试");
    this.showOsd(true);
  };

  Player.prototype.toggle = function () {
    var video = this.video;
    if (video.ended && this.next) {
      this.leave(this.next);
      return;
    }
    if (video.paused) this.start();
    else video.pause();
  };

  Player.prototype.seek = function (step) {
    var video = this.video;
    var end = (video.duration && isFinite(video.duration) ? video.duration : this.duration) || 0;
    var target = Math.max(0, Math.min(video.currentTime + step, Math.max(0, end - 1)));
    video.currentTime = target;
    this.say(step > 0 ? "快进 30 秒" : "快退 30 秒");
    this.showOsd();
  };

  Player.prototype.leave = function (url) {
    // Stop, report what was watched, then go: the report must land before the page unloads.
    var gone = false;
    function go() {
      if (gone) return;
      gone = true;
      if (url) window.location.href = url;
      else goBack();
    }
    if (this.leaving) return;
    this.leaving = true;
    this.video.pause();
    this.say("正在保存播放记录…");
    this.reporter.report(go);
    window.setTimeout(go, 2500);
  };

  Player.prototype.key = function (code) {
    this.showOsd(this.video.paused);
    if (code === ENTER) this.toggle();
    else if (code === LEFT) this.seek(-SEEK_STEP);
    else if (code === RIGHT) this.seek(SEEK_STEP);
    else if (isBackKey(code)) this.leave(null);
    else return false;
    return true;
  };

  // ---- keys ---------------------------------------------------------------------------

  document.addEventListener(
    "keydown",
    function (event) {
      var code = event.keyCode || event.which;
      var handled = false;
      if (player) {
        handled = player.key(code);
      } else if (code === LEFT || code === RIGHT || code === UP || code === DOWN) {
        move(code);
        handled = true;
      } else if (code === ENTER) {
        handled = activate();
      } else if (isBackKey(code)) {
        handled = goBack();
      }
      if (handled && event.preventDefault) event.preventDefault();
    },
    false
  );

  // A mouse still works: pointing at an item focuses it, so keys go on from there.
  document.addEventListener(
    "mouseover",
    function (event) {
      var el = event.target;
      while (el && el !== body) {
        if (el.hasAttribute && el.hasAttribute("data-nav-item")) {
          if (document.activeElement !== el) el.focus();
          return;
        }
        el = el.parentNode;
      }
    },
    false
  );

  var video = document.getElementById("tv-video");
  if (video) {
    player = new Player(video);
    window.tvPlayer = player; // for the browser test and for debugging on a box
  } else {
    startFocus();
  }
})();
