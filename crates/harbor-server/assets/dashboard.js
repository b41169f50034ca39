// RedditHarbor dashboard: reads the API with a bearer token and draws charts with Chart.js.
// All text from the data is set with textContent, never as HTML.
"use strict";

const charts = {};

function token() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    localStorage.setItem("harbor-token", fromHash);
    history.replaceState(null, "", location.pathname);
  }
  return localStorage.getItem("harbor-token") || "";
}

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  const body = await res.json();
  if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
  return body;
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
  charts[id] = new Chart(document.getElementById(id), config);
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function drawRuns(runs) {
  const items = runs.slice().reverse();
  const labels = items.map((r) => (r.started_at || "").replace("T", " ").slice(0, 16) + " " + (r.command || ""));
  draw("runs-chart", {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "duration (s)", data: items.map((r) => r.seconds || 0), yAxisID: "y" },
        { label: "rows", data: items.map((r) => r.rows_total || 0), yAxisID: "y1" },
        { label: "API calls", data: items.map((r) => r.api_calls_total || 0), yAxisID: "y" },
        { label: "HTTP 429", data: items.map((r) => r.http_429 || 0), yAxisID: "y" },
      ],
    },
    options: { scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } } },
  });
  draw("budget-chart", {
    type: "bar",
    data: {
      labels,
      datasets: [{
        label: "% of budget",
        data: items.map((r) => (r.seconds > 0 ? Math.round((100 * (r.api_calls_total || 0)) / ((r.seconds / 60) * 100)) : 0)),
      }],
    },
    options: { scales: { y: { beginAtZero: true, suggestedMax: 100 } } },
  });
}

function drawSubreddits(subs) {
  const top = subs.slice(0, 20);
  draw("subreddit-chart", {
    type: "bar",
    data: {
      labels: top.map((s) => s.name),
      datasets: [
        { label: "submissions", data: top.map((s) => s.submissions) },
        { label: "problem posts", data: top.map((s) => s.problem_submissions) },
      ],
    },
    options: { indexAxis: "y" },
  });
}

// The routes as a ring of harbor and legacy subreddits; no ring when nothing is routed.
function drawCutover(c) {
  const harbor = c.routes.filter((r) => r.route === "harbor").length;
  const legacy = c.routes.length - harbor;
  document.getElementById("cutover-phase").textContent = c.routes.length
    ? "phase " + c.phase + " · " + harbor + " subreddits on harbor, " + legacy + " on legacy"
    : "phase " + c.phase + " · no subreddit routed: every one goes to " + c.default_route +
      " (`harbor cutover` sets routes)";
  if (!c.routes.length) {
    if (charts["cutover-chart"]) {
      charts["cutover-chart"].destroy();
      delete charts["cutover-chart"];
    }
    return;
  }
  draw("cutover-chart", {
    type: "doughnut",
    data: { labels: ["harbor", "legacy"], datasets: [{ data: [harbor, legacy] }] },
  });
}

function drawStatus(s) {
  const box = document.getElementById("status");
  box.replaceChildren();
  box.append(el("div", "pipeline " + s.pipeline + " → " + s.destination));
  for (const [t, n] of Object.entries(s.tables)) box.append(el("div", t + ": " + n + " rows"));
  if (s.last_run) box.append(el("div", "last run " + s.last_run.run_id + " (" + s.last_run.status + ")"));
  box.append(el("div", "failed runs in 24 h: " + s.failed_runs_24h));
}

// The evidence as a sentence per dimension, the stored JSON behind a toggle.
function evidenceCell(o) {
  const td = el("td", undefined, "evidence");
  const list = el("ul", undefined, "reasons");
  for (const r of o.reasons || []) {
    const li = el("li");
    li.append(el("b", r.dimension.replace(/_/g, " ") + ": "));
    li.append(document.createTextNode(r.text));
    list.append(li);
  }
  td.append(list);
  if (o.evidence != null) {
    const raw = el("details");
    raw.append(el("summary", "raw JSON"));
    raw.append(el("pre", JSON.stringify(o.evidence, null, 1)));
    td.append(raw);
  }
  return td;
}

