// caja console: the live request log. Every 1.5 s, fetch the rows newer than the
// newest one shown (same filters) and put them on top. No framework, no build.
(function () {
  "use strict";
  var table = document.getElementById("requests");
  if (!table || table.dataset.live !== "true") return;
  var body = table.tBodies[0];
  function newest() {
    var first = body.rows[0];
    return first ? first.dataset.id : "0";
  }
  function poll() {
    var query = table.dataset.query + "after=" + newest();
    fetch("/console/requests/rows?" + query, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (html.trim() === "") return;
        var holder = document.createElement("tbody");
        holder.innerHTML = html;
        var rows = Array.prototype.slice.call(holder.rows);
        for (var i = rows.length - 1; i >= 0; i--) {
          rows[i].classList.add("new");
          body.insertBefore(rows[i], body.firstChild);
        }
        var empty = document.getElementById("empty");
        if (empty) empty.remove();
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 1500); });
  }
  setTimeout(poll, 1500);
})();
