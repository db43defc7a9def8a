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

function makeSocket(opts = {}) {
  FakeWS.all = [];
  let n = 0;
  return new ParleySocket({
    url: async () => `ws://x/ws?token=t${++n}`,
    baseDelayMs: 5,
    maxDelayMs: 20,
    heartbeatMs: 60_000,
    ...opts,
  });
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

test('in the background the heartbeat is quiet, less frequent and waits for no reply', async () => {
  const s = makeSocket({ heartbeatMs: 30, quietHeartbeatMs: 10 });
  s.setBackground(true); // a tab hidden from the start
  s.start();
  await tick();
  const ws = FakeWS.all[0];
  ws.open();
  await tick(35);
  assert.ok(ws.sent.length >= 3);
  assert.ok(ws.sent.every((f) => f.action === 'heartbeat' && f.quiet === true && f.req === undefined));
  assert.equal(s.isOpen, true); // no pong came, and none was waited for
  assert.equal(s.pending.size, 0);

  s.setBackground(false); // visible again: a normal heartbeat at once, every heartbeatMs
  const normal = ws.sent.at(-1);
  assert.equal(normal.quiet, undefined);
  ws.push({ type: 'pong', req: normal.req, server_time: 'now' });
  const count = ws.sent.length;
  await tick(15);
  assert.equal(ws.sent.length, count); // the quiet interval is gone
  s.stop();
});

test('going to the background beats quietly at once, and only on a change', async () => {
  const s = makeSocket();
  s.start();
  await tick();
  const ws = FakeWS.all[0];
  ws.open();
  s.setBackground(true);
  assert.deepEqual(ws.sent.at(-1), { action: 'heartbeat', quiet: true });
  s.setBackground(true); // no change: no extra beat
  assert.equal(ws.sent.filter((f) => f.quiet).length, 1);
  s.stop();
});

test('each page of a sync pass is its own request, answered by its own synced', async () => {
  const s = makeSocket();
  s.start();
  await tick();
  const ws = FakeWS.all[0];
  ws.open();
  const first = s.request('sync', { since: '', limit: 100 });
  const { req } = ws.sent.at(-1);
  ws.push({ type: 'messages', req, messages: [{ chat_id: 'a', seq: 1 }, { chat_id: 'b', seq: 1 }] });
  ws.push({ type: 'synced', req, chats: [], next: 'p2' });
  assert.equal((await first).next, 'p2');
  const second = s.request('sync', { since: '', page: 'p2', limit: 100 });
  const page = ws.sent.at(-1);
  assert.deepEqual([page.since, page.page], ['', 'p2']);
  assert.notEqual(page.req, req);
  ws.push({ type: 'synced', req: page.req, chats: [], since: 't1' });
  assert.equal((await second).since, 't1');
  s.stop();
});