function drawOpportunities(items) {
  draw("opportunity-chart", {
    type: "bar",
    data: {
      labels: items.map((o) => (o.title || o.post_id).slice(0, 40)),
      datasets: [
        { label: "final score", data: items.map((o) => o.final_score) },
        { label: "pain intensity", data: items.map((o) => o.pain_intensity) },
        { label: "market demand", data: items.map((o) => o.market_demand) },
      ],
    },
    options: { scales: { y: { beginAtZero: true, max: 100 } } },
  });
  const body = document.getElementById("opportunities");
  body.replaceChildren();
  for (const o of items) {
    const tr = el("tr");
    tr.append(el("td", o.final_score == null ? "" : o.final_score.toFixed(1), "score"));
    const post = el("td");
    const a = el("a", o.title || o.post_id);
    if (o.permalink) a.href = "https://www.reddit.com" + o.permalink;
    post.append(a);
    if (o.app_name) post.append(el("div", o.app_name));
    tr.append(post);
    tr.append(el("td", o.subreddit || ""));
    const dims = ["market_demand", "pain_intensity", "monetization_potential", "market_gap", "technical_feasibility", "simplicity"]
      .filter((k) => o[k] != null).map((k) => k.replace(/_/g, " ") + " " + Math.round(o[k])).join(", ");
    tr.append(el("td", dims));
    tr.append(evidenceCell(o));
    body.append(tr);
  }
}

function growthText(t) {
  if (!t.posts_prev_4w) return t.posts_last_4w ? "new" : "-";
  const pct = Math.round((t.growth || 0) * 100);
  return (pct > 0 ? "+" : "") + pct + "%";
}

function drawThemes(items) {
  for (const id of Object.keys(charts)) {
    if (id.startsWith("theme-spark-")) {
      charts[id].destroy();
      delete charts[id];
    }
  }
  const body = document.getElementById("themes");
  body.replaceChildren();
  if (!items.length) {
    const tr = el("tr");
    const td = el("td", "No themes yet: run `harbor themes` (or `harbor run`).");
    td.colSpan = 7;
    tr.append(td);
    body.append(tr);
    return;
  }
  items.forEach((t, i) => {
    const tr = el("tr");
    const name = el("td");
    name.append(el("b", t.name || t.id));
    name.append(el("div", (t.subreddit_counts || []).slice(0, 3).map((s) => "r/" + s.subreddit + " " + s.posts).join(", "), "kv"));
    tr.append(name);
    tr.append(el("td", t.posts, "score"));
    tr.append(el("td", t.authors));
    tr.append(el("td", t.subreddits));
    tr.append(el("td", growthText(t), "growth"));
    const spark = el("td");
    const box = el("div", undefined, "spark");
    const canvas = el("canvas");
    canvas.id = "theme-spark-" + i;
    canvas.className = "sparkline";
    box.append(canvas);
    spark.append(box);
    tr.append(spark);
    const ex = el("td");
    const first = (t.examples || [])[0];
    if (first) {
      const a = el("a", "\u201c" + first.quote + "\u201d");
      if (first.url) a.href = first.url;
      ex.append(a);
    }
    tr.append(ex);
    body.append(tr);
    const weeks = t.recent_weeks || [];
    draw(canvas.id, {
      type: "line",
      data: { labels: weeks.map((_, k) => k), datasets: [{ data: weeks, borderWidth: 2, pointRadius: 0, fill: true, tension: 0.3 }] },
      options: { plugins: { legend: { display: false }, tooltip: { enabled: false } }, scales: { x: { display: false }, y: { display: false, beginAtZero: true } } },
    });
  });
}

async function refresh() {
  const msg = document.getElementById("message");
  msg.textContent = "";
  try {
    const [runs, subs, cutover, opps, status, themes] = await Promise.all([
      api("/api/v1/runs?limit=200"),
      api("/api/v1/subreddits"),
      api("/api/v1/cutover"),
      api("/api/v1/opportunities?limit=10"),
      api("/api/v1/status"),
      api("/api/v1/themes?limit=10"),
    ]);
    drawRuns(runs.items);
    drawSubreddits(subs.items);
    drawCutover(cutover);
    drawOpportunities(opps.items);
    drawStatus(status);
    drawThemes(themes.items);
    document.body.dataset.loaded = "true";
  } catch (e) {
    msg.textContent = "Cannot load: " + e.message;
    document.body.dataset.loaded = "error";
  }
}

document.getElementById("save").addEventListener("click", () => {
  localStorage.setItem("harbor-token", document.getElementById("token").value.trim());
  refresh();
});
if (token()) refresh();
setInterval(() => { if (token()) refresh(); }, 30000);
