"""The task explorer's script and style, inlined into explorer.html (no CDN: the page works from file:// offline).

The data come as <script src> files that call FGIT_EXPLORER.add(benchmark, part, data) (fetch() of JSON is not
allowed from file://): a benchmark's index when it is chosen, a chunk of tasks when one of them is opened. The
state (benchmark, pair, filter, task, samples) lives in the URL's fragment, so a view can be linked to.
Everything from the data is set as text (textContent), never as markup."""

STYLE = """
body{font-family:system-ui,sans-serif;margin:1em;color:#222}
header{display:flex;flex-wrap:wrap;gap:.8em;align-items:center;margin-bottom:.8em}
select,label{font-size:.95em}
#main{display:grid;grid-template-columns:minmax(16em,22em) 1fr;gap:1em}
#tasks{list-style:none;margin:0;padding:0;max-height:85vh;overflow:auto;border:1px solid #ccc}
#tasks li{padding:.25em .5em;cursor:pointer;border-bottom:1px solid #eee;font-family:monospace}
#tasks li.selected{background:#dde8ff}
.cat{display:inline-block;min-width:5.5em;font-family:system-ui;font-size:.8em;padding:0 .3em;border-radius:3px}
.won{background:#c6efce}.lost{background:#ffc7ce}.both-pass{background:#e7f3e7}.both-fail{background:#f3e7e7}
.tie,.missing,.excluded{background:#eee}
pre{background:#f6f8fa;padding:.5em;overflow:auto;max-height:30em;margin:.3em 0;white-space:pre-wrap}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.chips span{display:inline-block;margin:1px;padding:0 .3em;border:1px solid #999;border-radius:3px;cursor:pointer;
font-size:.8em;font-family:monospace}
.chips span.ok{background:#c6efce}.chips span.bad{background:#ffc7ce}.chips span.sel{outline:2px solid #36c}
.diff .add{background:#e6ffec}.diff .del{background:#ffebe9}
table.failure td{vertical-align:top;padding:.2em .5em}table.failure td:first-child{font-weight:bold}
.flag{color:#a00;font-weight:bold}.muted{color:#777}
"""

