/* The kitchen board: renders the cards the websocket sends and turns buttons into actions. */
"use strict";

(function () {
  const root = document.querySelector(".board");
  const cardsNode = root.querySelector(".cards");
  const messageNode = root.querySelector(".board-message");
  const emptyNode = root.querySelector(".board-empty");
  const nextButton = root.querySelector(".next-button");
  const STEP_NAMES = { scoop: "Scoop", spread: "Spread", decorate: "Decorate" };
  const ORDER_STATUS = { received: "New", in_progress: "In progress", ready: "Ready" };
  let orders = new Map();
  let me = null;
  let skew = 0;
  let messageTimer = null;

  function now() {
    return Date.now() + skew;
  }

  function age(since) {
    const minutes = Math.max(0, Math.floor((now() - Date.parse(since)) / 60000));
    return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function taskText(task) {
    const attempts = `${task.attempt}/${task.max_attempts}`;
    if (task.status === "RUNNING") return `${task.name}: running ${attempts}`;
    if (task.status === "SUCCESSFUL") return `${task.name}: done`;
    if (task.status === "FAILED") return `${task.name}: failed ${attempts}${task.error ? " — " + task.error : ""}`;
    if (task.attempt === 0) return `${task.name}: queued`;
    const wait = Math.max(0, Math.ceil((Date.parse(task.run_after) - now()) / 1000));
    const when = wait > 0 ? `in ${wait} s` : "now";
    return `${task.name}: retry ${task.attempt + 1}/${task.max_attempts} ${when}${task.error ? " — " + task.error : ""}`;
  }

  function button(label, action, fields, className) {
    const node = element("button", "board-button " + (className || ""), label);
    node.type = "button";
    node.dataset.action = action;
    node.dataset.fields = JSON.stringify(fields);
    return node;
  }

  function stepNode(step) {
    const mine = step.claimed_by === me;
    const node = element("li", `board-step step-${step.status}${mine ? " step-mine" : ""}`);
    node.append(element("span", "step-name", STEP_NAMES[step.kind] || step.kind));
    if (step.status === "todo") {
      node.append(button("Claim", "claim", { step_id: step.id }, "primary"));
    } else if (step.status === "claimed" && mine) {
      node.append(button("Release", "release", { step_id: step.id }, "quiet"));
      node.append(button("Done", "finish", { step_id: step.id }, "primary"));
    } else if (step.status === "claimed") {
      node.append(element("span", "step-who", step.claimed_by));
    } else {
      node.append(element("span", "step-who", `✓ ${step.claimed_by || ""}`));
    }
    return node;
  }

  function cardNode(order) {
    const card = element("article", `board-card order-${order.status}`);
    card.dataset.orderId = order.id;
    const head = element("header", "card-head");
    head.append(element("span", "card-label", order.label));
    head.append(element("span", "card-status", ORDER_STATUS[order.status] || order.status));
    const ageNode = element("span", "card-age", age(order.created_at));
    ageNode.dataset.since = order.created_at;
    head.append(ageNode);
    card.append(head);
    card.append(element("p", "card-cake", `${order.flavour} · ${order.size}`));
    if (order.message) card.append(element("p", "card-message", `“${order.message}”`));
    card.append(element("p", "card-customer", order.customer_name));
    const steps = element("ol", "board-steps");
    order.steps.forEach((step) => steps.append(stepNode(step)));
    card.append(steps);
    if (order.tasks.length) {
      const tasks = element("ul", "card-tasks");
      order.tasks.forEach((task) => {
        const item = element("li", `task task-${task.status.toLowerCase()}${task.attempt ? " task-tried" : ""}`);
        item.textContent = taskText(task);
        item.dataset.task = JSON.stringify(task);
        tasks.append(item);
      });
      card.append(tasks);
    }
    const actions = element("footer", "card-actions");
    if (order.status === "ready") actions.append(button("Delivered", "deliver", { order_id: order.id }, "primary"));
    actions.append(button("Cancel", "cancel", { order_id: order.id }, "danger"));
    card.append(actions);
    return card;
  }

  function render() {
    const sorted = [...orders.values()].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
    cardsNode.replaceChildren(...sorted.map(cardNode));
    emptyNode.hidden = sorted.length > 0;
  }

  function tick() {
    cardsNode.querySelectorAll("[data-since]").forEach((node) => { node.textContent = age(node.dataset.since); });
    cardsNode.querySelectorAll("[data-task]").forEach((node) => { node.textContent = taskText(JSON.parse(node.dataset.task)); });
  }

  function say(text, kind) {
    messageNode.textContent = text;
    messageNode.dataset.kind = kind;
    messageNode.hidden = false;
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => { messageNode.hidden = true; }, kind === "error" ? 8000 : 3000);
  }

  const live = new LiveSocket(root.dataset.socket, {
    snapshot(message) {
      me = message.user;
      skew = clockSkew(message.now);
      orders = new Map(message.orders.map((order) => [order.id, order]));
      render();
    },
    event(message) {
      // Only the changed card is redrawn, so a button under someone's finger elsewhere stays put.
      const id = message.type === "order" ? message.order.id : message.order_id;
      const shown = cardsNode.querySelector(`[data-order-id="${id}"]`);
      if (message.type === "order") {
        orders.set(id, message.order);
        if (shown) shown.replaceWith(cardNode(message.order));
        else render();
      } else {
        orders.delete(id);
        shown?.remove();
        emptyNode.hidden = orders.size > 0;
      }
    },
    reply(message) {
      if (message.type === "error") say(message.message, "error");
      else if (message.type === "ok") say(message.message, "ok");
    },
    state(state) {
      nextButton.disabled = state !== "live";
      root.dataset.state = state;
    },
    denied() {
      say("Your session has ended. Log in again to use the board.", "error");
      setTimeout(() => { location.href = root.dataset.login; }, 1500);
    },
  }, root.querySelector(".connection"));

  root.addEventListener("click", (click) => {
    const target = click.target.closest("[data-action]");
    if (!target) return;
    if (target.dataset.action === "cancel" && !confirm("Cancel this order?")) return;
    const fields = target.dataset.fields ? JSON.parse(target.dataset.fields) : {};
    if (!live.send({ type: target.dataset.action, ...fields })) say("Not connected; try again in a moment.", "error");
  });
  setInterval(tick, 1000);
})();
