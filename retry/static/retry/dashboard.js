// The task dashboard: draws the figures, and keeps them fresh over the websocket feed, whose path (RETRY_FEED_PATH)
// the page gives in data-feed.
"use strict";

(function () {
  const root = document.getElementById("retry-dashboard");
  const stateLabel = document.getElementById("feed-state");
  const canOperate = root.dataset.operate === "1";
  const csrfInput = document.querySelector("#retry-dashboard input[name=csrfmiddlewaretoken]");
  // Ages grow while nothing changes: ask for fresh figures now and then even without task events.
  const REFRESH_MS = 5000;
  // The feed's close codes for a session that ended or an account that may no longer watch.
  const ACCESS_ENDED = { 4401: "session ended: reload to log in", 4403: "no longer allowed: reload" };

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "–" : String(text);
    if (className) td.className = className;
    return td;
  }

  function seconds(value) {
    if (value === null || value === undefined) return "–";
    if (value < 1) return (value * 1000).toFixed(0) + " ms";
    if (value < 120) return value.toFixed(1) + " s";
    if (value < 7200) return (value / 60).toFixed(1) + " min";
    return (value / 3600).toFixed(1) + " h";
  }

  function rate(value) {
    return value ? value.toFixed(2) : "0";
  }

  function fill(tableId, rows) {
    const body = document.querySelector("#" + tableId + " tbody");
    body.replaceChildren(...rows);
  }

  function queueRow(queue) {
    const tr = document.createElement("tr");
    tr.dataset.queue = queue.queue;
    if (queue.alarm) tr.className = "alarm";
    if (queue.paused) tr.classList.add("paused");
    tr.append(
      cell(queue.queue),
      cell(queue.backend),
      cell(queue.ready, "number"),
      cell(seconds(queue.oldest_ready_age), "number"),
      cell(seconds(queue.wait_p50), "number"),
      cell(seconds(queue.wait_p95), "number"),
      cell(queue.running, "number"),
      cell(queue.waiting_retry, "number"),
      cell(queue.dead, "number"),
      cell(rate(queue.arrived_per_minute), "number"),
      cell(rate(queue.succeeded_per_minute), "number"),
      cell(rate(queue.failed_per_minute), "number"),
      cell(queue.threshold === null ? "–" : seconds(queue.threshold), "number"),
      cell(queue.advised_workers, "number"),
      cell(queue.paused ? "paused" + (queue.paused_by ? " by " + queue.paused_by : "") : "active", "state"),
    );
    if (canOperate) {
      const control = cell("");
      control.replaceChildren(
        queue.paused ? actionForm("resume", queue.queue, "Resume") : actionForm("pause", queue.queue, "Pause"),
      );
      tr.append(control);
    }
    return tr;
  }

  function workerRow(worker, now) {
    const tr = document.createElement("tr");
    if (worker.stale) tr.className = "stale";
    const age = (now - Date.parse(worker.last_seen)) / 1000;
    const tasks = worker.current_tasks.map((id) => id.slice(0, 8)).join(" ");
    tr.append(
      cell(worker.process_id),
      cell(worker.kind),
      cell(worker.host),
      cell(worker.pid, "number"),
      cell(worker.queues.join(", ")),
      cell(worker.concurrency, "number"),
      cell(tasks || "idle"),
      cell(seconds(Math.max(age, 0)) + " ago"),
      cell(worker.stale ? "stale" : "live"),
    );
    return tr;
  }

  function actionForm(action, target, label) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = root.dataset.action;
    form.className = "inline";
    for (const [name, value] of [["csrfmiddlewaretoken", csrfInput ? csrfInput.value : ""], ["target", target]]) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    }
    const button = document.createElement("button");
    button.className = "button";
    button.name = "action";
    button.value = action;
    button.textContent = label;
    form.append(button);
    return form;
  }

  function failureRow(failure) {
    const tr = document.createElement("tr");
    const link = document.createElement("a");
    link.href = root.dataset.tasks + failure.id + "/change/";
    link.textContent = failure.task_path;
    const task = cell("");
    task.replaceChildren(link);
    const actions = cell("");
    if (canOperate) {
      actions.replaceChildren(
        actionForm("retry_now", failure.id, "Retry now"),
        actionForm("requeue_dead", failure.task_path, "Requeue all of this name"),
        actionForm("purge", failure.id, "Purge"),
      );
    }
    tr.append(
      cell(failure.finished_at ? new Date(failure.finished_at).toLocaleTimeString() : "–"),
      task,
      cell(failure.queue),
      cell(failure.attempts, "number"),
      cell(failure.error, "error"),
      actions,
    );
    return tr;
  }

  function draw(figures) {
    const now = Date.parse(figures.now);
    document.getElementById("figures-time").textContent = new Date(now).toLocaleTimeString();
    document.getElementById("window").textContent = String(Math.round(figures.window / 60));
    fill("queues", figures.queues.map(queueRow));
    fill("workers", figures.workers.length ? figures.workers.map((w) => workerRow(w, now)) : [emptyRow(9, "no worker has reported")]);
    fill("failures", figures.failures.length ? figures.failures.map(failureRow) : [emptyRow(6, "none")]);
    root.dispatchEvent(new CustomEvent("retry:figures"));  // the charts (charts.js) read their history again
  }

  function emptyRow(span, text) {
    const tr = document.createElement("tr");
    const td = cell(text);
    td.colSpan = span;
    tr.append(td);
    return tr;
  }

  function showState(name, text) {
    stateLabel.className = "state-" + name;
    stateLabel.textContent = text;
  }

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + root.dataset.feed);
    let timer = null;
    socket.onopen = () => {
      showState("live", "live");
      delay = 500;
      timer = setInterval(() => socket.send(JSON.stringify({ type: "refresh", version: 1 })), REFRESH_MS);
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "dashboard.figures") {
        showState("live", "live");
        draw(message.figures);
      } else if (message.type === "error" && message.code === "unavailable") {
        showState("lost", "database not answering…");
      }
    };
    socket.onclose = (event) => {
      clearInterval(timer);
      if (event.code in ACCESS_ENDED) {
        showState("lost", ACCESS_ENDED[event.code]);  // reconnecting would be refused again
        return;
      }
      showState("lost", "reconnecting…");
      setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
    };
  }

  draw(JSON.parse(document.getElementById("retry-figures").textContent));
  connect(500);
})();
