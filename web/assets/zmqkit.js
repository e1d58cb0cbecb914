// zmqkit.js: a ZeroMQ client for web browsers, over WebSocket.
//
// It speaks ZWS 2.0 (ZeroMQ RFC 45) to any ws:// or wss:// endpoint of a
// zmqkit socket without security (Socket.Listen("ws://…"), Socket.Handler,
// or a device such as `zmqkit forwarder --backend ws://…`), and to libzmq's
// ws transport. It asks for the subprotocol "ZWS2.0", RFC 45's "no
// mechanism": browsers refuse a "/" in a subprotocol, so "ZWS2.0/NULL" is
// out of their reach. Each side's first message is then its routing id;
// after that, frames are as under NULL. Socket types: Sub, Req and Dealer.
// An ES module with no dependency and no build step:
//
//   import { Sub, Req } from "./zmqkit.js";
//   const sub = new Sub("ws://127.0.0.1:5556/events", { subscribe: ["prices."] });
//   sub.onmessage = (frames) => console.log(zmqkit.text(frames[0]));
//   const req = new Req("ws://127.0.0.1:5557/rpc");
//   const reply = await req.request("ping");
//
// Frames are Uint8Arrays; send and request also take strings (UTF-8) and
// ArrayBuffers. Sockets reconnect on their own, with back-off, until
// close(); a Sub subscribes again on each new connection.

const FLAG_LAST = 0x00;
const FLAG_MORE = 0x01;
const FLAG_COMMAND = 0x02;
export const SUBPROTOCOL = "ZWS2.0";

const utf8 = new TextEncoder();
const utf8dec = new TextDecoder();

/** bytes turns a frame given as string, ArrayBuffer or view into a Uint8Array. */
export function bytes(x) {
  if (x instanceof Uint8Array) return x;
  if (typeof x === "string") return utf8.encode(x);
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  throw new TypeError("zmqkit: a frame is a string, an ArrayBuffer or a typed array");
}

/** text decodes a frame as UTF-8. */
export function text(frame) {
  return utf8dec.decode(frame);
}

// command builds a ZMTP command body: name length, name, data.
function command(name, data) {
  const n = utf8.encode(name);
  const b = new Uint8Array(1 + n.length + data.length);
  b[0] = n.length;
  b.set(n, 1);
  b.set(data, 1 + n.length);
  return b;
}

/**
 * ZSocket is what the socket types share: the connection, the exchange of
 * routing ids, framing, heartbeats (PONG to PING), reconnection, and a
 * bounded queue of messages written while not connected.
 */
export class ZSocket {
  constructor(type, url, opts = {}) {
    this.type = type;
    this.url = url;
    this.reconnectMs = opts.reconnectMs ?? 100;
    this.maxReconnectMs = opts.maxReconnectMs ?? 5000;
    this.maxMessageBytes = opts.maxMessageBytes ?? 16 << 20;
    this.hwm = opts.hwm ?? 1000;
    /** called with each message received, an array of Uint8Array frames */
    this.onmessage = null;
    /** called with "connecting", "ready", "closed" or an Error */
    this.onstatus = null;
    this.routingId = bytes(opts.routingId ?? ""); // ours, sent first
    this.peerId = null; // the peer's routing id, once ready
    this.ready = false;
    this._ws = null;
    this._out = [];
    this._parts = [];
    this._size = 0;
    this._closed = false;
    this._backoff = this.reconnectMs;
    this._timer = null;
    this._connect();
  }

  _status(s) {
    if (this.onstatus) this.onstatus(s);
  }

  _connect() {
    this._status("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url, [SUBPROTOCOL]);
    } catch (e) {
      this._status(e);
      this._retry();
      return;
    }
    ws.binaryType = "arraybuffer";
    this._ws = ws;
    ws.onopen = () => {
      if (ws.protocol !== SUBPROTOCOL) {
        this._fail(ws, new Error(`server chose subprotocol "${ws.protocol}"`));
        return;
      }
      this._frame(ws, FLAG_LAST, this.routingId);
    };
    ws.onmessage = (ev) => this._onframe(ws, ev.data);
    ws.onclose = () => {
      if (this._ws !== ws) return;
      this._ws = null;
      const was = this.ready;
      this.ready = false;
      this._parts = [];
      this._size = 0;
      this._status("closed");
      this._disconnected(was);
      this._retry();
    };
    ws.onerror = () => {}; // onclose follows
  }

  _retry() {
    if (this._closed) return;
    this._timer = setTimeout(() => {
      this._timer = null;
      if (!this._closed) this._connect();
    }, this._backoff * (0.75 + Math.random() / 2));
    this._backoff = Math.min(this._backoff * 2, this.maxReconnectMs);
  }

  _fail(ws, err) {
    this._status(err);
    ws.close(1002, String(err.message).slice(0, 100));
  }

  _frame(ws, flags, body) {
    const m = new Uint8Array(1 + body.length);
    m[0] = flags;
    m.set(body, 1);
    ws.send(m);
  }

