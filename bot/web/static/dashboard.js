// Dashboard charts (chart.js served from /static/vendor). The numbers come from the page itself.
(function () {
  "use strict";
  var node = document.getElementById("dashboard-data");
  if (!node || typeof Chart === "undefined") return;
  var data = JSON.parse(node.textContent);
  var blue = "#135a9e", green = "#067647", red = "#b42318", amber = "#b54708";
  function chart(id, config) {
    var el = document.getElementById(id);
    if (!el) return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } } },
                                   config.options || {});
    new Chart(el, config);
  }
  chart("chart-category", { type: "bar", data: {
    labels: data.by_category.map(function (r) { return r.label; }),
    datasets: [{ label: "工单数", data: data.by_category.map(function (r) { return r.count; }), backgroundColor: blue }] },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  chart("chart-day", { type: "bar", data: {
    labels: data.by_day.map(function (r) { return r.day.slice(5); }),
    datasets: [{ label: "工单数", data: data.by_day.map(function (r) { return r.count; }), borderColor: blue,
                 backgroundColor: blue }] },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  chart("chart-ontime", { type: "bar", data: {
    labels: data.on_time.map(function (r) { return r.unit_name; }),
    datasets: [{ label: "按时办结率 %", data: data.on_time.map(function (r) { return r.rate; }),
                 backgroundColor: data.on_time.map(function (r) { return r.rate >= 90 ? green : (r.rate >= 70 ? amber : red); }) }] },
    options: { indexAxis: "y", scales: { x: { min: 0, max: 100 } } } });
  chart("chart-satisfaction", { type: "bar", data: {
    labels: data.satisfaction.distribution.map(function (r) { return r.score + " 分"; }),
    datasets: [{ label: "评价数", data: data.satisfaction.distribution.map(function (r) { return r.count; }),
                 backgroundColor: [red, amber, "#98a2b3", "#3e8e5e", green] }] },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  chart("chart-hotspots", { type: "bar", data: {
    labels: data.hotspots.map(function (r) { return r.compound + " · " + r.category_label; }),
    datasets: [{ label: "工单数", data: data.hotspots.map(function (r) { return r.count; }), backgroundColor: amber }] },
    options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } } });
  if (data.front_door && data.front_door.enabled) {
    chart("chart-door-day", { type: "bar", data: {
      labels: data.front_door.by_day.map(function (r) { return r.day.slice(5); }),
      datasets: [{ label: "居民消息", data: data.front_door.by_day.map(function (r) { return r.count; }), backgroundColor: green }] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  }
  document.body.setAttribute("data-charts", "ready");
})();
