/* Search and sort across every video of the report, offline: the rows come from
   index-data.js (loaded on first use); rows are built with textContent, never as markup. */
(function () {
  "use strict";
  var PAGE = 250;
  var table = document.getElementById("videos");
  if (!table) { return; }
  var body = table.tBodies[0], q = document.getElementById("q"), found = document.getElementById("found");
  var more = document.getElementById("more");
  var colors = JSON.parse(table.getAttribute("data-colors"));
  var labels = Object.keys(colors);
  var staticRows = Array.prototype.slice.call(body.rows);
  var heads = table.tHead.rows[0].cells, sortKey = null, asc = true, limit = PAGE, matches = [];

  function withData(cb) {
    if (window.EB_INDEX) { cb(); return; }
    var s = document.createElement("script");
    s.src = table.getAttribute("data-src");
    s.onload = cb;
    document.head.appendChild(s);
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function value(r, key) {
    if (key === "emotion") { return r.shares.length ? r.shares[0][0] : ""; }
    return r[key];
  }
  function cmp(a, b) {
    var x = value(a, sortKey), y = value(b, sortKey);
    var nx = x === null || x === undefined || x === "", ny = y === null || y === undefined || y === "";
    if (nx || ny) { return nx === ny ? 0 : (nx ? -1 : 1) * (asc ? 1 : -1); }
    if (typeof x === "string") { x = x.toLowerCase(); y = String(y).toLowerCase(); }
    return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
  }
  function row(r) {
    var tr = el("tr"), td = el("td", "name"), a = el("a", null, r.name);
    a.href = "videos/" + r.page; a.title = r.path || r.id;
    td.appendChild(a); td.appendChild(document.createTextNode(" "));
    var id = el("span", "id", r.short); id.title = r.id; td.appendChild(id); tr.appendChild(td);
    td = el("td"); td.appendChild(el("span", "status " + r.status, r.status));
    if (r.error) { td.appendChild(el("div", "error", r.error)); }
    tr.appendChild(td);
    tr.appendChild(el("td", "num", r.dur_txt));
    tr.appendChild(el("td", "num", r.faces === null ? "\u2013" : r.faces));
    td = el("td");
    if (r.voice_only) { td.appendChild(el("span", "tag", "voice only")); td.appendChild(document.createTextNode(" ")); }
    td.appendChild(el("span", "shares", r.shares.map(function (s) { return s[0] + " " + s[1] + "%"; }).join(", ") || "\u2013"));
    tr.appendChild(td);
    td = el("td", "num av", r.av);
    if (r.av_conf) { td.appendChild(el("div", "muted", r.av_conf)); }
    tr.appendChild(td);
    td = el("td");
    if (r.strip.length) {
      var d = el("div", "istrip");
      d.style.background = "linear-gradient(90deg, " + r.strip.map(function (s) {
        return (colors[labels[s[0]]] || "#444444") + " " + s[1] + "% " + s[2] + "%";
      }).join(", ") + ")";
      td.appendChild(d);
    } else { td.appendChild(el("span", "muted", "no timeline")); }
    tr.appendChild(td);
    return tr;
  }
  function show() {
    body.textContent = "";
    matches.slice(0, limit).forEach(function (r) { body.appendChild(row(r)); });
    found.textContent = matches.length + " of " + window.EB_INDEX.length + " videos" +
      (matches.length > limit ? ", first " + limit + " shown" : "");
    more.hidden = matches.length <= limit;
  }
  function update() {
    var text = q.value.trim().toLowerCase();
    if (!text && sortKey === null) {
      body.textContent = ""; staticRows.forEach(function (r) { body.appendChild(r); });
      found.textContent = ""; more.hidden = true; return;
    }
    withData(function () {
      matches = window.EB_INDEX.filter(function (r) {
        return !text || (r.name + " " + r.path + " " + r.id + " " + r.status + " " +
          r.shares.map(function (s) { return s[0]; }).join(" ") + (r.voice_only ? " voice only" : ""))
          .toLowerCase().indexOf(text) >= 0;
      });
      if (sortKey !== null) { matches.sort(cmp); }
      limit = PAGE; show();
    });
  }
  q.addEventListener("input", update);
  more.querySelector("button").addEventListener("click", function () { limit += PAGE; show(); });
  Array.prototype.forEach.call(heads, function (th) {
    if (!th.classList.contains("sortable")) { return; }
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      asc = sortKey === key ? !asc : true; sortKey = key;
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      update();
    });
  });
})();
