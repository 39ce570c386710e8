// helpdesk-answer.js — 插入常见回答: puts a template's text into the answer box for the handler
// to edit before sending. Without it the select still submits template_id, and an empty answer
// is sent as the template's text (the server does that).
(function () {
  "use strict";

  var select = document.getElementById("hd-template");
  var insert = document.getElementById("hd-template-insert");
  var body = document.getElementById("hd-answer-body");
  if (!select || !insert || !body) return;
  insert.hidden = false;

  function load() {
    var id = select.value;
    if (!id) { select.focus(); return; }
    if (body.value.trim() && !window.confirm("答复框中已有内容，要用所选常见回答替换吗？")) return;
    insert.disabled = true;
    // data-url is the address of template 0 (built by url_for): swap in the chosen id.
    window.dx.fetchJSON(select.getAttribute("data-url").replace(/0\.json$/, encodeURIComponent(id) + ".json")).then(function (data) {
      body.value = (data && data.body) || "";
      body.focus();
      body.setSelectionRange(0, 0);
      window.dx.message("已插入“" + ((data && data.title) || "") + "”，请根据实际情况修改后发送。", "info");
    }).catch(function (err) {
      window.dx.message(err.message, "error");
    }).then(function () {
      insert.disabled = false;
    });
  }

  insert.addEventListener("click", load);
})();
