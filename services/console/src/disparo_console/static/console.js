// The console's only script: CSRF header for htmx, polling paused while the tab is hidden,
// hourly series drawn with uPlot from the tables that also show them without JavaScript, and
// the upload progress of forms marked data-upload-progress (without JavaScript they post as is).
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
      var headers = [].map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent; });
      var columns = [[]];
      for (var c = 1; c < headers.length; c++) { columns.push([]); }
      table.querySelectorAll("tbody tr").forEach(function (row) {
        columns[0].push(Number(row.getAttribute("data-x")));
        row.querySelectorAll("td[data-y]").forEach(function (cell, i) {
          columns[i + 1].push(Number(cell.getAttribute("data-y")));
        });
      });
      if (columns[0].length < 2) { return; }  // one hour is a row of the table, not a line
      var colours = ["#0b5cad", "#1e7d32", "#7a4500", "#b00020"];
      var series = [{ label: headers[0] }];
      for (var s = 1; s < headers.length; s++) {
        series.push({ label: headers[s], stroke: colours[(s - 1) % colours.length], width: 2,
                      points: { show: true, size: 5 } });
      }
      target.textContent = "";
      new uPlot({
        width: Math.min(target.clientWidth || 640, 900), height: 240,
        scales: { x: { time: true, range: function (u, min, max) { return [min - 3600, max + 3600]; } },
                  y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } } },
        series: series,
        axes: [{}, {}]
      }, columns, target);
    });
  }

  function showUploadProgress(form) {
    var bar = document.getElementById(form.getAttribute("data-upload-progress"));
    var status = document.getElementById(bar.getAttribute("aria-describedby"));
    form.addEventListener("submit", function (event) {
      if (typeof FormData === "undefined" || !form.checkValidity()) { return; }
      event.preventDefault();
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.upload.addEventListener("progress", function (progress) {
        if (!progress.lengthComputable) { return; }
        bar.max = progress.total;
        bar.value = progress.loaded;
        status.textContent = bar.getAttribute("data-sending")
          .replace("{percent}", Math.round(100 * progress.loaded / progress.total));
      });
      request.upload.addEventListener("load", function () {
        bar.removeAttribute("value");  // indeterminate while the server reads the rows
        status.textContent = bar.getAttribute("data-processing");
      });
      request.addEventListener("load", function () {
        if (request.responseURL && request.responseURL.indexOf(form.action) === -1) {
          window.location.assign(request.responseURL);  // the result page
          return;
        }
        var page = new DOMParser().parseFromString(request.responseText, "text/html");
        document.querySelector("main").replaceWith(page.querySelector("main"));
        document.querySelectorAll("form[data-upload-progress]").forEach(showUploadProgress);
      });
      request.addEventListener("error", function () {
        status.textContent = bar.getAttribute("data-failed");
        form.querySelector("button[type=submit]").disabled = false;
      });
      form.querySelector("button[type=submit]").disabled = true;
      bar.hidden = false;
      request.send(new FormData(form));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-upload-progress]").forEach(showUploadProgress);
    if (typeof htmx !== "undefined") { htmx.onLoad(drawSeries); } else { drawSeries(document); }
  });
})();
