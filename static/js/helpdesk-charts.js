// helpdesk-charts.js — the help-desk statistics charts with uPlot (vendored from npm): the monthly
// trend on /help/stats/ and the hot-topic bars on /help/stats/hot. Data comes from
// <script type="application/json" id="help-chart-data">, the same numbers as the tables beside
// the charts (which stay the accessible source). Plain ES2017, no build step.
(function () {
  "use strict";

  var RED = "#b71c1c", GREEN = "#1d6b2c", GREY = "#555";

  function width(el) {
    return Math.max(Math.min(el.clientWidth || 600, 960), 260);
  }

  function top(values) {
    return Math.max.apply(null, values.concat([1])) * 1.15;
  }

  // Label every k-th category so a phone's narrow axis stays readable.
  function labels(names, el, maxLen) {
    var step = Math.max(1, Math.ceil(names.length * 48 / width(el)));
    return function (u, splits) {
      return splits.map(function (i) {
        var n = names[i] || "";
        if (i % step) return "";
        return n.length > maxLen ? n.slice(0, maxLen - 1) + "…" : n;
      });
    };
  }

  function months(el, data) {
    var xs = data.months.map(function (_, i) { return i; });
    var all = data.filed.concat(data.within_sla, data.overdue);
    var opts = {
      width: width(el),
      height: 260,
      scales: { x: { time: false, range: [-0.3, Math.max(xs.length - 0.7, 0.7)] }, y: { range: [0, top(all)] } },
      axes: [
        { splits: function () { return xs; }, values: labels(data.months.map(function (m) { return m.slice(2); }), el, 6) },
        { label: "求助数" }
      ],
      series: [
        { value: function (u, i) { return i == null ? "" : data.months[i]; } },
        { label: "提交", stroke: GREY, width: 2, points: { show: true, size: 6, fill: GREY } },
        { label: "按时答复", stroke: GREEN, width: 2, points: { show: true, size: 6, fill: GREEN } },
        { label: "超时", stroke: RED, width: 2, dash: [6, 4], points: { show: true, size: 6, fill: RED } }
      ]
    };
    return new uPlot(opts, [xs, data.filed, data.within_sla, data.overdue], el);
  }

  function bars(el, data) {
    var xs = data.terms.map(function (_, i) { return i; });
    var opts = {
      width: width(el),
      height: 260,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, xs.length - 0.5] }, y: { range: [0, top(data.counts)] } },
      axes: [{ splits: function () { return xs; }, values: labels(data.terms, el, 5) }, { label: "篇数" }],
      series: [{}, { label: "篇数", fill: RED, stroke: RED, paths: uPlot.paths.bars({ size: [0.6, 48] }), points: { show: false } }]
    };
    return new uPlot(opts, [xs, data.counts], el);
  }

  function start() {
    var source = document.getElementById("help-chart-data");
    if (!source || typeof uPlot === "undefined") return; // the tables carry the data anyway
    var data = JSON.parse(source.textContent);
    var el = document.getElementById("chart-help-months") || document.getElementById("chart-hot");
    if (!el) return;
    var chart = data.months ? months(el, data) : bars(el, data);
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { chart.setSize({ width: width(el), height: chart.height }); }, 150);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
