/* The impact graph of a configuration item page (ECharts, force layout).
 *
 * Reads the graph from <script type="application/json" id="graph-data"> (nodes, edges, start)
 * and draws it in #impact-graph: nodes coloured by type, the start node larger and outlined,
 * arrows from dependent to dependency as stored. A click on a node opens its page.
 */
(function () {
  "use strict";

  var PALETTE = [
    "#1d5fd6", "#0f8a5f", "#c2410c", "#7c3aed", "#b91c1c", "#0e7490",
    "#a16207", "#be185d", "#4d7c0f", "#475569"
  ];

  function draw() {
    var holder = document.getElementById("impact-graph");
    var source = document.getElementById("graph-data");
    if (!holder || !source || typeof window.echarts === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var types = [];
    data.nodes.forEach(function (node) {
      if (types.indexOf(node.type_name) < 0) {
        types.push(node.type_name);
      }
    });
    var urlTemplate = holder.getAttribute("data-item-url") || "";
    var nodes = data.nodes.map(function (node) {
      var isStart = node.id === data.start;
      return {
        id: String(node.id),
        name: node.number + " " + node.name,
        category: types.indexOf(node.type_name),
        symbolSize: isStart ? 34 : Math.max(14, 24 - node.depth * 2),
        value: node.depth,
        itemId: node.id,
        label: { show: isStart || data.nodes.length <= 40 },
        itemStyle: isStart ? { borderColor: "#172033", borderWidth: 4, shadowBlur: 8, shadowColor: "rgba(0,0,0,0.35)" } : {}
      };
    });
    var edges = data.edges.map(function (edge) {
      return { source: String(edge.source), target: String(edge.target), value: edge.label };
    });
    var chart = window.echarts.init(holder, null, { renderer: "canvas" });
    chart.setOption({
      color: PALETTE,
      tooltip: {
        formatter: function (p) {
          if (p.dataType === "edge") {
            return p.data.value;
          }
          return p.data.name + " · " + types[p.data.category];
        }
      },
      legend: [{ data: types, bottom: 0, type: "scroll" }],
      series: [{
        type: "graph",
        layout: "force",
        roam: true,
        draggable: true,
        categories: types.map(function (name) { return { name: name }; }),
        data: nodes,
        links: edges,
        edgeSymbol: ["none", "arrow"],
        edgeSymbolSize: 7,
        label: { position: "right", fontSize: 11, color: "#172033" },
        lineStyle: { color: "#8a94a6", width: 1.2, curveness: 0.1 },
        emphasis: { focus: "adjacency", lineStyle: { width: 2.5 } },
        force: { repulsion: 220, edgeLength: [50, 110], gravity: 0.08 }
      }]
    });
    chart.on("click", function (p) {
      if (p.dataType === "node" && p.data.itemId !== data.start && urlTemplate) {
        window.location.href = urlTemplate.replace(/\/0\/$/, "/" + p.data.itemId + "/") + "#impact";
      }
    });
    window.addEventListener("resize", function () { chart.resize(); });
    holder.setAttribute("data-graph-ready", String(nodes.length));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
