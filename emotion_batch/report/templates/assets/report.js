/* A video page: swim lanes, drill-down, the evidence frame with its face boxes, and the
   detail charts drawn (with the shared plotly.js, loaded on first use) when opened.
   Everything comes from the page's JSON data island; text goes in with textContent. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg", W = 1000;
  var D = JSON.parse(document.getElementById("eb-data").textContent);
  var chart = document.getElementById("lanes-chart"), drill = document.getElementById("drill");
  var colors = chart ? JSON.parse(chart.getAttribute("data-colors")) : {};
  var frameSeconds = Object.keys(D.frames || {}).map(Number).sort(function (a, b) { return a - b; });

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function hms(s) {
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }
  function tickStep(span) {
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
    for (var i = 0; i < steps.length; i++) { if (span / steps[i] <= 12) { return steps[i]; } }
    return 14400;
  }
  function axis(from, to) {
    var row = el("div", "axis"), s = svg("svg", {viewBox: "0 0 " + W + " 18", preserveAspectRatio: "none"});
    row.appendChild(el("div"));
    var step = tickStep(to - from);
    for (var t = Math.ceil(from / step) * step; t <= to; t += step) {
      var x = (t - from) / (to - from) * W;
      s.appendChild(svg("line", {x1: x, x2: x, y1: 0, y2: 4, stroke: "#99a"}));
      var tx = svg("text", {x: x, y: 15, "text-anchor": t === from ? "start" : (t === to ? "end" : "middle")});
      tx.textContent = hms(t);
      s.appendChild(tx);
    }
    row.appendChild(s);
    return row;
  }
  function drawLanes(box, lanes, from, to, onPick) {
    box.textContent = "";
    lanes.forEach(function (lane) {
      var row = el("div", "lane");
      row.setAttribute("data-lane", lane.name);
      if (box === chart) { row.id = lane.id; }
      var label = el("div", "lane-label");
      if (lane.thumb) { var im = el("img"); im.src = lane.thumb; im.alt = lane.name; label.appendChild(im); }
      else if (!lane.voice) { label.appendChild(el("span", "nothumb")); }
      var name = lane.voice && lane.who.length ? lane.name + " \u00b7 " + lane.who.join(", ") : lane.name;
      var span = el("span", null, name);
      span.title = name;
      label.appendChild(span);
      row.appendChild(label);
      var s = svg("svg", {viewBox: "0 0 " + W + " 24", preserveAspectRatio: "none"});
      lane.cells.forEach(function (c) {
        if (c[1] <= from || c[0] >= to) { return; }
        var a = Math.max(c[0], from), b = Math.min(c[1], to);
        var r = svg("rect", {x: (a - from) / (to - from) * W, y: 2, height: 20,
          width: Math.max((b - a) / (to - from) * W, 0.5), fill: colors[D.labels[c[2]]] || "#444",
          "fill-opacity": Math.max(0.15, c[3] / 100), "class": "cell", "data-s": c[0], "data-e": c[1]});
        var t = svg("title");
        t.textContent = lane.name + " " + hms(c[0]) + (c[1] - c[0] > 1 ? "\u2013" + hms(c[1]) : "") + ": " +
          (D.labels[c[2]] || "?") + " " + (c[3] / 100).toFixed(2) +
          (lane.voice ? " (voice of " + lane.who[c[5]] + ")" : "") +
          (c[1] - c[0] > 1 ? ", " + (c.length > 4 ? c[4] : c[1] - c[0]) + " s with a reading" : "");
        r.appendChild(t);
        r.addEventListener("click", function () { onPick(c[0], c[1], r); });
        s.appendChild(r);
      });
      row.appendChild(s);
      box.appendChild(row);
    });
    box.appendChild(axis(from, to));
  }
  function select(rect) {
    Array.prototype.forEach.call(document.querySelectorAll("rect.cell.sel"), function (r) { r.classList.remove("sel"); });
    if (rect) { rect.classList.add("sel"); }
  }
  function nearestFrame(a, b) {
    var best = null;
    frameSeconds.forEach(function (f) {
      var d = f < a ? a - f : (f >= b ? f - b + 1 : 0);
      if (best === null || d < best.d) { best = {f: f, d: d}; }
    });
    return best === null ? null : best.f;
  }
  function showFrame(a, b, why) {
    var box = document.getElementById("frame-svg");
    if (!box || !frameSeconds.length || !D.size) { return; }
    var f = nearestFrame(a, b), w = D.size[0], h = D.size[1];
    box.textContent = "";
    box.setAttribute("viewBox", "0 0 " + w + " " + h);
    box.setAttribute("data-second", f);
    box.appendChild(svg("image", {href: D.frames[String(f)], x: 0, y: 0, width: w, height: h,
                                  preserveAspectRatio: "none"}));
    var ids = [];
    (D.boxes[String(f)] || []).forEach(function (bx) {
      var g = svg("g", {"class": "face-box", "data-id": bx[0]});
      g.appendChild(svg("rect", {x: bx[1], y: bx[2], width: bx[3] - bx[1], height: bx[4] - bx[2]}));
      var fs = Math.max(8, Math.round(h / 22));
      var t = svg("text", {x: bx[1] + 2, y: Math.max(fs, bx[2] - 3), "font-size": fs});
      t.textContent = bx[0];
      g.appendChild(t);
      box.appendChild(g);
      ids.push(bx[0]);
    });
    var cap = document.getElementById("frame-caption");
    var inside = f >= a && f < b;
    cap.textContent = (why ? why + ": " : "") + "frame at " + hms(f) + " (second " + f + ")" +
      (inside ? "" : ", the nearest extracted to " + hms(a) + (b - a > 1 ? "\u2013" + hms(b) : "")) +
      (ids.length ? "; boxes: " + ids.join(", ") : "; no face in this second");
  }
  function pick(a, b, rect) {
    select(rect);
    if (D.lanes.col > 1 && D.lanes.seconds && b - a > 1) {
      drill.hidden = false;
      drawLanes(drill, D.lanes.seconds, a, b, function (s, e, r) { select(r); showFrame(s, e, "clicked"); });
      drill.insertBefore(el("h3", null, hms(a) + "\u2013" + hms(b) + " by second"), drill.firstChild);
    }
    showFrame(a, b, "clicked");
  }
  if (chart) {
    drawLanes(chart, D.lanes.lanes, 0, Math.max(D.lanes.span, 1), pick);
    var hash = decodeURIComponent(location.hash.slice(1));
    var target = hash && document.getElementById(hash);
    if (target) { target.classList.add("hit"); target.scrollIntoView(); }
  }
  if (D.overview !== null && D.overview !== undefined) {
    showFrame(D.overview, D.overview + 1, "overview (the second with the most faces)");
  } else if (frameSeconds.length) {
    showFrame(frameSeconds[0], frameSeconds[0] + 1, "no face was found; a frame");
  }

  var plotlyState = null, waiting = [];
  function withPlotly(cb) {
    if (window.Plotly) { cb(); return; }
    waiting.push(cb);
    if (plotlyState) { return; }
    plotlyState = "loading";
    var s = document.createElement("script");
    s.src = "../assets/plotly.min.js";
    s.onload = function () { waiting.splice(0).forEach(function (f) { f(); }); };
    document.head.appendChild(s);
  }
  function unq(v) { return v === null ? null : v / 100; }
  function drawCharts(root) {
    var divs = root.querySelectorAll(".chart[data-fig]:not(.drawn)");
    if (!divs.length) { return; }
    withPlotly(function () {
      Array.prototype.forEach.call(divs, function (d) {
        var fig = D.figs[Number(d.getAttribute("data-fig"))];
        d.classList.add("drawn");
        fig.data.forEach(function (t) {  /* hundredths and the shared x back (charts.py) */
          if (fig.x && t.x === undefined) { t.x = fig.x; }
          var key = t.type === "heatmap" ? "z" : "y", v = t[key];
          t[key] = t.type === "heatmap" ? v.map(function (r) { return r.map(unq); }) : v.map(unq);
        });
        window.Plotly.newPlot(d, fig.data, fig.layout, {displaylogo: false, responsive: true,
          modeBarButtonsToRemove: ["toImage"]});
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("details"), function (det) {
    det.addEventListener("toggle", function () { if (det.open) { drawCharts(det); } });
  });
})();
