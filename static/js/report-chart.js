// report-chart.js — draws the branch report's two charts with uPlot (vendored from npm).
// Data comes from <script type="application/json" id="report-data"> (the same numbers as the
// tables beside the charts, which stay the accessible source). Plain ES2017, no build step.
(function () {
  "use strict";

  var RED = "#b71c1c";

  function width(el) {
    return Math.max(Math.min(el.clientWidth || 600, 960), 260);
  }

  function barChart(el, data) {
    var names = data.branches.map(function (b) { return b.name; });
    if (!names.length) return null;
    var xs = names.map(function (_, i) { return i; });
    var ys = data.branches.map(function (b) { return b.average; });
    var opts = {
      width: width(el),
      height: 260,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, names.length - 0.5] }, y: { range: [0, Math.max.apply(null, ys.concat([1])) * 1.15] } },
      axes: [
        {
          splits: function () { return xs; },
          values: function (u, splits) {
            return splits.map(function (i) {
              var n = names[i] || "";
              return n.length > 8 ? n.slice(0, 7) + "…" : n;
            });
          }
        },
        { label: "人均学时" }
      ],
      series: [
        {},
        { label: "人均学时", fill: RED, stroke: RED, paths: uPlot.paths.bars({ size: [0.6, 64] }), points: { show: false } }
      ]
    };
    return new uPlot(opts, [xs, ys], el);
  }

  function lineChart(el, data) {
    var xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    var opts = {
      width: width(el),
      height: 240,
      legend: { show: false },
      scales: { x: { time: false, range: [1, 12] }, y: { range: [0, Math.max.apply(null, data.months.concat([1])) * 1.15] } },
      axes: [
        { splits: function () { return xs; }, values: function (u, splits) { return splits.map(function (m) { return m + "月"; }); } },
        { label: "学时" }
      ],
      series: [{}, { label: "学时", stroke: RED, width: 2, points: { show: true, size: 6, fill: RED } }]
    };
    return new uPlot(opts, [xs, data.months], el);
  }

  function start() {
    var source = document.getElementById("report-data");
    if (!source || typeof uPlot === "undefined") return; // the tables carry the data anyway
    var data = JSON.parse(source.textContent);
    var charts = [];
    var bars = document.getElementById("chart-branches");
    var line = document.getElementById("chart-months");
    if (bars) charts.push([bars, barChart(bars, data)]);
    if (line) charts.push([line, lineChart(line, data)]);
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        charts.forEach(function (pair) {
          if (pair[1]) pair[1].setSize({ width: width(pair[0]), height: pair[1].height });
        });
      }, 150);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
