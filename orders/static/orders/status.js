// The order status page follows its order: a `status` event from /orders/<number>/events after each change.
(() => {
  const order = document.querySelector("[data-events]");
  if (!order) return;
  const status = order.querySelector("[data-status]");
  const live = order.querySelector("[data-live]");
  const source = new EventSource(order.dataset.events);

  source.addEventListener("status", (event) => {
    const state = JSON.parse(event.data);
    status.className = `status status-${state.status}`;
    status.textContent = state.status_label;
    for (const step of state.steps) {
      const item = order.querySelector(`[data-step="${step.kind}"]`);
      if (!item) continue;
      item.className = `step step-${step.status}`;
      item.querySelector(".step-status").textContent = step.status_label;
    }
    live.textContent = state.final ? "This order is closed." : "This page follows your order as it changes.";
    if (state.final) source.close();
  });
  source.addEventListener("open", () => { live.dataset.state = "live"; });
  source.addEventListener("error", () => { live.dataset.state = "reconnecting"; });
})();
