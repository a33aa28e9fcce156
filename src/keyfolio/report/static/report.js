/* Keyfolio report: draws the Plotly charts embedded as JSON in #kf-charts.
   Large charts are drawn at load; the small per-account charts when they scroll into view
   (keeps a report with many key accounts responsive). keyfolioDrawAll() draws everything and
   then sets window.__keyfolioChartsReady (used before printing and by the PDF export). */
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("kf-charts").textContent);
  // Printing to PDF (keyfolio report --format pdf) draws at the printed width once: no resizing.
  var responsive = !window.__keyfolioPrint;
  var config = {
    displaylogo: false, responsive: responsive, showLink: false, showSendToCloud: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
  };
  var smallConfig = { displayModeBar: false, responsive: responsive };
  var drawn = {};

  function onMatrixClick(el) {
    el.on("plotly_click", function (ev) {
      var p = ev && ev.points && ev.points[0];
      var target = p && p.customdata && p.customdata[0];
      if (target && document.getElementById(target)) {
        window.location.hash = target;
      }
    });
  }

  function draw(id) {
    if (drawn[id]) { return drawn[id]; }
    var el = document.getElementById(id);
    var spec = specs[id];
    if (!el || !spec) { return Promise.resolve(); }
    var cfg = spec.small ? smallConfig : config;
    drawn[id] = Plotly.newPlot(el, spec.data, spec.layout, cfg).then(function () {
      el.setAttribute("data-drawn", "1");
      if (id === "chart-matrix") { onMatrixClick(el); }
    });
    return drawn[id];
  }

  window.keyfolioDrawAll = function () {
    return Promise.all(Object.keys(specs).map(draw)).then(function () {
      window.__keyfolioChartsReady = true;
      return true;
    });
  };

  var small = [], large = [];
  Object.keys(specs).forEach(function (id) { (specs[id].small ? small : large).push(id); });
  Promise.all(large.map(draw)).then(function () { window.__keyfolioMainReady = true; });

  if ("IntersectionObserver" in window) {
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) { draw(e.target.id); io.unobserve(e.target); }
      });
    }, { rootMargin: "600px 0px" });
    small.forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { io.observe(el); }
    });
  } else {
    small.forEach(draw);
  }
  window.addEventListener("beforeprint", function () {
    Object.keys(specs).forEach(draw);
  });
})();
