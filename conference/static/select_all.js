/* "Tick all on this page" for a console list's tick boxes (the registrations list's bulk approve and reject).
 * The page works without this script: a link there reloads the page with every box ticked (?tick=all). With it,
 * the link and a tick box in the column's heading tick or untick them all in place, and the box shows when only
 * some are ticked. */
(function () {
  "use strict";

  var all = document.querySelector("input[data-select-all]");
  if (!all) return;
  var form = all.form || all.closest("form");
  var name = all.getAttribute("data-select-all");
  var boxes = Array.prototype.slice.call(form.querySelectorAll('input[type="checkbox"][name="' + name + '"]'));
  if (!boxes.length) return;

  // The link (kept: on a phone the table's headings are hidden) ticks or unticks in place instead of reloading.
  var link = document.querySelector("#tick-all-link a");

  function sync() {
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    all.checked = ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
    if (link) link.textContent = link.getAttribute(all.checked ? "data-untick-text" : "data-tick-text");
  }

  function tickAll(ticked) {
    boxes.forEach(function (box) { box.checked = ticked; });
    sync();
  }

  all.hidden = false;
  var heading = document.getElementById("choose-heading");
  if (heading) heading.hidden = true;  // the box's own label says what it does
  all.addEventListener("change", function () { tickAll(all.checked); });
  if (link) {
    link.setAttribute("role", "button");
    link.addEventListener("click", function (event) {
      event.preventDefault();
      tickAll(!all.checked);
    });
  }
  boxes.forEach(function (box) { box.addEventListener("change", sync); });
  sync();
})();
