/* The certificate run's page (/console/after-event/runs/<id>): keeps the progress bar and figures current by
 * polling the run's JSON with the console session until it finishes. Without this script the page has a link
 * that reloads it. */
(function () {
  "use strict";

  var root = document.getElementById("run");
  if (!root || root.getAttribute("data-finished") === "true") return;

  var url = root.getAttribute("data-poll-url");
  var bar = document.getElementById("run-progress");
  var done = document.getElementById("run-done");
  var total = document.getElementById("run-total");
  var issued = document.getElementById("run-issued");
  var state = document.getElementById("run-state");
  var refresh = document.getElementById("run-refresh");
  var next = document.getElementById("run-next");
  var failures = 0;

  function show(p) {
    bar.max = Math.max(1, p.total);
    bar.value = p.total ? p.done : (p.finished ? 1 : 0);
    bar.textContent = p.percent + "%";
    done.textContent = String(p.done);
    total.textContent = String(p.total);
    issued.textContent = String(p.issued);
    if (p.failed) {
      state.textContent = "It stopped early: " + p.error;
    } else if (p.finished) {
      state.textContent = "Finished.";
    }
    if (p.finished) {
      refresh.hidden = true;
      next.hidden = false;
      root.setAttribute("data-finished", "true");
    }
  }

  function poll() {
    fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (p) {
        failures = 0;
        show(p);
        if (!p.finished) window.setTimeout(poll, 1000);
      })
      .catch(function () {
        failures += 1;  // a dropped connection: try again, more slowly; the refresh link stays
        window.setTimeout(poll, Math.min(30000, 1000 * Math.pow(2, failures)));
      });
  }

  window.setTimeout(poll, 500);
})();
