// bakeoff report: open a run's details when it is linked to (grid cell, anchor, URL hash),
// and expand/collapse all runs. No network, no dependencies.
(function () {
  "use strict";
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
  openRun(location.hash.slice(1));
})();
