// site.js — small helpers every page gets (templates/base.html loads it with `defer`).
// Plain ES2017, no build step, no optional chaining: it must run on old Android browsers.
//
// API for page scripts (window.dx):
//   dx.fetchJSON(url, options) → Promise of the parsed JSON body (null for 204/empty).
//       Adds Accept: application/json, credentials "same-origin", and X-CSRFToken (from
//       <meta name="csrf-token">) for every method but GET/HEAD/OPTIONS. A plain object or
//       array `body` is sent as JSON. Fails with an Error whose .message is Chinese and ready
//       to show, .code (the server's {"error": {"code"}} or "network", "login_required",
//       "bad_response", "http_<status>"), .status (0 for a network failure) and .data (body).
//         dx.fetchJSON(url, {method: "POST", body: {title: t}})
//           .then(function (data) { ... })
//           .catch(function (err) { dx.message(err.message, "error"); });
//   dx.message(text, kind) → shows one flash-like line (role="status") at the top of <main>;
//       kind: "info" (default), "success", "error". dx.message("") hides it.
//   dx.refreshTimes(root) → re-renders <time datetime="ISO" data-relative> under root (default:
//       the document) as 刚刚 / 5 分钟前 / 3 小时前 / 昨天 / 3 天前; older than 7 days keeps the
//       server-rendered text, which also stays in the title attribute. Runs on load and every
//       minute; call it after inserting such elements.
//   dx.relativeTime(date, now) → that text for one Date ("" when the absolute text should stay).
//   Confirm before submit: <form data-confirm="确定删除吗？">, <button data-confirm="..."> (or
//       <a data-confirm>) asks window.confirm(message) first; cancelled → nothing is submitted
//       or followed, and no other submit/click handler runs. Delegated on document, so it also
//       covers forms added later; page scripts need no confirm code of their own (asset.js's
//       own data-confirm loop should go: with both, the question is asked twice).
// Page scripts at the end of <body> run BEFORE this deferred file: use dx inside event
// handlers or a DOMContentLoaded listener, or load the page script with `defer` as well.
(function () {
  "use strict";

  var dx = window.dx || {};
  window.dx = dx;

  // --- fetchJSON --------------------------------------------------------------------------

  var SAFE_METHODS = { GET: true, HEAD: true, OPTIONS: true };
  var NETWORK_MESSAGE = "网络连接失败，请检查网络后重试。";
  var STATUS_MESSAGES = {
    400: "提交的内容无法处理，请检查后重试。",
    401: "登录已过期，请重新登录后再试。",
    403: "您没有执行此操作的权限。",
    404: "请求的内容不存在或已被删除。",
    405: "该地址不支持此请求方式。",
    408: "请求超时，请稍后重试。",
    409: "内容已被他人修改，请刷新页面后重试。",
    413: "上传的内容超过了允许的大小。",
    429: "您的操作过于频繁，请稍后再试。",
    500: "服务器出现了问题，请稍后再试。",
    502: "服务器暂时无法访问，请稍后再试。",
    503: "服务暂时不可用，请稍后再试。",
    504: "服务器响应超时，请稍后再试。"
  };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function isPlainBody(body) {
    if (body === null || typeof body !== "object") return false;
    if (Array.isArray(body)) return true;
    var proto = Object.getPrototypeOf(body);
    return proto === Object.prototype || proto === null;
  }

  function failure(message, code, status, data) {
    var error = new Error(message);
    error.code = code;
    error.status = status;
    error.data = data === undefined ? null : data;
    return error;
  }

  function statusMessage(status) {
    if (STATUS_MESSAGES[status]) return STATUS_MESSAGES[status];
    if (status >= 500) return STATUS_MESSAGES[500];
    return "请求失败（" + status + "），请稍后重试。";
  }

  function parse(text) {
    if (!text) return { ok: true, value: null };
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (e) {
      return { ok: false, value: null };
    }
  }

  function landedOnLogin(response) {
    return response.redirected && /\/accounts\/login(\?|$)/.test(response.url || "");
  }

  dx.fetchJSON = function (url, options) {
    options = options || {};
    var init = {};
    var key;
    for (key in options) {
      if (Object.prototype.hasOwnProperty.call(options, key)) init[key] = options[key];
    }
    var method = String(init.method || "GET").toUpperCase();
    init.method = method;
    var headers = {};
    var given = options.headers || {};
    if (typeof Headers !== "undefined" && given instanceof Headers) {
      given.forEach(function (value, name) { headers[name] = value; });
    } else {
      for (key in given) {
        if (Object.prototype.hasOwnProperty.call(given, key)) headers[key] = given[key];
      }
    }
    function hasHeader(name) {
      var lower = name.toLowerCase();
      return Object.keys(headers).some(function (h) { return h.toLowerCase() === lower; });
    }
    if (!hasHeader("Accept")) headers.Accept = "application/json";
    if (!SAFE_METHODS[method] && !hasHeader("X-CSRFToken")) {
      var token = csrfToken();
      if (token) headers["X-CSRFToken"] = token;
    }
    if (isPlainBody(init.body)) {
      init.body = JSON.stringify(init.body);
      if (!hasHeader("Content-Type")) headers["Content-Type"] = "application/json";
    }
    init.headers = headers;
    if (!init.credentials) init.credentials = "same-origin";

    return fetch(url, init).then(
      function (response) {
        return response.text().then(
          function (text) { return { response: response, text: text }; },
          function () { throw failure(NETWORK_MESSAGE, "network", 0); }
        );
      },
      function (err) {
        if (err && err.name === "AbortError") throw failure("请求已取消。", "aborted", 0);
        throw failure(NETWORK_MESSAGE, "network", 0);
      }
    ).then(function (result) {
      var response = result.response;
      var parsed = parse(result.text);
      var body = parsed.value;
      if (response.ok && landedOnLogin(response) && !parsed.ok) {
        throw failure(STATUS_MESSAGES[401], "login_required", 401);
      }
      if (response.ok) {
        if (!parsed.ok) {
          throw failure("服务器返回了无法识别的内容，请刷新页面后重试。", "bad_response", response.status);
        }
        return body;
      }
      var error = body && typeof body === "object" && body.error;
      if (error && typeof error === "object" && error.message) {
        throw failure(String(error.message), error.code || "http_" + response.status, response.status, body);
      }
      throw failure(statusMessage(response.status), "http_" + response.status, response.status, body);
    });
  };

  // --- dx.message -------------------------------------------------------------------------

  var KINDS = { info: true, success: true, error: true };

  dx.message = function (text, kind) {
    kind = KINDS[kind] ? kind : "info";
    var box = document.getElementById("dx-message");
    if (!box) {
      box = document.createElement("div");
      box.id = "dx-message";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      var main = document.querySelector("main") || document.body;
      main.insertBefore(box, main.firstChild);
    }
    box.className = "flash flash-" + kind + " dx-message";
    box.textContent = text || "";
    box.hidden = !text;
    return box;
  };

  // --- confirm before submit --------------------------------------------------------------

  function closest(node, selector) {
    var matches = Element.prototype.matches || Element.prototype.webkitMatchesSelector ||
      Element.prototype.msMatchesSelector;
    while (node && node.nodeType === 1) {
      if (matches.call(node, selector)) return node;
      node = node.parentNode;
    }
    return null;
  }

  function refuse(event) {
    event.preventDefault();
    event.stopPropagation();
    if (event.stopImmediatePropagation) event.stopImmediatePropagation();
  }

  // A button's confirmation also covers its form's own data-confirm for this one submit.
  var confirmedForm = null;

  // Capture phase on document: the question comes before any page script's own handler.
  document.addEventListener("click", function (event) {
    var button = closest(event.target,
      "button[data-confirm], input[type=submit][data-confirm], input[type=image][data-confirm], a[data-confirm]");
    if (!button || button.disabled) return;
    if (!window.confirm(button.getAttribute("data-confirm"))) {
      refuse(event);
      return;
    }
    confirmedForm = button.form || null;
    setTimeout(function () { confirmedForm = null; }, 0);
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-confirm")) return;
    if (form === confirmedForm) {
      confirmedForm = null;
      return;
    }
    if (!window.confirm(form.getAttribute("data-confirm"))) refuse(event);
  }, true);

  // --- relative times ---------------------------------------------------------------------

  var MINUTE = 60 * 1000;
  var HOUR = 60 * MINUTE;
  var DAY = 24 * HOUR;

  function startOfDay(date) {
    return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
  }

  dx.relativeTime = function (date, now) {
    now = now || new Date();
    var then = date.getTime();
    if (isNaN(then)) return "";
    var diff = now.getTime() - then;
    if (diff < -MINUTE) return "";  // in the future (clock skew aside): keep the absolute time
    if (diff < MINUTE) return "刚刚";
    if (diff < HOUR) return Math.floor(diff / MINUTE) + " 分钟前";
    if (diff < DAY) return Math.floor(diff / HOUR) + " 小时前";
    var days = Math.round((startOfDay(now) - startOfDay(date)) / DAY);
    if (days <= 1) return "昨天";
    if (days < 7) return days + " 天前";
    return "";
  };

  function parseISO(value) {
    if (!value) return new Date(NaN);
    // "2026-11-22T08:30:00+08:00"; old WebKit wants no fraction and a "Z" or "+hh:mm" offset.
    var date = new Date(value);
    if (!isNaN(date.getTime())) return date;
    return new Date(String(value).replace(" ", "T").replace(/\.\d+/, "").replace(/([+-]\d\d)(\d\d)$/, "$1:$2"));
  }

  dx.refreshTimes = function (root) {
    var nodes = (root || document).querySelectorAll("time[data-relative]");
    var now = new Date();
    Array.prototype.forEach.call(nodes, function (node) {
      if (!node.hasAttribute("data-absolute")) node.setAttribute("data-absolute", node.textContent);
      var absolute = node.getAttribute("data-absolute");
      if (!node.getAttribute("title")) node.setAttribute("title", absolute);
      var text = dx.relativeTime(parseISO(node.getAttribute("datetime")), now);
      node.textContent = text || absolute;
    });
  };

  function start() {
    dx.refreshTimes();
    setInterval(function () { dx.refreshTimes(); }, MINUTE);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
