// forum.js — progressive enhancement for the topic page (templates/forum/topic.html).
// Without it everything works by plain form posts and links; with it:
//   - 赞 toggles without a reload (POST the form's action as JSON: {liked, count});
//   - 引用 appends the quoted post to the reply box instead of reloading with ?quote=.
// Loaded with `defer` after site.js, so window.dx is there. Plain ES2017, no optional chaining.
(function () {
  "use strict";

  var dx = window.dx;
  if (!dx || !dx.fetchJSON) return;

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-like")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    if (button.disabled) return;
    button.disabled = true;
    dx.fetchJSON(form.action, { method: "POST", body: {} })
      .then(function (data) {
        button.setAttribute("aria-pressed", data.liked ? "true" : "false");
        button.querySelector(".fm-like-label").textContent = data.liked ? "已赞" : "赞";
        button.querySelector(".fm-like-count").textContent = String(data.count);
      })
      .catch(function (err) { dx.message(err.message, "error"); })
      .then(function () { button.disabled = false; });
  });

  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("a[data-quote-url]") : null;
    var box = document.getElementById("reply-body");
    if (!link || !box) return;
    event.preventDefault();
    dx.fetchJSON(link.getAttribute("data-quote-url"))
      .then(function (data) {
        var before = box.value && !/\n\n$/.test(box.value) ? box.value.replace(/\s*$/, "") + "\n\n" : box.value;
        box.value = before + data.markdown;
        var target = box.form && box.form.querySelector('input[name="reply_to"]');
        if (target && !target.value) target.value = String(data.post_id);
        box.focus();
        box.setSelectionRange(box.value.length, box.value.length);
        box.scrollIntoView({ block: "center" });
      })
      .catch(function (err) { dx.message(err.message, "error"); });
  });
})();
