/* The pickup screen: order numbers in "being made" and "ready", kept live by the websocket. */
"use strict";

(function () {
  const root = document.querySelector(".pickup");
  let orders = new Map();

  function render() {
    root.querySelectorAll("[data-column]").forEach((list) => {
      const numbers = [...orders.values()]
        .filter((order) => order.column === list.dataset.column)
        .sort((a, b) => a.number - b.number)
        .map((order) => element("li", "pickup-number", order.label));
      list.replaceChildren(...numbers);
    });
  }

  new LiveSocket(root.dataset.socket, {
    snapshot(message) {
      orders = new Map(message.orders.map((order) => [order.number, order]));
      render();
    },
    event(message) {
      if (message.type === "order") orders.set(message.order.number, message.order);
      else orders.delete(message.number);
      render();
    },
  }, root.querySelector(".connection"));
})();
