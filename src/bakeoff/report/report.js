// bakeoff report: draw the charts with the inlined plotly.js, open a run's details when it is
// linked to (grid cell, anchor, URL hash), and expand/collapse all runs. No network.
(function () {
  "use strict";
  function drawCharts() {
    var src = document.getElementById("chart-figures");
    if (!src || !window.Plotly) return;
    var figures = JSON.parse(src.textContent);
    var css = getComputedStyle(document.documentElement);
    var fg = css.getPropertyValue("--fg").trim();
    var line = css.getPropertyValue("--line").trim();
    var pending = Object.keys(figures).map(function (id) {
      var div = document.getElementById(id);
      if (!div) return null;
      var fig = figures[id];
      var layout = fig.layout;
      // A fixed plot area with the legend under the axis title; once drawn, the bottom margin
      // is fitted to the legend's real height, so the two never overprint.
      var PLOT = 280, GAP = 64;
      var fit = function (legendH) {
        layout.margin.b = GAP + legendH;
        layout.height = layout.margin.t + PLOT + layout.margin.b;
        layout.legend.y = -GAP / PLOT;
      };
      fit(22 * fig.data.length);
      layout.paper_bgcolor = layout.plot_bgcolor = "rgba(0,0,0,0)";
      layout.font = { color: fg, size: 12, family: "system-ui, sans-serif" };
      layout.xaxis.gridcolor = layout.yaxis.gridcolor = line;
      layout.hoverlabel = { font: { size: 12 } };
      return window.Plotly.newPlot(div, fig.data, layout, {
        displayModeBar: false, responsive: true,
      }).then(function () {
        var legend = div.querySelector(".legend");
        if (!legend) return null;
        fit(Math.ceil(legend.getBoundingClientRect().height) + 8);
        return window.Plotly.relayout(div, {
          height: layout.height, "margin.b": layout.margin.b, "legend.y": layout.legend.y,
        });
      });
    });
    Promise.all(pending).then(function () {
      document.documentElement.setAttribute("data-charts", "ready");
    });
  }
  function openRun(id) {
    var el = id && document.getElementById(id);
    if (!el) return;
    for (var p = el; p; p = p.parentElement) {
      if (p.tagName === "DETAILS") p.open = true;
    }
    el.scrollIntoView({ block: "start" });
    el.classList.remove("flash");
    void el.offsetWidth; // restart the highlight animation on a repeated click
    el.classList.add("flash");
  }
  function go(id) {
    if (location.hash !== "#" + id) history.replaceState(null, "", "#" + id);
    openRun(id);
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) return;
    var link = t.closest('a[href^="#run-"]');
    var cell = t.closest("td[data-run]");
    var toggle = t.closest("[data-toggle-runs]");
    if (link) {
      ev.preventDefault();
      go(link.getAttribute("href").slice(1));
    } else if (cell) {
      go(cell.getAttribute("data-run"));
    } else if (toggle) {
      var open = toggle.getAttribute("data-toggle-runs") === "open";
      document.querySelectorAll("details.run").forEach(function (d) { d.open = open; });
    }
  });
  window.addEventListener("hashchange", function () { openRun(location.hash.slice(1)); });
  drawCharts();
  openRun(location.hash.slice(1));
})();
