// The console's only script: CSRF header for htmx, polling paused while the tab is hidden,
// and hourly series drawn with uPlot from the tables that also show them without JavaScript.
(function () {
  "use strict";

  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.body.getAttribute("data-csrf");
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var trigger = event.detail.elt.getAttribute("hx-trigger") || "";
    if (document.hidden && trigger.indexOf("every") === 0) { event.preventDefault(); }
  });

  function drawSeries(root) {
    var tables = root.querySelectorAll ? root.querySelectorAll("table[data-chart='series']") : [];
    tables.forEach(function (table) {
      var target = document.querySelector("[data-chart-for='" + table.id + "']");
      if (!target || typeof uPlot === "undefined") { return; }
      var xs = [], ys = [];
      table.querySelectorAll("tbody tr").forEach(function (row) {
        xs.push(Number(row.getAttribute("data-x")));
        ys.push(Number(row.getAttribute("data-y")));
      });
      target.textContent = "";
      var label = table.querySelector("thead th:last-child").textContent;
      new uPlot({
        width: Math.min(target.clientWidth || 640, 900), height: 220,
        scales: { x: { time: true, range: function (u, min, max) { return [min - 3600, max + 3600]; } },
                  y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } } },
        series: [{ label: table.querySelector("thead th").textContent },
                 { label: label, stroke: "#0b5cad", fill: "rgba(11,92,173,0.15)",
                   points: { show: true, size: 6 } }],
        axes: [{}, {}]
      }, [xs, ys], target);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof htmx !== "undefined") { htmx.onLoad(drawSeries); } else { drawSeries(document); }
  });
})();
