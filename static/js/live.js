// live.js — one live Q&A session in real time: the audience page, the host console, the projector.
// Plain ES2017, no framework. The page is server-rendered from the same snapshot "join" returns
// (<script type="application/json" id="live-boot">, with its seq); this script joins the
// session's Socket.IO room ("/live") asking for what happened after that seq, then applies each
// "live_event" once (events carry a per-session seq: anything not newer than the last one seen
// is ignored, so a replayed or duplicated event changes nothing). On every reconnect it asks
// "resync" for the events after the last seq, so a dropped connection loses nothing.
// Questions are plain text: always set with textContent. ?transport=polling forces long-polling.
(function () {
  "use strict";

  var bootNode = document.getElementById("live-boot");
  if (!bootNode || typeof window.io !== "function") { return; }
  var boot = JSON.parse(bootNode.textContent);
  var role = boot.role;  // "audience" | "host" | "screen"
  var sid = boot.session_id;
  var OPEN = { approved: true, answered: true };
  var STATUS_TAGS = { pending: "待审核", answered: "已回答" };
  var ACK_TIMEOUT = 10000;

  var model = { questions: {}, highlighted: null, status: "", seq: 0, isHost: false };
  var sort = "hot";
  var synced = false;    // the first join has been answered
  var syncing = false;   // a join/resync is on its way: live events wait until it is answered
  var waiting = [];
  var everConnected = false;
  var rejoinNeeded = false;  // an "access" event was applied: ask for a fresh snapshot

  function load(snapshot) {
    var mine = role === "audience" ? mineIds() : {};
    model.questions = {};
    (snapshot.questions || []).forEach(function (q) {
      if (mine[q.id]) { q.mine = true; }
      model.questions[q.id] = q;
    });
    model.highlighted = snapshot.highlighted_id || null;
    model.status = snapshot.status || model.status;
    model.seq = snapshot.seq || 0;
    model.isHost = !!snapshot.is_host;
  }

  function mineIds() {
    var ids = {};
    Object.keys(model.questions).forEach(function (id) { if (model.questions[id].mine) { ids[id] = true; } });
    return ids;
  }

  // --- applying events -----------------------------------------------------------------------

  function upsert(q) {
    var old = model.questions[q.id];
    // Events carry no viewer fields ("mine", "voted"): keep what this page knows. A pending or
    // dismissed question reaches a non-host only when it is their own.
    q.voted = q.voted === undefined ? !!(old && old.voted) : q.voted;
    q.mine = q.mine || !!(old && old.mine) || (!model.isHost && !OPEN[q.status]);
    model.questions[q.id] = q;
  }

  /** Apply one event payload; false when it is not newer than what this page has. */
  function apply(event) {
    if (!event || typeof event.seq !== "number" || event.seq <= model.seq) { return false; }
    model.seq = event.seq;
    var q;
    switch (event.kind) {
      case "question":
        if (event.question) { upsert(event.question); }
        break;
      case "votes":
        q = model.questions[event.question_id];
        if (q) { q.votes = event.votes; }
        break;
      case "highlight":
        model.highlighted = event.question_id || null;
        break;
      case "status":
        model.status = event.status;
        break;
      case "removed":
        if (!model.isHost) { delete model.questions[event.question_id]; }
        break;
      case "access":  // who may watch or host changed: this page's rooms are closed, join again
        rejoinNeeded = true;
        break;
    }
    return true;
  }

  // --- rendering -----------------------------------------------------------------------------

  function all() {
    return Object.keys(model.questions).map(function (id) { return model.questions[id]; });
  }
  function byVotes(a, b) { return (b.votes || 0) - (a.votes || 0) || a.id - b.id; }
  function newest(a, b) { return b.id - a.id; }
  function oldest(a, b) { return a.id - b.id; }
  function has(statuses) { return function (q) { return statuses.indexOf(q.status) >= 0; }; }

  var LISTS = {
    questions: function () { return all().filter(has(["approved", "answered"])).sort(sort === "new" ? newest : byVotes); },
    mine: function () { return all().filter(function (q) { return q.mine && !OPEN[q.status]; }).sort(newest); },
    pending: function () { return all().filter(has(["pending"])).sort(oldest); },
    approved: function () { return all().filter(has(["approved", "answered"])).sort(byVotes); },
    dismissed: function () { return all().filter(has(["dismissed"])).sort(newest); },
    screen: function () {
      return all().filter(function (q) { return q.status === "approved" && q.id !== model.highlighted; })
        .sort(byVotes).slice(0, 5);
    }
  };

  var template = document.getElementById("live-q-tpl");

  function setText(root, selector, text) {
    var node = root.querySelector(selector);
    if (node && node.textContent !== String(text)) { node.textContent = String(text); }
    return node;
  }
  function show(node, visible) { if (node) { node.hidden = !visible; } }

  // SQLite gives naive UTC times: say so, or browsers read them as local time.
  function isoTime(value) {
    if (!value) { return ""; }
    return /([zZ]|[+-]\d\d:?\d\d)$/.test(value) ? value : value + "Z";
  }

  function fill(el, q) {
    var now = q.id === model.highlighted;
    el.setAttribute("data-status", q.status);
    el.classList.toggle("is-highlighted", now);
    el.classList.toggle("is-mine", !!q.mine);
    setText(el, ".live-q-text", q.text);
    setText(el, ".live-q-author", q.author || "");
    show(el.querySelector(".live-q-anon"), !!q.anonymous && model.isHost);
    Array.prototype.forEach.call(el.querySelectorAll(".live-q-votes"), function (n) {
      if (n.textContent !== String(q.votes || 0)) { n.textContent = String(q.votes || 0); }
    });
    show(el.querySelector(".live-q-now"), now);
    var tag = setText(el, ".live-q-state", STATUS_TAGS[q.status] || "");
    show(tag, !!STATUS_TAGS[q.status]);
    var reason = el.querySelector(".live-q-reason");
    if (reason) {
      show(reason, q.status === "dismissed");
      setText(reason, ".live-q-reason-text", q.dismiss_reason || "未说明原因");
    }
    var original = el.querySelector(".live-q-original");
    if (original) {
      show(original, !!q.original_text && q.original_text !== q.text);
      setText(original, ".live-q-original-text", q.original_text || "");
    }
    var answer = el.querySelector(".live-q-answer");
    if (answer) {
      show(answer, !!q.answer);
      setText(answer, ".live-q-answer-text", q.answer || "");
    }
    var time = el.querySelector("time.live-q-time");
    var at = isoTime(q.created_at);
    if (time && time.getAttribute("datetime") !== at) {
      time.setAttribute("datetime", at);
      time.removeAttribute("data-absolute");
      time.textContent = "";
      if (window.dx && dx.refreshTimes) { dx.refreshTimes(el); }
    }
    Array.prototype.forEach.call(el.querySelectorAll("[data-show]"), function (node) {
      show(node, (" " + node.getAttribute("data-show") + " ").indexOf(" " + q.status + " ") >= 0);
    });
    var vote = el.querySelector('[data-action="vote"]');
    if (vote) { vote.setAttribute("aria-pressed", q.voted ? "true" : "false"); }
    var hl = el.querySelector('[data-action="highlight"]');
    if (hl) {
      hl.setAttribute("aria-pressed", now ? "true" : "false");
      hl.textContent = now ? "取消当前问题" : "设为当前问题";
    }
  }

  function build(q) {
    var el = template.content.firstElementChild.cloneNode(true);
    el.setAttribute("data-qid", String(q.id));
    el.setAttribute("data-built", "");
    Array.prototype.forEach.call(el.querySelectorAll("textarea[data-prefill]"), function (ta) { ta.value = q.text; });
    return el;
  }

  // The server's items are for reading before the script runs; the first render replaces them
  // with built ones. After that an item is updated in place and moved only when its position
  // changed, so a host typing an answer keeps the textarea (and its focus).
  function renderList(list) {
    var name = list.getAttribute("data-live-list");
    var wanted = LISTS[name]();
    var built = {};
    Array.prototype.forEach.call(list.children, function (el) {
      if (el.hasAttribute("data-built")) { built[el.getAttribute("data-qid")] = el; }
    });
    var previous = null;
    wanted.forEach(function (q) {
      var el = built[q.id] || document.querySelector('[data-live-list] > [data-built][data-qid="' + q.id + '"]') || build(q);
      fill(el, q);
      var next = previous ? previous.nextElementSibling : list.firstElementChild;
      if (el !== next) { list.insertBefore(el, next); }
      previous = el;
    });
    var stale = previous ? previous.nextElementSibling : list.firstElementChild;
    while (stale) {
      var after = stale.nextElementSibling;
      list.removeChild(stale);
      stale = after;
    }
    show(document.querySelector('[data-live-empty="' + name + '"]'), wanted.length === 0);
    Array.prototype.forEach.call(document.querySelectorAll('[data-live-count="' + name + '"]'), function (n) {
      n.textContent = String(wanted.length);
    });
  }

  function renderHighlight() {
    var box = document.getElementById("live-highlight");
    if (!box) { return; }
    var q = model.highlighted && model.questions[model.highlighted];
    show(box, !!q);
    if (q) {
      setText(box, ".live-hl-text", q.text);
      setText(box, ".live-hl-author", q.author || "");
      Array.prototype.forEach.call(box.querySelectorAll(".live-q-votes"), function (n) { n.textContent = String(q.votes || 0); });
    }
  }

  function renderStatus() {
    var labels = { scheduled: "未开始", live: "进行中", closed: "已结束" };
    Array.prototype.forEach.call(document.querySelectorAll("[data-live-session-status]"), function (n) {
      n.textContent = labels[model.status] || model.status;
      n.setAttribute("data-value", model.status);
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-when-status]"), function (n) {
      show(n, (" " + n.getAttribute("data-when-status") + " ").indexOf(" " + model.status + " ") >= 0);
    });
    var counts = { pending: 0, approved: 0, answered: 0, dismissed: 0 };
    all().forEach(function (q) { counts[q.status] = (counts[q.status] || 0) + 1; });
    Array.prototype.forEach.call(document.querySelectorAll("[data-live-tally]"), function (n) {
      n.textContent = String(counts[n.getAttribute("data-live-tally")] || 0);
    });
  }

  function render() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-live-list]"), renderList);
    renderHighlight();
    renderStatus();
  }

  // --- the connection ------------------------------------------------------------------------

  var statusLine = document.getElementById("live-conn");
  function connection(text, state) {
    if (!statusLine) { return; }
    statusLine.textContent = text;
    statusLine.setAttribute("data-state", state);
  }

  function errorText(ack, fallback) {
    return ack && ack.error && ack.error.message ? ack.error.message : fallback;
  }

  var polling = /[?&]transport=polling(&|$)/.test(window.location.search);
  var options = { reconnectionDelay: 500, reconnectionDelayMax: 3000 };
  if (polling) { options.transports = ["polling"]; options.forceNew = true; }
  var socket = window.io("/live", options);

  function rejoin() {
    rejoinNeeded = false;
    syncing = true;
    socket.emit("join", { session_id: sid }, function (fresh) { onSynced(fresh, true, true); });
  }

  function onSynced(ack, reconnect, changed) {
    if (!ack || ack.error) {
      if (ack && ack.error && ack.error.code === "seq_invalid") {  // the server's log is not ours: start over
        socket.emit("join", { session_id: sid }, function (fresh) { onSynced(fresh, reconnect); });
        return;
      }
      syncing = false;
      waiting.length = 0;
      if (changed) {  // no longer admitted: show nothing more of the session
        load({ status: model.status, seq: model.seq });
        render();
      }
      connection(errorText(ack, "无法加入答疑，请刷新页面。"), "error");
      return;
    }
    var applied = 0;
    var snapshot = ack.state || (ack.reset && ack.snapshot);
    if (snapshot) { load(snapshot); }
    (ack.events || []).concat(waiting.splice(0)).forEach(function (event) {
      if (apply(event)) { applied += 1; }
    });
    synced = true;
    syncing = false;
    render();
    if (rejoinNeeded) { rejoin(); return; }
    if (changed) {
      var demoted = role === "host" && !model.isHost;
      connection(demoted ? "您已不是这场答疑的主持人。" : "答疑设置已更新，已重新载入", demoted ? "error" : "ok");
    } else if (!reconnect) {
      connection("已连接", "ok");
    } else if (snapshot) {
      connection("已恢复，已重新载入全部问题", "ok");
    } else {
      connection("已恢复，已同步 " + applied + " 条更新", "ok");
    }
  }

  socket.on("connect", function () {
    var reconnect = everConnected;
    everConnected = true;
    syncing = true;
    var name = reconnect && synced ? "resync" : "join";
    socket.emit(name, { session_id: sid, after: model.seq }, function (ack) { onSynced(ack, reconnect); });
  });
  socket.on("disconnect", function (reason) {
    if (reason !== "io client disconnect") { connection("连接已断开，正在重连…", "lost"); }
  });
  socket.on("connect_error", function () {
    connection(everConnected ? "连接已断开，正在重连…" : "正在连接…", "lost");
  });
  socket.on("live_event", function (event) {
    if (!event || event.session_id !== sid) { return; }
    if (syncing) { waiting.push(event); return; }
    if (apply(event)) { render(); }
    if (rejoinNeeded) { rejoin(); }
  });

  function send(name, data, done) {
    if (!socket.connected) {
      done({ error: { code: "offline", message: "连接已断开，正在重连，请稍后再试。" } });
      return;
    }
    socket.timeout(ACK_TIMEOUT).emit(name, data, function (err, ack) {
      done(err ? { error: { code: "timeout", message: "服务器没有响应，请稍后再试。" } } : ack);
    });
  }

  function flash(text, kind) {
    if (window.dx && dx.message) { dx.message(text, kind); }
  }

  // --- audience: ask, vote, tabs --------------------------------------------------------------

  var form = document.getElementById("live-ask");
  if (form) {
    var area = form.querySelector("textarea");
    var counter = document.getElementById("live-ask-count");
    var problem = document.getElementById("live-ask-error");
    var submit = form.querySelector('button[type="submit"]');
    var anonymous = form.querySelector('input[name="anonymous"]');
    var count = function () {
      var n = Array.from(area.value.trim()).length;
      counter.textContent = n + "/" + boot.max_chars;
      counter.classList.toggle("is-over", n > boot.max_chars);
    };
    var tell = function (text) {
      problem.textContent = text;
      problem.hidden = !text;
      area.setAttribute("aria-invalid", text ? "true" : "false");
    };
    area.addEventListener("input", count);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = area.value.trim();
      if (!text) { tell("请输入问题内容。"); area.focus(); return; }
      if (Array.from(text).length > boot.max_chars) { tell("问题不能超过 " + boot.max_chars + " 个字。"); area.focus(); return; }
      submit.disabled = true;
      send("ask", { session_id: sid, text: text, anonymous: !!(anonymous && anonymous.checked) }, function (ack) {
        submit.disabled = false;
        if (!ack || ack.error) { tell(errorText(ack, "提问失败，请稍后再试。")); area.focus(); return; }
        tell("");
        area.value = "";
        count();
        var q = ack.question;
        if (q) {
          q.mine = true;
          var old = model.questions[q.id];
          if (!old) { model.questions[q.id] = q; } else { old.mine = true; }
          render();
        }
        var held = q && q.status === "pending";
        flash(held ? "问题已提交，主持人审核后将显示。" : "问题已发布。", "success");
      });
    });
    count();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-action], button[data-sort]") : null;
    if (!button) { return; }
    if (button.hasAttribute("data-sort")) {
      sort = button.getAttribute("data-sort");
      Array.prototype.forEach.call(document.querySelectorAll("button[data-sort]"), function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      render();
      return;
    }
    var item = button.closest("[data-qid]");
    var q = item && model.questions[item.getAttribute("data-qid")];
    if (!q) { return; }
    var action = button.getAttribute("data-action");
    if (action === "vote") {
      var undo = q.voted;
      button.disabled = true;
      send(undo ? "unvote" : "vote", { session_id: sid, question_id: q.id }, function (ack) {
        button.disabled = false;
        if (!ack || ack.error) {
          var code = ack && ack.error && ack.error.code;
          if (code === "already_voted") { q.voted = true; render(); return; }
          flash(errorText(ack, "操作失败，请稍后再试。"), "error");
          return;
        }
        q.voted = typeof ack.voted === "boolean" ? ack.voted : !undo;
        if (typeof ack.votes === "number") { q.votes = ack.votes; }
        render();
      });
    } else if (action === "approve" || action === "reopen") {
      host(button, action, { session_id: sid, question_id: q.id });
    } else if (action === "highlight") {
      host(button, "highlight", { session_id: sid, question_id: q.id === model.highlighted ? null : q.id });
    }
  });

  // --- host console --------------------------------------------------------------------------

  function host(control, name, data, done) {
    control.disabled = true;
    send(name, data, function (ack) {
      control.disabled = false;
      if (!ack || ack.error) { flash(errorText(ack, "操作失败，请稍后再试。"), "error"); return; }
      flash("");
      if (done) { done(ack); }
    });
  }

  document.addEventListener("submit", function (event) {
    var formNode = event.target;
    var action = formNode.getAttribute("data-action");
    var item = formNode.closest("[data-qid]");
    if (!action || !item || formNode.id === "live-ask") { return; }
    event.preventDefault();
    var id = parseInt(item.getAttribute("data-qid"), 10);
    var field = formNode.querySelector("textarea, input[type=text]");
    var value = field ? field.value.trim() : "";
    var button = formNode.querySelector('button[type="submit"]');
    var data = { session_id: sid, question_id: id };
    var name = action;
    if (action === "approve-edit") { name = "approve"; data.text = value; }
    if (action === "dismiss") { data.reason = value; }
    if (action === "answer") { data.answer = value; }
    if (!value) {
      flash({ answer: "请填写回答内容。", dismiss: "请填写不采用的原因。" }[action] || "请填写修改后的问题。", "error");
      field.focus();
      return;
    }
    host(button, name, data, function () {
      if (field && action !== "approve-edit") { field.value = ""; }
      var details = formNode.closest("details");
      if (details) { details.open = false; }
    });
  });

  // The server-rendered items become the script's: same markup, same fill().
  load(boot.state);
  model.seq = boot.seq;
  Array.prototype.forEach.call(document.querySelectorAll("button[data-sort]"), function (b) { b.hidden = false; });
  render();
  connection("正在连接…", "lost");
  window.dxLive = { socket: socket, model: model, render: render };
})();
