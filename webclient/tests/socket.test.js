import test from 'node:test';
import assert from 'node:assert/strict';
import { ParleySocket } from '../socket.js';
import { refreshDelay } from '../session.js';

// A stand-in for the browser WebSocket: the test opens, answers and closes it.
class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    FakeWS.all.push(this);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.closed = true;
  }
  open() {
    this.onopen && this.onopen();
  }
  push(frame) {
    this.onmessage && this.onmessage({ data: JSON.stringify(frame) });
  }
  serverClose() {
    this.onclose && this.onclose();
  }
}
globalThis.WebSocket = FakeWS;

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function makeSocket() {
  FakeWS.all = [];
  let n = 0;
  const s = new ParleySocket({ url: async () => `ws://x/ws?token=t${++n}`, baseDelayMs: 5, maxDelayMs: 20, heartbeatMs: 60_000 });
  return s;
}

test('replies are matched by req; sync resolves on synced, not on its messages frames', async () => {
  const s = makeSocket();
  const frames = [];
  s.on('frame', (f) => frames.push(f.type));
  s.start();
  await tick();
  const ws = FakeWS.all[0];
  ws.open();
  assert.equal(s.isOpen, true);
  assert.equal(ws.sent[0].action, 'heartbeat'); // sent at once on open
  const p = s.request('sync', { cursors: {} });
  const { req } = ws.sent[1];
  let done = false;
  p.then(() => (done = true));
  ws.push({ type: 'messages', req, chat_id: 'c', messages: [] });
  await tick();
  assert.equal(done, false);
  ws.push({ type: 'synced', req, chats: [] });
  const r = await p;
  assert.equal(r.type, 'synced');
  assert.deepEqual(frames, ['messages', 'synced']);
  const bad = s.request('history', { chat_id: 'nope' });
  ws.push({ type: 'error', req: ws.sent[2].req, code: 'forbidden', message: 'no' });
  await assert.rejects(bad, (e) => e.code === 'forbidden');
  s.stop();
});

test('a lost connection rejects pending requests and reconnects with a fresh URL', async () => {
  const s = makeSocket();
  s.start();
  await tick();
  FakeWS.all[0].open();
  const p = s.request('history', { chat_id: 'c' });
  FakeWS.all[0].serverClose();
  await assert.rejects(p, (e) => e.code === 'disconnected');
  assert.equal(s.state, 'waiting');
  await tick(40);
  assert.equal(FakeWS.all.length, 2);
  assert.equal(FakeWS.all[1].url, 'ws://x/ws?token=t2');
  FakeWS.all[1].open();
  assert.equal(s.isOpen, true);
  assert.equal(s.attempt, 0);
  s.stop();
  assert.equal(s.state, 'stopped');
});

test('backoff grows while connecting fails and is counted as failed opens', async () => {
  const s = makeSocket();
  s.start();
  await tick();
  FakeWS.all[0].serverClose(); // refused handshake: never opened
  assert.equal(s.failedOpens, 1);
  assert.equal(s.attempt, 1);
  await tick(40);
  FakeWS.all[1].serverClose();
  assert.equal(s.failedOpens, 2);
  assert.equal(s.attempt, 2);
  s.stop();
  await tick(50);
  assert.equal(FakeWS.all.length, 2); // no reconnect once stopped
});

test('requests while offline fail at once', async () => {
  const s = makeSocket();
  await assert.rejects(s.request('heartbeat'), (e) => e.code === 'offline');
  assert.equal(s.send('typing', {}), false);
});

test('token refresh is scheduled before expiry', () => {
  const now = 1_000_000;
  assert.equal(refreshDelay({ expires_at: now + 3_600_000, lifetime_ms: 3_600_000 }, now), 3_540_000);
  assert.equal(refreshDelay({ expires_at: now + 20_000, lifetime_ms: 20_000 }, now), 16_000);
  assert.equal(refreshDelay({ expires_at: now - 5, lifetime_ms: 20_000 }, now), 0);
});

test('a socket stopped before it started never connects', async () => {
  const s = makeSocket();
  s.stop();
  s.start();
  await tick(20);
  assert.equal(FakeWS.all.length, 0);
});
