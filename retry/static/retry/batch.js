// A batch action's progress page: reads the batch's figures every second until it is done.
"use strict";

(function () {
  const root = document.getElementById("retry-batch");
  const POLL_MS = 1000;

  function show(progress) {
    const bar = document.getElementById("batch-bar");
    bar.max = Math.max(progress.total, 1);
    bar.value = Math.min(progress.processed, bar.max);
    document.getElementById("batch-figures").textContent =
      progress.processed + " of " + progress.total + " done, " + progress.changed + " changed";
    document.getElementById("batch-state").textContent = progress.state;
    const error = document.getElementById("batch-task-error");
    error.textContent = progress.task_error;
    error.hidden = !progress.task_error;
  }

  function poll() {
    fetch(root.dataset.progress, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((progress) => {
        show(progress);
        if (progress.state === "RUNNING") setTimeout(poll, POLL_MS);
      })
      .catch(() => setTimeout(poll, POLL_MS * 5));
  }

  if (document.getElementById("batch-state").textContent === "RUNNING") setTimeout(poll, POLL_MS);
})();
