// The charts of the history (retry.monitoring.charts), drawn as plain SVG. On the dashboard they are read again when
// the feed brings fresh figures (the "retry:figures" event of dashboard.js), at most every LIVE_REFRESH_MS; on a
// task's page every TASK_REFRESH_MS. Other ranges are read when chosen.
"use strict";

(function () {
  const section = document.getElementById("retry-charts");
  if (!section) return;
  const SVG = "http://www.w3.org/2000/svg";
  const LIVE = "hour";
  const LIVE_REFRESH_MS = 15000;
  const TASK_REFRESH_MS = 30000;
  const SIZE = { width: 250, height: 130, left: 40, right: 6, top: 8, bottom: 20 };
  const CHARTS = [
    { title: "attempts per minute", lines: ["started", "succeeded", "retried", "failed", "lost"] },
    { title: "backlog (due tasks)", lines: ["ready"] },
    { title: "oldest ready", lines: ["oldest_ready_age"], seconds: true },
    { title: "wait and run time, p95", lines: ["wait_p95", "run_p95"], seconds: true },
  ];
  const LABELS = { oldest_ready_age: "oldest ready", wait_p95: "wait p95", run_p95: "run p95", ready: "due" };
  const grid = section.querySelector(".chart-grid");
  const until = section.querySelector(".chart-until");
  let span = LIVE;
  let readAt = Date.now();

  function node(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, String(value));
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function ceiling(value) {
    // The smallest 1, 2 or 5 times a power of ten at or above the highest value: a round top for the axis.
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    return [1, 2, 5, 10].map((m) => m * power).find((top) => top >= value);
  }

  function amount(value, seconds) {
    if (!seconds) return value >= 100 ? value.toFixed(0) : String(Math.round(value * 100) / 100);
    if (value < 1) return (value * 1000).toFixed(0) + " ms";
    if (value < 120) return value.toFixed(value < 10 ? 1 : 0) + " s";
    if (value < 7200) return (value / 60).toFixed(1) + " min";
    return (value / 3600).toFixed(1) + " h";
  }

  function when(time, figures) {
    const options = figures.step < 3600 ? { hour: "2-digit", minute: "2-digit" } : { month: "short", day: "numeric" };
    return new Date(time).toLocaleString([], options);
  }

  function path(values, x, y) {
    // One segment per run of measured points: a gap where nothing was measured.
    let d = "";
    let drawing = false;
    values.forEach((value, index) => {
      if (value === null) {
        drawing = false;
        return;
      }
      d += (drawing ? " L" : " M") + x(index).toFixed(1) + " " + y(value).toFixed(1);
      drawing = true;
    });
    return d.trim();
  }

  function chart(spec, series, figures) {
    const { width, height, left, right, top, bottom } = SIZE;
    const measured = spec.lines.flatMap((name) => series[name].filter((value) => value !== null));
    const highest = ceiling(Math.max(0, ...measured));
    const x = (index) => left + (index * (width - left - right)) / Math.max(figures.points - 1, 1);
    const y = (value) => height - bottom - (value / highest) * (height - top - bottom);
    const svg = node("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "data-chart": spec.lines[0] });
    svg.append(node("title", {}, `${series.name}: ${spec.title}`));
    svg.append(node("line", { class: "axis", x1: left, y1: y(0), x2: width - right, y2: y(0) }));
    svg.append(node("line", { class: "grid", x1: left, y1: y(highest), x2: width - right, y2: y(highest) }));
    svg.append(node("text", { class: "tick", x: left - 4, y: y(highest) + 4, "text-anchor": "end" }, amount(highest, spec.seconds)));
    svg.append(node("text", { class: "tick", x: left - 4, y: y(0) + 4, "text-anchor": "end" }, "0"));
    if (figures.start) {
      const last = Date.parse(figures.start) + (figures.points - 1) * figures.step * 1000;
      svg.append(node("text", { class: "tick", x: left, y: height - 4 }, when(figures.start, figures)));
      svg.append(node("text", { class: "tick", x: width - right, y: height - 4, "text-anchor": "end" }, when(last, figures)));
    }
    for (const name of spec.lines) {
      const values = series[name];
      const line = node("path", { class: "line line-" + name, d: path(values, x, y), "data-line": name });
      line.setAttribute("data-points", String(values.filter((value) => value !== null && value !== 0).length));
      line.append(node("title", {}, LABELS[name] || name));
      svg.append(line);
    }
    return svg;
  }

  function legend(spec) {
    const list = document.createElement("p");
    list.className = "chart-legend";
    for (const name of spec.lines) {
      const key = document.createElement("span");
      key.className = "key key-" + name;
      key.textContent = LABELS[name] || name;
      list.append(key);
    }
    return list;
  }

  function row(series, figures) {
    const block = document.createElement("div");
    block.className = "chart-row";
    block.dataset.name = series.name;
    const title = document.createElement("h3");
    title.textContent = series.name;
    block.append(title);
    for (const spec of CHARTS) {
      const figure = document.createElement("figure");
      const caption = document.createElement("figcaption");
      caption.textContent = spec.title;
      figure.append(caption, chart(spec, series, figures), legend(spec));
      block.append(figure);
    }
    return block;
  }

  function draw(figures) {
    until.textContent = figures.until
      ? "rolled up until " + new Date(figures.until).toLocaleString()
      : "no history yet: the dispatcher rolls up each minute once it has ended";
    const rows = figures.series.map((series) => row(series, figures));
    if (!rows.length) {
      const none = document.createElement("p");
      none.textContent = "Nothing to chart yet.";
      rows.push(none);
    }
    grid.replaceChildren(...rows);
  }

  async function read() {
    readAt = Date.now();
    const query = new URLSearchParams({ scope: section.dataset.scope, range: span });
    if (section.dataset.name) query.append("name", section.dataset.name);
    try {
      const response = await fetch(section.dataset.url + "?" + query, { headers: { Accept: "application/json" } });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok || !type.startsWith("application/json")) throw new Error("status " + response.status);
      draw(await response.json());
    } catch (error) {
      until.textContent = "charts not refreshed (" + error.message + "); trying again later";
    }
  }

  for (const button of section.querySelectorAll("button[data-range]")) {
    button.addEventListener("click", () => {
      span = button.dataset.range;
      for (const other of section.querySelectorAll("button[data-range]")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      read();
    });
  }

  const dashboard = document.getElementById("retry-dashboard");
  if (dashboard && dashboard.contains(section)) {
    dashboard.addEventListener("retry:figures", () => {
      if (span === LIVE && Date.now() - readAt > LIVE_REFRESH_MS) read();
    });
  } else {
    setInterval(() => span === LIVE && read(), TASK_REFRESH_MS);
  }
  draw(JSON.parse(document.getElementById("retry-charts-data").textContent));
})();
