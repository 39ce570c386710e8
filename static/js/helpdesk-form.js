// helpdesk-form.js — the request form (/help/new): the 省/市/县 cascade, and suggestions while
// typing (category from the tag rules, places named in the text, FAQ entries that may answer it).
// The form works without it: the server re-renders the next picker level and decides everything.
(function () {
  "use strict";

  var form = document.getElementById("hd-new-form");
  if (!form) return;
  var regionsUrl = form.getAttribute("data-regions-url");
  var suggestUrl = form.getAttribute("data-suggest-url");
  var selects = Array.prototype.slice.call(form.querySelectorAll("select[name=region][data-level]"));
  var category = document.getElementById("hd-category");
  var description = document.getElementById("hd-description");
  var categoryBox = document.getElementById("hd-category-suggest");
  var regionBox = document.getElementById("hd-region-suggest");
  var faqBox = document.getElementById("hd-faq-suggest");
  var categoryTouched = category.value !== "";

  function fail(err) { if (window.dx) window.dx.message(err.message, "error"); }

  // --- region cascade ------------------------------------------------------------------------

  function reset(select) {
    while (select.options.length > 1) select.remove(1);
    select.value = "";
    select.disabled = true;
  }

  function fill(select, items) {
    reset(select);
    items.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item.code;
      option.textContent = item.name;
      if (item.leaf) option.setAttribute("data-leaf", "1");
      select.appendChild(option);
    });
    select.disabled = items.length === 0;
  }

  // Choose `code` at `index` and load the next level; resolves when that level is filled.
  function choose(index, code) {
    var select = selects[index];
    select.value = code;
    for (var i = index + 1; i < selects.length; i++) reset(selects[i]);
    var option = select.options[select.selectedIndex];
    if (!code || index + 1 >= selects.length || (option && option.getAttribute("data-leaf"))) {
      return Promise.resolve();
    }
    return window.dx.fetchJSON(regionsUrl + "/" + encodeURIComponent(code)).then(function (items) {
      fill(selects[index + 1], items || []);
    });
  }

  selects.forEach(function (select, index) {
    select.addEventListener("change", function () {
      choose(index, select.value).catch(fail);
    });
  });

  // Set the picker to a code named in the text: province (2), city (4), then the code itself.
  function pickRegion(code) {
    var chain = [code.slice(0, 2)];
    if (code.length > 2) chain.push(code.slice(0, 4));
    if (code.length > 4) chain.push(code);
    var step = Promise.resolve();
    chain.forEach(function (part, index) {
      step = step.then(function () { return choose(index, part); });
    });
    step.then(function () {
      var last = selects[Math.min(chain.length, selects.length) - 1];
      if (last) last.focus();
    }).catch(fail);
  }

  // --- suggestions while typing --------------------------------------------------------------

  function show(box, visible) { box.hidden = !visible; }

  function button(label, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function showCategory(data) {
    categoryBox.textContent = "";
    if (!data.category) { show(categoryBox, false); return; }
    var text = "建议类别：" + data.category_label;
    if (category.value === data.category) {
      categoryBox.textContent = text + "（已选择）";
    } else if (!categoryTouched) {
      category.value = data.category;  // still the default: follow the suggestion, and say so
      categoryBox.textContent = text + "（已为您选择，可修改）";
    } else {
      categoryBox.appendChild(document.createTextNode(text));
      categoryBox.appendChild(button("采用建议", function () {
        category.value = data.category;
        categoryBox.textContent = text + "（已选择）";
        category.focus();
      }));
    }
    show(categoryBox, true);
  }

  function showRegions(data) {
    regionBox.textContent = "";
    var items = data.regions || [];
    if (!items.length) { show(regionBox, false); return; }
    regionBox.appendChild(document.createTextNode("您提到的地区："));
    items.slice(0, 3).forEach(function (item) {
      regionBox.appendChild(document.createTextNode(item.label + " "));
      var b = button("选用", function () { pickRegion(item.code); });
      b.setAttribute("aria-label", "选用" + item.label);
      regionBox.appendChild(b);
      regionBox.appendChild(document.createTextNode(" "));
    });
    show(regionBox, true);
  }

  function showFaq(data) {
    var list = faqBox.querySelector("ul");
    list.textContent = "";
    (data.faq || []).forEach(function (entry) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = entry.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = entry.title;
      li.appendChild(a);
      list.appendChild(li);
    });
    show(faqBox, list.children.length > 0);
  }

  var timer = null;
  var lastText = "";
  var seq = 0;

  function ask() {
    var text = description.value.trim().slice(0, 1000);
    if (text.length < 6) {
      show(categoryBox, false); show(regionBox, false); show(faqBox, false);
      lastText = "";
      return;
    }
    if (text === lastText) return;
    lastText = text;
    var mine = ++seq;
    window.dx.fetchJSON(suggestUrl + "?text=" + encodeURIComponent(text)).then(function (data) {
      if (mine !== seq || !data) return;  // an older answer arriving late
      showCategory(data);
      showRegions(data);
      showFaq(data);
    }).catch(function () { /* suggestions are optional: stay quiet */ });
  }

  category.addEventListener("change", function () { categoryTouched = category.value !== ""; });
  description.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 400);
  });
  if (description.value.trim().length >= 6) document.addEventListener("DOMContentLoaded", ask);
})();
