// Help-desk route admin (templates/helpdesk/routes_form.html): the 省/市/县 picker.
// Picking a province (or city) loads its cities (or counties) from the member pages' region
// JSON (/help/regions/<code>) and clears the levels below; any level may stay “不限”.
// Without this script the form's “显示下级地区” button reloads the form instead; it and its hint are hidden here.
(function () {
  "use strict";

  function items(data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.children)) return data.children;
    if (data && Array.isArray(data.regions)) return data.regions;
    return [];
  }

  function clear(select) {
    while (select.options.length > 1) select.remove(1);
    select.value = "";
  }

  function init(form) {
    var base = form.getAttribute("data-regions-url");
    if (!base || !window.dx) return; // keep the reload button
    Array.prototype.forEach.call(form.querySelectorAll("[data-reload]"), function (el) { el.hidden = true; });
    var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-level]"));
    selects.forEach(function (select, i) {
      select.addEventListener("change", function () {
        selects.slice(i + 1).forEach(clear);
        var next = selects[i + 1];
        if (!next || !select.value) return;
        window.dx.fetchJSON(base.replace(/\/$/, "") + "/" + encodeURIComponent(select.value))
          .then(function (data) {
            items(data).forEach(function (region) {
              var option = document.createElement("option");
              option.value = region.code;
              option.textContent = region.name;
              next.appendChild(option);
            });
          })
          .catch(function (err) { window.dx.message(err.message, "error"); });
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.help-route-form"), init);
})();
