/* A board's websocket: reconnects with backoff, checks event numbers, asks for a snapshot on a gap. */
"use strict";

// Close codes after which reconnecting would only be refused again (see consumers/protocol.py).
const FINAL_CLOSES = { 4401: "denied", 4403: "denied" };
const MAX_BACKOFF_MS = 30000;

class LiveSocket {
  constructor(path, handlers, indicator) {
    this.url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
    this.handlers = handlers;
    this.indicator = indicator;
    this.seq = null;
    this.failures = 0;
    this.socket = null;
    this.open();
  }

  open() {
    this.show("connecting", "Connecting…");
    this.socket = new WebSocket(this.url);
    this.socket.onopen = () => { this.failures = 0; this.show("live", "Live"); };
    this.socket.onmessage = (frame) => this.receive(JSON.parse(frame.data));
    this.socket.onclose = (closing) => this.closed(closing.code);
  }

  closed(code) {
    this.seq = null;
    this.awaitingSnapshot = false;
    if (FINAL_CLOSES[code]) {
      this.show("denied", code === 4403 ? "Staff only" : "Logged out");
      this.handlers.denied?.(code);
      return;
    }
    // Full jitter: many boards coming back after a restart spread their reconnects.
    const ceiling = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.failures);
    const delay = 500 + Math.random() * ceiling;
    this.failures += 1;
    this.show("offline", `Offline — retrying in ${Math.ceil(delay / 1000)} s`);
    setTimeout(() => this.open(), delay);
  }

  receive(message) {
    if (message.type === "snapshot") {
      this.seq = message.seq;
      this.awaitingSnapshot = false;
      this.handlers.snapshot(message);
    } else if (message.type === "order" || message.type === "order.removed") {
      if (this.seq === null || message.seq !== this.seq + 1) {
        this.resync();
        return;
      }
      this.seq = message.seq;
      this.handlers.event(message);
    } else {
      this.handlers.reply?.(message);
    }
  }

  resync() {
    // One request per gap: later events are dropped until the snapshot comes.
    if (!this.awaitingSnapshot) this.awaitingSnapshot = this.send({ type: "snapshot" });
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ version: 1, ...message }));
      return true;
    }
    return false;
  }

  show(state, text) {
    this.indicator.dataset.state = state;
    this.indicator.textContent = text;
    this.handlers.state?.(state);
  }
}

/* Server time minus local time, so ages and countdowns read the same on every screen. */
function clockSkew(serverNow) {
  return Date.parse(serverNow) - Date.now();
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
