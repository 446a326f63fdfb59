/* The incident report page's charts (ECharts): incidents by priority as bars, and the volume
 * per month (incidents recorded, of them resolved, contacts).
 *
 * Reads <script type="application/json" id="report-data">; the page's tables hold the same
 * numbers for readers without JavaScript or a screen.
 */
(function () {
  "use strict";

  // The priority badges' colours (keel.css .prio-1 … .prio-5), strong enough for a bar.
  var PRIORITY_COLOURS = ["#d92d20", "#f97316", "#eab308", "#3b7be0", "#94a3b8"];
  var SERIES_COLOURS = ["#1d5fd6", "#0f8a5f", "#7c3aed"];
  var AXIS = { color: "#566074", fontSize: 12 };
  var GRID_LINE = { lineStyle: { color: "#e5e8ee" } };

  function chartIn(id) {
    var holder = document.getElementById(id);
    if (!holder) {
      return null;
    }
    var chart = window.echarts.init(holder, null, { renderer: "canvas" });
    window.addEventListener("resize", function () { chart.resize(); });
    return { chart: chart, holder: holder };
  }

  function priorities(data) {
    var found = chartIn("priority-chart");
    if (!found) {
      return;
    }
    found.chart.setOption({
      animation: false,
      grid: { left: 48, right: 16, top: 16, bottom: 28 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category", data: data.labels, axisLabel: AXIS, axisTick: { show: false } },
      yAxis: { type: "value", minInterval: 1, axisLabel: AXIS, splitLine: GRID_LINE },
      series: [{
        type: "bar",
        barMaxWidth: 48,
        data: data.labels.map(function (label, i) {
          var level = parseInt(label.replace("P", ""), 10);
          return { value: data.values[i], itemStyle: { color: PRIORITY_COLOURS[(level - 1) % 5], borderRadius: [4, 4, 0, 0] } };
        }),
        label: { show: true, position: "top", color: "#172033", fontSize: 12 }
      }]
    });
    found.holder.setAttribute("data-chart-ready", "true");
  }

  function volume(data, names) {
    var found = chartIn("volume-chart");
    if (!found) {
      return;
    }
    found.chart.setOption({
      animation: false,
      color: SERIES_COLOURS,
      grid: { left: 48, right: 16, top: 40, bottom: 28 },
      legend: { top: 0, textStyle: AXIS },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.labels, axisLabel: AXIS, axisTick: { show: false } },
      yAxis: { type: "value", minInterval: 1, axisLabel: AXIS, splitLine: GRID_LINE },
      series: [
        { name: names.incidents, type: "bar", barMaxWidth: 28, data: data.incidents, itemStyle: { borderRadius: [3, 3, 0, 0] } },
        { name: names.resolved, type: "bar", barMaxWidth: 28, data: data.resolved, itemStyle: { borderRadius: [3, 3, 0, 0] } },
        { name: names.interactions, type: "line", symbolSize: 6, data: data.interactions }
      ]
    });
    found.holder.setAttribute("data-chart-ready", "true");
  }

  function draw() {
    var source = document.getElementById("report-data");
    if (!source || typeof window.echarts === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    priorities(data.priorities);
    volume(data.months, data.names);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