SCRIPT = r"""
"use strict";
var FGIT_EXPLORER = {store: {}, waiting: {},
  add: function (bench, part, data) { this.store[bench + "/" + part] = data; }};
(function () {
  var META = JSON.parse(document.getElementById("explorer-meta").textContent);
  var labels = {};
  META.variants.forEach(function (v) { labels[v.name] = v.label; });
  var state = {};
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function readHash() {
    var out = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("=");
      out[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return out;
  }
  function writeHash() {
    var parts = [];
    ["b", "a", "vs", "f", "fl", "t", "sa", "sb"].forEach(function (k) {
      if (state[k] !== undefined && state[k] !== "") parts.push(k + "=" + encodeURIComponent(state[k]));
    });
    history.replaceState(null, "", "#" + parts.join("&"));
  }
  function benchDir(key) {
    var found = META.benchmarks.filter(function (b) { return b.key === key; })[0];
    return found ? found.dir : null;
  }
  function load(bench, part) {
    var key = bench + "/" + part;
    if (FGIT_EXPLORER.store[key]) return Promise.resolve(FGIT_EXPLORER.store[key]);
    if (FGIT_EXPLORER.waiting[key]) return FGIT_EXPLORER.waiting[key];
    FGIT_EXPLORER.waiting[key] = new Promise(function (resolve) {
      var s = el("script", {src: "explorer/" + benchDir(bench) + "/" + part + ".js"});
      s.onload = function () { resolve(FGIT_EXPLORER.store[key] || null); };
      s.onerror = function () { resolve(null); };
      document.head.appendChild(s);
    });
    return FGIT_EXPLORER.waiting[key];
  }
  function category(summary, a, b) {
    var sa = summary[a], sb = summary[b];
    if (!sa || !sb) return "missing";
    if (sa[3] || sb[3]) return "excluded";
    var ra = sa[1] / sa[0], rb = sb[1] / sb[0];
    if (ra > rb) return "won";
    if (ra < rb) return "lost";
    if (ra === 1) return "both-pass";
    if (ra === 0) return "both-fail";
    return "tie";
  }
  var ORDER = {"won": 0, "lost": 1, "both-pass": 2, "both-fail": 3, "tie": 4, "excluded": 5, "missing": 6};
  function fillSelect(select, options, value) {
    select.textContent = "";
    options.forEach(function (o) { select.appendChild(el("option", {value: o[0]}, o[1])); });
    select.value = value;
  }
  function controls() {
    fillSelect(document.getElementById("bench"), META.benchmarks.map(function (b) { return [b.key, b.key]; }),
               state.b);
    var vs = META.variants.map(function (v) { return [v.name, v.label]; });
    fillSelect(document.getElementById("va"), vs, state.a);
    fillSelect(document.getElementById("vb"), vs, state.vs);
    var pairs = [["", "choose a pair…"]].concat(META.pairs.map(function (p) {
      return [p[0] + "|" + p[1], labels[p[0]] + " vs " + labels[p[1]]]; }));
    fillSelect(document.getElementById("pair"), pairs, state.a + "|" + state.vs);
    if (document.getElementById("pair").value !== state.a + "|" + state.vs) document.getElementById("pair").value = "";
    document.getElementById("filter").value = state.f || "all";
    document.getElementById("flagged").checked = state.fl === "1";
  }
  function render() {
    writeHash();
    controls();
    var list = document.getElementById("tasks");
    var detail = document.getElementById("detail");
    load(state.b, "index").then(function (index) {
      list.textContent = "";
      if (!index) { list.appendChild(el("li", {}, "no data for " + state.b)); return; }
      var rows = index.tasks.map(function (t) { return {t: t, c: category(t.v, state.a, state.vs)}; });
      rows = rows.filter(function (r) {
        if (state.fl === "1" && !((r.t.v[state.a] || [])[2] || (r.t.v[state.vs] || [])[2])) return false;
        if (!state.f || state.f === "all") return true;
        if (state.f === "discordant") return r.c === "won" || r.c === "lost";
        return r.c === state.f;
      });
      rows.sort(function (x, y) { return ORDER[x.c] - ORDER[y.c]; });
      var counts = {};
      index.tasks.forEach(function (t) { var c = category(t.v, state.a, state.vs); counts[c] = (counts[c] || 0) + 1; });
      document.getElementById("summary").textContent = labels[state.a] + " vs " + labels[state.vs] + " on " +
        state.b + ": " + (counts.won || 0) + " won, " + (counts.lost || 0) + " lost, " + (counts["both-pass"] || 0) +
        " both pass, " + (counts["both-fail"] || 0) + " both fail" + (counts.tie ? ", " + counts.tie + " tied" : "") +
        " (" + rows.length + " shown)";
      rows.forEach(function (r) {
        var li = el("li", {"data-task": r.t.id, "data-category": r.c});
        li.appendChild(el("span", {"class": "cat " + r.c}, r.c));
        li.appendChild(document.createTextNode(" " + r.t.id));
        if ((r.t.v[state.a] || [])[2] || (r.t.v[state.vs] || [])[2]) li.appendChild(el("span", {"class": "flag"}, " ⚑"));
        if (r.t.id === state.t) li.className = "selected";
        li.onclick = function () { state.t = r.t.id; state.sa = ""; state.sb = ""; render(); };
        list.appendChild(li);
      });
      var chosen = index.tasks.filter(function (t) { return t.id === state.t; })[0];
      if (!chosen) { detail.textContent = ""; detail.appendChild(el("p", {"class": "muted"}, "Pick a task.")); return; }
      load(state.b, "chunk-" + chosen.chunk).then(function (chunk) {
        showTask(detail, chosen, chunk ? chunk[chosen.id] : null);
      });
    });
  }
  function pickSample(samples, wanted) {
    if (wanted !== undefined && wanted !== "") {
      var s = samples.filter(function (x) { return String(x.i) === String(wanted); })[0];
      if (s) return s;
    }
    return samples[0];
  }
  function failureTable(f) {
    var table = el("table", {"class": "failure"});
    [["input", f.input], ["expected", f.expected], ["actual", f.actual]].forEach(function (row) {
      var tr = el("tr", {"data-field": row[0]});
      tr.appendChild(el("td", {}, row[0]));
      var td = el("td", {});
      td.appendChild(el("pre", {"class": "failure-" + row[0]}, row[1] === null ? "–" : row[1]));
      tr.appendChild(td);
      table.appendChild(tr);
    });
    return table;
  }
  function side(task, variant, key) {
    var box = el("div", {"class": "side", "data-variant": variant});
    box.appendChild(el("h3", {}, labels[variant] || variant));
    var samples = task.variants[variant];
    if (!samples) { box.appendChild(el("p", {"class": "muted"}, "no sample")); return {box: box, program: ""}; }
    var sample = pickSample(samples, state[key]);
    if (samples.length > 1) {
      var chips = el("div", {"class": "chips"});
      samples.forEach(function (s) {
        var chip = el("span", {"class": (s.pass ? "ok" : "bad") + (s === sample ? " sel" : ""),
                              title: s.detail || "pass"}, s.i);
        chip.onclick = function () { state[key] = String(s.i); render(); };
        chips.appendChild(chip);
      });
      box.appendChild(el("p", {}, samples.filter(function (s) { return s.pass; }).length + " of " +
                           samples.length + " samples pass; showing sample " + sample.i));
      box.appendChild(chips);
    }
    var verdict = sample.pass ? "pass" : "fail";
    box.appendChild(el("p", {"class": "verdict"}, "verdict: " + verdict + " (base " + sample.base +
      (sample.plus ? ", plus " + sample.plus : "") + ")" + (sample.detail && !sample.pass ? " — " + sample.detail : "")));
    if (sample.excluded) box.appendChild(el("p", {"class": "muted"}, "excluded: " + sample.excluded_reason));
    if (sample.flags.length) box.appendChild(el("p", {"class": "flag"}, "gaming flags: " + sample.flags.join(", ")));
    box.appendChild(el("pre", {"class": "program"}, task.programs[sample.p]));
    if (sample.failure) {
      box.appendChild(el("h4", {}, "first failing input (" + sample.failure.split + " #" + sample.failure.index + ")"));
      box.appendChild(failureTable(sample.failure));
    }
    return {box: box, program: task.programs[sample.p]};
  }
  function diffLines(a, b) {
    var x = a.split("\n"), y = b.split("\n"), n = x.length, m = y.length;
    if (n * m > 4000000) return [[" ", "(programs too long to diff here)"]];
    var dp = [];
    for (var i = 0; i <= n; i++) { dp.push(new Int32Array(m + 1)); }
    for (i = n - 1; i >= 0; i--) for (var j = m - 1; j >= 0; j--)
      dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    var out = []; i = 0; j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) { out.push([" ", x[i]]); i++; j++; }
      else if (dp[i + 1][j] >= dp[i][j + 1]) { out.push(["-", x[i]]); i++; }
      else { out.push(["+", y[j]]); j++; }
    }
    for (; i < n; i++) out.push(["-", x[i]]);
    for (; j < m; j++) out.push(["+", y[j]]);
    return out;
  }
  function showTask(detail, entry, task) {
    detail.textContent = "";
    if (!task) { detail.appendChild(el("p", {}, "could not load " + entry.id)); return; }
    detail.appendChild(el("h2", {id: "task-title"}, entry.id + " — " + category(entry.v, state.a, state.vs)));
    detail.appendChild(el("h3", {}, "Prompt"));
    detail.appendChild(el("pre", {"class": "prompt"}, task.prompt || "(no prompt recorded)"));
    var sides = el("div", {"class": "sides"});
    var left = side(task, state.a, "sa"), right = side(task, state.vs, "sb");
    sides.appendChild(left.box); sides.appendChild(right.box);
    detail.appendChild(sides);
    detail.appendChild(el("h3", {}, "Diff (" + (labels[state.vs] || state.vs) + " → " + (labels[state.a] || state.a) + ")"));
    var pre = el("pre", {"class": "diff"});
    diffLines(right.program, left.program).forEach(function (d) {
      pre.appendChild(el("div", {"class": d[0] === "+" ? "add" : d[0] === "-" ? "del" : "same"}, d[0] + " " + d[1]));
    });
    detail.appendChild(pre);
  }
  function init() {
    var h = readHash();
    var names = META.variants.map(function (v) { return v.name; });
    var first = META.pairs[0] || [names[0], names[1] || names[0]];
    state = {b: h.b || (META.benchmarks[0] || {}).key, a: names.indexOf(h.a) >= 0 ? h.a : first[0],
             vs: names.indexOf(h.vs) >= 0 ? h.vs : first[1], f: h.f || "all", fl: h.fl || "", t: h.t || "",
             sa: h.sa || "", sb: h.sb || ""};
    document.getElementById("bench").onchange = function (e) { state.b = e.target.value; state.t = ""; render(); };
    document.getElementById("va").onchange = function (e) { state.a = e.target.value; render(); };
    document.getElementById("vb").onchange = function (e) { state.vs = e.target.value; render(); };
    document.getElementById("pair").onchange = function (e) {
      if (!e.target.value) return;
      var p = e.target.value.split("|"); state.a = p[0]; state.vs = p[1]; render(); };
    document.getElementById("filter").onchange = function (e) { state.f = e.target.value; render(); };
    document.getElementById("flagged").onchange = function (e) { state.fl = e.target.checked ? "1" : ""; render(); };
    if (!state.b) { document.getElementById("summary").textContent = "no benchmarks in this run"; return; }
    render();
  }
  init();
})();
"""
