// The WebSocket: request/reply matching by `req`, heartbeat, reconnect with backoff.
// Catching up (`sync`) is the app's job on the 'open' event.

export class SocketError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code; // a PROTOCOL.md error code, or offline | disconnected | timeout
  }
}

const RETRYABLE = new Set(['offline', 'disconnected', 'timeout', 'rate_limited', 'internal']);
export const isRetryable = (err) => RETRYABLE.has(err && err.code);

export class ParleySocket {
  /**
   * @param {object} opts
   * @param {(failedOpens: number) => Promise<string>|string} opts.url  builds the URL (fresh token) before each attempt
   * @param {number} [opts.heartbeatMs]  30 s: presence counts a connection online while its heartbeat is < 60 s old
   * @param {number} [opts.quietHeartbeatMs]  60 s in the background: a quiet heartbeat keeps it online for 150 s
   */
  constructor({
    url,
    heartbeatMs = 30_000,
    quietHeartbeatMs = 60_000,
    requestTimeoutMs = 20_000,
    baseDelayMs = 500,
    maxDelayMs = 30_000,
  }) {
    this.opts = { url, heartbeatMs, quietHeartbeatMs, requestTimeoutMs, baseDelayMs, maxDelayMs };
    this.ws = null;
    this.state = 'idle'; // idle | connecting | open | waiting | stopped
    this.listeners = new Map();
    this.pending = new Map(); // req -> {resolve, reject, timer}
    this.nextReq = 0;
    this.attempt = 0;
    this.failedOpens = 0;
    this.retryTimer = null;
    this.heartbeatTimer = null;
    this.background = false;
    this.retryAt = 0;
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }

  emit(type, arg) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(arg);
      } catch (e) {
        console.error(`socket ${type} handler`, e);
      }
    }
  }

  get isOpen() {
    return this.state === 'open';
  }

  start() {
    if (this.state === 'idle') this._connect();
  }

  /** Close for good (logout): a stopped socket never reconnects. */
  stop() {
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    this._drop(false);
    this._setState('stopped');
  }

  /** Reconnect at once (the network came back): resets the backoff. */
  reconnectNow() {
    if (this.state === 'waiting') {
      this.attempt = 0;
      clearTimeout(this.retryTimer);
      this._connect();
    }
  }

  /** In the background (a hidden tab) the heartbeat is quiet and half as frequent; it changes at once. */
  setBackground(background) {
    if (this.background === background) return;
    this.background = background;
    if (this.isOpen) this._startHeartbeat();
  }

  /** Drop the current socket as if the network failed (reconnects with backoff). */
  drop() {
    this._drop(true);
  }

  /** Send an action and wait for the reply that echoes its `req`. */
  request(action, params = {}, { timeoutMs = this.opts.requestTimeoutMs } = {}) {
    if (!this.isOpen) return Promise.reject(new SocketError('offline', 'Not connected'));
    const req = `r${++this.nextReq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(req);
        reject(new SocketError('timeout', `${action}: no reply`));
      }, timeoutMs);
      this.pending.set(req, { resolve, reject, timer });
      try {
        this.ws.send(JSON.stringify({ ...params, action, req }));
      } catch {
        clearTimeout(timer);
        this.pending.delete(req);
        reject(new SocketError('offline', 'Not connected'));
      }
    });
  }

  /** Fire and forget (e.g. `typing`). Returns false when not connected. */
  send(action, params = {}) {
    if (!this.isOpen) return false;
    try {
      this.ws.send(JSON.stringify({ ...params, action }));
      return true;
    } catch {
      return false;
    }
  }

  // ---- internals -------------------------------------------------------------

  _setState(state) {
    this.state = state;
    this.emit('state', { state, retryAt: this.retryAt }); // retryAt: when a 'waiting' socket tries again
  }

  async _connect() {
    if (this.state === 'stopped' || this.state === 'connecting' || this.state === 'open') return;
    this.retryAt = 0;
    this._setState('connecting');
    let url;
    try {
      url = await this.opts.url(this.failedOpens);
    } catch (e) {
      console.warn('socket: cannot build URL', e);
      this._scheduleReconnect();
      return;
    }
    if (this.state !== 'connecting') return; // stopped meanwhile
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      console.warn('socket: cannot open', e);
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.opened = false;
    ws.onopen = () => {
      ws.opened = true;
      this.attempt = 0;
      this.failedOpens = 0;
      this._setState('open');
      this._startHeartbeat();
      this.emit('open');
    };
    ws.onmessage = (ev) => this._onFrame(ev.data);
    ws.onclose = () => this._closed(ws, true);
  }

  _onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    this.emit('frame', frame);
    // `messages` frames of a sync carry its req but are not its final reply (`synced`).
    const p = frame.req != null && frame.type !== 'messages' ? this.pending.get(frame.req) : null;
    if (p) {
      this.pending.delete(frame.req);
      clearTimeout(p.timer);
      if (frame.type === 'error') p.reject(new SocketError(frame.code, frame.message));
      else p.resolve(frame);
    }
  }

  _startHeartbeat() {
    clearInterval(this.heartbeatTimer);
    // A quiet heartbeat gets no reply to time out, so in the background a dead link is only noticed when
    // the browser closes the socket; the normal heartbeat checks the link again as soon as the tab shows.
    const beat = this.background
      ? () => this.send('heartbeat', { quiet: true })
      : () =>
          this.request('heartbeat', {}, { timeoutMs: 10_000 }).catch((e) => {
            if (e.code === 'timeout') this._drop(true); // a dead link: browsers can take minutes to notice
          });
    beat();
    this.heartbeatTimer = setInterval(beat, this.background ? this.opts.quietHeartbeatMs : this.opts.heartbeatMs);
  }

  _drop(reconnect) {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close();
    } catch {
      /* already closed */
    }
    this._closed(ws, reconnect);
  }

  _closed(ws, reconnect) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearInterval(this.heartbeatTimer);
    if (!ws.opened) this.failedOpens++;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new SocketError('disconnected', 'Connection lost'));
    }
    this.pending.clear();
    this.emit('close');
    if (reconnect && this.state !== 'stopped') this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this.state === 'stopped') return;
    const { baseDelayMs, maxDelayMs } = this.opts;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** this.attempt);
    const delay = Math.round(ceiling * (0.5 + Math.random() / 2)); // jitter: reconnects don't stampede
    this.attempt++;
    clearTimeout(this.retryTimer);
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => this._connect(), delay);
    this._setState('waiting');
  }
}
