// valuesim view: sortable tables (click a header). No dependencies, works offline.
(function () {
  "use strict";
  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var v = cell.getAttribute("data-sort");
    return v !== null ? v : cell.textContent.trim();
  }
  function sortTable(table, index, numeric, descending) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      if (numeric) {
        var fx = parseFloat(x), fy = parseFloat(y);
        if (isNaN(fx) && isNaN(fy)) { return 0; }
        if (isNaN(fx)) { return 1; }   // missing values last, either direction
        if (isNaN(fy)) { return -1; }
        return descending ? fy - fx : fx - fy;
      }
      var c = x.localeCompare(y, undefined, { numeric: true });
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function init() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      var heads = table.tHead ? table.tHead.rows[0].cells : [];
      Array.prototype.forEach.call(heads, function (th, index) {
        th.setAttribute("tabindex", "0");
        function go() {
          var desc = th.getAttribute("aria-sort") === "ascending";
          Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
          th.setAttribute("aria-sort", desc ? "descending" : "ascending");
          sortTable(table, index, th.getAttribute("data-type") === "num", desc);
        }
        th.addEventListener("click", go);
        th.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
      });
    });
    document.documentElement.setAttribute("data-js", "ok");
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