  _onframe(ws, data) {
    if (!(data instanceof ArrayBuffer)) return this._fail(ws, new Error("text message (ZWS messages are binary)"));
    const b = new Uint8Array(data);
    if (b.length === 0) return this._fail(ws, new Error("empty message"));
    const flags = b[0];
    const body = b.subarray(1);
    if (flags === FLAG_COMMAND) {
      if (this._parts.length) return this._fail(ws, new Error("command inside a message"));
      return this._command(ws, body);
    }
    if (flags !== FLAG_MORE && flags !== FLAG_LAST) return this._fail(ws, new Error(`bad flags 0x${flags.toString(16)}`));
    if (!this.ready) {
      // The peer's first message is its routing id.
      if (flags !== FLAG_LAST) return this._fail(ws, new Error("the peer's first message is no routing id"));
      this.peerId = body.slice();
      this.ready = true;
      this._backoff = this.reconnectMs;
      this._connected();
      const out = this._out;
      this._out = [];
      for (const m of out) this._write(m);
      this._status("ready");
      return;
    }
    this._size += body.length;
    if (this._size > this.maxMessageBytes) return this._fail(ws, new Error("message too large"));
    this._parts.push(body);
    if (flags === FLAG_LAST) {
      const msg = this._parts;
      this._parts = [];
      this._size = 0;
      this._receive(msg);
    }
  }

  _command(ws, body) {
    const n = body[0];
    if (body.length < 1 + n) return this._fail(ws, new Error("malformed command"));
    const name = text(body.subarray(1, 1 + n));
    const data = body.subarray(1 + n);
    switch (name) {
      case "PING": // ZMTP 3.1: answer with the ping's context
        this._frame(ws, FLAG_COMMAND, command("PONG", data.subarray(2, 18)));
        break;
      case "ERROR":
        this._status(new Error("peer sent ERROR: " + text(data.subarray(1, 1 + (data[0] || 0)))));
        break;
    }
  }

  // _write sends a message now; the caller checked that the socket is ready.
  _write(frames) {
    frames.forEach((f, i) => this._frame(this._ws, i < frames.length - 1 ? FLAG_MORE : FLAG_LAST, f));
  }

  // _send sends, or queues while not connected (up to hwm messages).
  _send(frames) {
    if (this.ready) return this._write(frames);
    if (this._out.length >= this.hwm) throw new Error("zmqkit: not connected and the queue is full");
    this._out.push(frames);
  }

  _connected() {}
  _disconnected() {}
  _receive(msg) {
    if (this.onmessage) this.onmessage(msg);
  }

  /** close ends the connection and stops reconnecting. */
  close() {
    this._closed = true;
    if (this._timer) clearTimeout(this._timer);
    if (this._ws) this._ws.close(1000);
  }
}

/** Sub receives what a PUB publishes on the topics (prefixes) it subscribes to. */
export class Sub extends ZSocket {
  constructor(url, opts = {}) {
    super("SUB", url, opts);
    this._topics = new Map();
    for (const t of opts.subscribe ?? []) this.subscribe(t);
  }

  /** subscribe receives the messages whose first frame starts with topic ("" : all). */
  subscribe(topic) {
    const t = bytes(topic);
    const key = Array.from(t).join(",");
    if (this._topics.has(key)) return;
    this._topics.set(key, t);
    if (this.ready) this._subscription(1, t);
  }

  /** unsubscribe undoes subscribe. */
  unsubscribe(topic) {
    const t = bytes(topic);
    const key = Array.from(t).join(",");
    if (!this._topics.delete(key)) return;
    if (this.ready) this._subscription(0, t);
  }

  // RFC 45: a subscription is a message of 0x01 and the topic; 0x00 cancels.
  _subscription(on, t) {
    const b = new Uint8Array(1 + t.length);
    b[0] = on;
    b.set(t, 1);
    this._write([b]);
  }

  _connected() {
    for (const t of this._topics.values()) this._subscription(1, t);
  }
}

/** Dealer sends to and receives from its peer freely (no envelope). */
export class Dealer extends ZSocket {
  constructor(url, opts = {}) {
    super("DEALER", url, opts);
  }

  /** send sends one message of the frames given. */
  send(...frames) {
    if (frames.length === 0) throw new Error("zmqkit: a message has at least one frame");
    this._send(frames.map(bytes));
  }
}

/** Req sends a request and awaits its reply, one at a time (as ZeroMQ's REQ). */
export class Req extends ZSocket {
  constructor(url, opts = {}) {
    super("REQ", url, opts);
    this.timeoutMs = opts.timeoutMs ?? 0;
    this._queue = [];
    this._current = null;
  }

  /** request sends the frames and resolves with the reply's frames. */
  request(...frames) {
    if (frames.length === 0) throw new Error("zmqkit: a request has at least one frame");
    return new Promise((resolve, reject) => {
      this._queue.push({ frames: frames.map(bytes), resolve, reject });
      this._next();
    });
  }

  _next() {
    if (this._current || this._queue.length === 0 || !this.ready) return;
    const r = (this._current = this._queue.shift());
    this._write([new Uint8Array(0), ...r.frames]); // the empty delimiter
    if (this.timeoutMs > 0) {
      r.timer = setTimeout(() => {
        if (this._current !== r) return;
        this._current = null;
        r.reject(new Error("zmqkit: request timed out"));
        // A late reply must not answer the next request: start afresh.
        if (this._ws) this._ws.close(1000);
      }, this.timeoutMs);
    }
  }

  _connected() {
    this._next();
  }

  _disconnected() {
    // The peer that had the request is gone: fail it, as a lost request.
    const r = this._current;
    this._current = null;
    if (r) {
      clearTimeout(r.timer);
      r.reject(new Error("zmqkit: connection lost before the reply"));
    }
  }

  _receive(msg) {
    const r = this._current;
    if (!r || msg.length < 1 || msg[0].length !== 0) return; // not a reply to ours
    this._current = null;
    clearTimeout(r.timer);
    r.resolve(msg.slice(1));
    this._next();
  }
}
