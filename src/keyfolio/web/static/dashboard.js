/* Keyfolio dashboard: draws the charts whose figures the page embeds as JSON
 * (<script type="application/json" id=...>, never HTML), and opens an account when its
 * matrix bubble is clicked: customdata[0] of each point is the account id.
 *   <div class="chart" data-figure="figure-id" data-open="/accounts/">
 */
(function () {
  "use strict";
  function draw(el) {
    var src = document.getElementById(el.dataset.figure);
    if (!src || !window.Plotly) { return; }
    var fig = JSON.parse(src.textContent);
    window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false });
    var open = el.dataset.open;
    if (open) {
      el.on("plotly_click", function (ev) {
        var p = ev.points && ev.points[0];
        var id = p && p.customdata && p.customdata[0];
        if (id) { window.location.href = open + encodeURIComponent(id); }
      });
    }
  }
  document.querySelectorAll("[data-figure]").forEach(draw);
})();
