/* The organisers' dashboard (/console/dashboard): draws its charts with Chart.js (/console/vendor/chart.umd.js)
 * and keeps figures, charts and tables current by polling GET /api/v1/dashboard with the console session.
 * The page works without this script: the server renders every figure and every chart's data table. */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  var dataBlock = document.getElementById("dashboard-data");
  if (!root || !dataBlock) return;

  var pollUrl = root.getAttribute("data-poll-url");
  var pollMs = Math.max(2, Number(root.getAttribute("data-poll-seconds")) || 5) * 1000;
  var problem = document.getElementById("dash-problem");
  var refresh = document.getElementById("dash-refresh");
  var generated = document.getElementById("dash-generated");

  // Colours with at least 3:1 contrast against the white background (WCAG 1.4.11); lines also differ in dash
  // and point style, so no series is told apart by colour alone.
  var BLUE = "#1d70b8", PURPLE = "#4c2c92", BLACK = "#0b0c0c", GREEN = "#00703c";
  var charts = {};
  var timer = null;
  var stopped = false;

  // --- formatting (as the server formats them) ----------------------------------------------------------

  function money(pence) {
    var sign = pence < 0 ? "-" : "";
    var abs = Math.abs(Math.round(pence));
    var pounds = Math.floor(abs / 100), rest = abs % 100;
    return sign + "£" + pounds.toLocaleString("en-GB") + "." + (rest < 10 ? "0" : "") + rest;
  }

  var WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function day(iso) {  // "2026-12-08" -> "Tue 8 Dec 2026", as the |day filter (conference/core/formats.py) says it
    var parts = iso.split("-");
    var d = new Date(Date.UTC(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2])));
    return WEEKDAYS[d.getUTCDay()] + " " + d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear();
  }

  function clock(iso) {  // "2026-12-08T09:30:12.5+00:00" -> "09:30:12": the figures' time, already in local time
    return iso.slice(11, 19);
  }

  function shortDay(iso) {  // chart axis: "8 Dec"
    var parts = iso.split("-");
    var d = new Date(Date.UTC(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2])));
    return d.toLocaleDateString("en-GB", {day: "numeric", month: "short", timeZone: "UTC"});
  }

  // Long axis labels wrapped onto lines (Chart.js draws an array as one line each) rather than clipped at the
  // canvas's left edge: Chart.js gives a y axis at most half the chart's width, little on a phone.
  function wrap(text, width) {
    var lines = [], line = "";
    String(text).split(/\s+/).forEach(function (word) {
      if (line && (line + " " + word).length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? line + " " + word : word;
      }
    });
    if (line) lines.push(line);
    return lines.length > 1 ? lines : lines[0] || "";
  }

  function labelWidth(chart, pixelsPerCharacter) {  // characters a line: half the chart's width
    var box = document.getElementById("chart-" + chart).parentNode;
    return Math.max(12, Math.floor(box.clientWidth / 2 / pixelsPerCharacter));
  }

  function lineCount(label) {
    return Array.isArray(label) ? label.length : 1;
  }

  function percent(value) {
    return Math.round(value) + "%";
  }

  function pick(data, path) {
    return path.split(".").reduce(function (value, key) { return value == null ? value : value[key]; }, data);
  }

  // --- figures --------------------------------------------------------------------------------------------

  function setText(node, text) {
    // Only a real change is written: the figures are an aria-live region, and a rewrite would be announced.
    if (node.textContent !== text) node.textContent = text;
  }

  function updateFigures(data) {
    var nodes = root.querySelectorAll("[data-figure]");
    for (var i = 0; i < nodes.length; i++) {
      var value = pick(data, nodes[i].getAttribute("data-figure"));
      if (value == null) continue;
      setText(nodes[i], nodes[i].getAttribute("data-format") === "money" ? money(value) : String(value));
    }
    generated.setAttribute("datetime", data.generated_at);
    setText(generated, clock(data.generated_at));
    var arrivalsDay = document.getElementById("arrivals-day");
    setText(arrivalsDay, data.series.arrivals.day ? "on " + day(data.series.arrivals.day) : "once the doors open");
  }

  // --- tables (the charts' text alternative) -------------------------------------------------------------

  function fillTable(id, rows, emptyText, columns) {
    var body = document.querySelector("#" + id + " tbody");
    var fresh = document.createElement("tbody");
    if (!rows.length) {
      var tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = columns;
      td.textContent = emptyText;
      tr.appendChild(td);
      fresh.appendChild(tr);
    }
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      if (row.className) tr.className = row.className;
      row.cells.forEach(function (text, index) {
        var cell = document.createElement(index === 0 ? "th" : "td");
        if (index === 0) cell.scope = "row";
        cell.textContent = String(text);
        tr.appendChild(cell);
      });
      fresh.appendChild(tr);
    });
    body.parentNode.replaceChild(fresh, body);
  }

  function updateTables(data) {
    var s = data.series, t = s.registrations_over_time;
    fillTable("table-registrations", t.days.map(function (d, i) {
      return {cells: [day(d), t.places_taken[i], t.with_waiting_list[i], t.capacity]};
    }), "No registrations yet.", 4);
    fillTable("table-sectors", s.sectors.map(function (r) { return {cells: [r.label, r.count]}; }), "", 2);
    fillTable("table-regions", s.regions.map(function (r) { return {cells: [r.label, r.count]}; }), "", 2);
    var rows = [];
    s.workshops.forEach(function (slot) {
      slot.sessions.forEach(function (w) {
        rows.push({cells: [slot.label, w.title + (w.room ? " (" + w.room + ")" : ""), w.booked, w.capacity,
                           percent(w.fill_percent), w.waitlisted]});
      });
      rows.push({className: "dash-total",
                 cells: [slot.label, "All workshops in this slot", slot.booked, slot.capacity,
                         percent(slot.fill_percent), slot.waitlisted]});
    });
    fillTable("table-workshops", rows, "No workshops in the programme yet.", 6);
    fillTable("table-arrivals", s.arrivals.buckets.map(function (b) { return {cells: [b.label, b.count]}; }),
              "Nobody has been checked in at the door yet.", 2);
  }

  // --- charts ---------------------------------------------------------------------------------------------

  // Each workshop's fill as a share of its own seats (the API's fill_percent): a 45-seat room and a 300-seat
  // hall are both drawn full when they are full. The counts are in the tooltip and the table.
  function workshopRows(data) {
    var labels = [], booked = [], free = [], details = [], width = labelWidth("workshops", 8);
    data.series.workshops.forEach(function (slot) {
      slot.sessions.forEach(function (w) {
        var title = wrap(w.title, width);
        labels.push([slot.label].concat(Array.isArray(title) ? title : [title]));
        booked.push(w.fill_percent);
        free.push(Math.max(100 - w.fill_percent, 0));
        details.push(w);
      });
    });
    return {labels: labels, booked: booked, free: free, details: details};
  }

  var workshopDetails = [];

  function workshopTooltip(item) {
    var w = workshopDetails[item.dataIndex];
    if (!w) return "";
    if (item.datasetIndex === 1) return Math.max(w.capacity - w.booked, 0) + " seats free";
    return w.booked + " of " + w.capacity + " seats booked (" + percent(w.fill_percent) + ")" +
      (w.waitlisted ? ", " + w.waitlisted + " waiting" : "");
  }

  function chartData(data) {
    var s = data.series, t = s.registrations_over_time, w = workshopRows(data);
    return {
      registrations: {
        labels: t.days.map(shortDay),
        datasets: [t.places_taken, t.with_waiting_list, t.days.map(function () { return t.capacity; })]
      },
      sectors: {labels: s.sectors.map(function (r) { return wrap(r.label, labelWidth("sectors", 7)); }),
                datasets: [s.sectors.map(function (r) { return r.count; })]},
      regions: {labels: s.regions.map(function (r) { return wrap(r.label, labelWidth("regions", 7)); }),
                datasets: [s.regions.map(function (r) { return r.count; })]},
      workshops: {labels: w.labels, datasets: [w.booked, w.free], details: w.details},
      arrivals: {labels: s.arrivals.buckets.map(function (b) { return b.label; }),
                 datasets: [s.arrivals.buckets.map(function (b) { return b.count; })]}
    };
  }

  function fewPoints(radius) {  // a point for each day while there are few; weeks of days draw as a line
    return function (context) { return context.chart.data.labels.length > 21 ? 0 : radius; };
  }

  function integerAxis(title) {
    return {beginAtZero: true, ticks: {precision: 0}, title: {display: !!title, text: title || ""}};
  }

  function makeCharts(data) {
    var Chart = window.Chart;
    Chart.defaults.color = BLACK;
    Chart.defaults.font.size = 14;
    Chart.defaults.animation = false;  // a dashboard that moves every few seconds should not also animate
    Chart.defaults.maintainAspectRatio = false;
    var c = chartData(data);

    charts.registrations = new Chart(document.getElementById("chart-registrations"), {
      type: "line",
      data: {labels: c.registrations.labels, datasets: [
        {label: "Places taken", data: c.registrations.datasets[0], borderColor: BLUE, backgroundColor: BLUE,
         borderWidth: 3, pointStyle: "circle", pointRadius: fewPoints(3)},
        {label: "With the waiting list", data: c.registrations.datasets[1], borderColor: PURPLE,
         backgroundColor: PURPLE, borderWidth: 2, borderDash: [3, 3], pointStyle: "triangle", pointRadius: fewPoints(4)},
        {label: "Capacity", data: c.registrations.datasets[2], borderColor: BLACK, backgroundColor: BLACK,
         borderWidth: 2, borderDash: [10, 5], pointRadius: 0}
      ]},
      options: {scales: {y: integerAxis("Delegates")}, plugins: {legend: {labels: {usePointStyle: true}}}}
    });
    charts.sectors = new Chart(document.getElementById("chart-sectors"), {
      type: "bar",
      data: {labels: c.sectors.labels, datasets: [{label: "Delegates", data: c.sectors.datasets[0],
                                                    backgroundColor: BLUE}]},
      options: {indexAxis: "y", scales: {x: integerAxis("Delegates"), y: {ticks: {autoSkip: false}}},
                plugins: {legend: {display: false}}}
    });
    charts.regions = new Chart(document.getElementById("chart-regions"), {
      type: "bar",
      data: {labels: c.regions.labels, datasets: [{label: "Delegates", data: c.regions.datasets[0],
                                                    backgroundColor: BLUE}]},
      options: {indexAxis: "y", scales: {x: integerAxis("Delegates"), y: {ticks: {autoSkip: false}}},
                plugins: {legend: {display: false}}}
    });
    workshopDetails = c.workshops.details;
    charts.workshops = new Chart(document.getElementById("chart-workshops"), {
      type: "bar",
      data: {labels: c.workshops.labels, datasets: [
        {label: "Booked", data: c.workshops.datasets[0], backgroundColor: BLUE, borderColor: BLUE,
         borderWidth: 2},
        {label: "Free", data: c.workshops.datasets[1], backgroundColor: "#ffffff", borderColor: BLACK,
         borderWidth: 2}
      ]},
      options: {indexAxis: "y",
                scales: {x: {stacked: true, beginAtZero: true, suggestedMax: 100,
                             ticks: {callback: function (v) { return v + "%"; }},
                             title: {display: true, text: "Share of the workshop's seats"}},
                         y: {stacked: true, ticks: {autoSkip: false}}},
                plugins: {tooltip: {callbacks: {label: workshopTooltip}}}}
    });
    sizeWorkshops(c.workshops.labels);
    charts.arrivals = new Chart(document.getElementById("chart-arrivals"), {
      type: "bar",
      data: {labels: c.arrivals.labels, datasets: [{label: "Arrivals", data: c.arrivals.datasets[0],
                                                     backgroundColor: GREEN}]},
      options: {scales: {y: integerAxis("Delegates")}, plugins: {legend: {display: false}}}
    });
  }

  function sizeWorkshops(labels) {
    // One bar per workshop, as tall as its label's lines: the box grows with them (CSSOM, which the style-src
    // policy allows).
    var lines = labels.reduce(function (sum, label) { return sum + Math.max(2, lineCount(label)); }, 0);
    document.getElementById("chart-workshops-box").style.height = Math.max(200, 90 + 20 * lines + 8 * labels.length) + "px";
  }

  function updateCharts(data) {
    var c = chartData(data);
    Object.keys(charts).forEach(function (name) {
      var chart = charts[name];
      chart.data.labels = c[name].labels;
      c[name].datasets.forEach(function (values, i) { chart.data.datasets[i].data = values; });
      if (name === "workshops") {
        workshopDetails = c.workshops.details;
        sizeWorkshops(c[name].labels);
      }
      chart.update("none");
    });
  }

  // --- polling --------------------------------------------------------------------------------------------

  function showProblem(text, link) {
    if (!problem.hidden && problem.firstChild && problem.firstChild.nodeValue === text) return;  // said already
    problem.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      problem.appendChild(document.createTextNode(" "));
      problem.appendChild(a);
    }
    problem.hidden = false;
  }

  function schedule() {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(poll, pollMs);
  }

  function apply(data) {
    updateFigures(data);
    updateTables(data);
    if (Object.keys(charts).length) updateCharts(data);
  }

  function poll() {
    if (document.hidden) return;  // resumes when the page is shown again
    fetch(pollUrl, {credentials: "same-origin", cache: "no-store", headers: {accept: "application/json"}})
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          stopped = true;
          showProblem("Your session has ended, so the figures stopped updating.",
                      {href: "/login?next=" + encodeURIComponent(location.pathname), text: "Sign in again"});
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data) return;
        apply(data);
        problem.hidden = true;
      })
      .catch(function () {
        showProblem("Could not reach the server to update the figures; trying again.");
      })
      .then(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !stopped) {
      clearTimeout(timer);
      poll();
    }
  });

  var initial = JSON.parse(dataBlock.textContent);
  if (typeof window.Chart === "function") {
    makeCharts(initial);
  } else {
    var missing = document.createElement("p");
    missing.className = "notice";
    missing.textContent = "The charts could not be loaded; the tables under each heading have the same figures.";
    root.querySelector(".dash-charts").insertAdjacentElement("beforebegin", missing);
  }
  refresh.textContent = "Updated every " + pollMs / 1000 + " seconds while this page is open.";
  schedule();
})();
