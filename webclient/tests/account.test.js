import test from 'node:test';
import assert from 'node:assert/strict';
import {
  DISAPPEAR_OPTIONS, disappearLabel, disappearFromValue, timeLeftText, exportPollDelay, EXPORT_MAX_POLLS, pollExport,
} from '../account.js';
import { ChatStore } from '../store.js';

const T0 = Date.UTC(2024, 0, 1);
const at = (s) => new Date(T0 + s * 1000).toISOString();
const DAY = 86_400;

// ---- disappearing choices ---------------------------------------------------------

test('the disappearing choices are the durations update_chat accepts, and off', () => {
  assert.deepEqual(DISAPPEAR_OPTIONS.map((o) => o.seconds), [null, 86400, 604800, 7776000]);
  assert.deepEqual(DISAPPEAR_OPTIONS.map((o) => o.label), ['Off', '24 hours', '7 days', '90 days']);
  assert.equal(disappearLabel(null), 'Off');
  assert.equal(disappearLabel(undefined), 'Off');
  assert.equal(disappearLabel(604800), '7 days');
  assert.equal(disappearLabel(3600), '3600 s'); // a duration the client does not offer still shows
  assert.deepEqual(disappearFromValue(''), { seconds: null });
  assert.deepEqual(disappearFromValue('86400'), { seconds: 86400 });
  assert.equal(disappearFromValue('60'), null);
  assert.equal(disappearFromValue('abc'), null);
});

test('time left until a message disappears', () => {
  const now = T0;
  assert.equal(timeLeftText(at(30), now), '1 min');
  assert.equal(timeLeftText(at(45 * 60), now), '45 min');
  assert.equal(timeLeftText(at(DAY), now), '24 h');
  assert.equal(timeLeftText(at(7 * DAY), now), '7 days');
  assert.equal(timeLeftText(at(0), now), '');
  assert.equal(timeLeftText(at(-5), now), '');
  assert.equal(timeLeftText('not a date', now), '');
  assert.equal(timeLeftText(undefined, now), '');
});

// ---- export polling -----------------------------------------------------------------

test('an export is polled every second at first, then slower, a bounded number of times', () => {
  const delays = Array.from({ length: EXPORT_MAX_POLLS }, (_, i) => exportPollDelay(i));
  assert.deepEqual(delays.slice(0, 5), [1000, 1000, 1000, 1000, 1000]);
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i] >= delays[i - 1], 'never faster again');
  const total = delays.reduce((a, b) => a + b, 0);
  assert.ok(total >= 60_000 && total <= 300_000, `polls for ${total} ms in all`);
});

/** A fake status endpoint answering `answers` in turn, and a sleep that only records its waits. */
function fakes(answers) {
  const slept = [];
  let calls = 0;
  const getStatus = async () => {
    const a = answers[Math.min(calls++, answers.length - 1)];
    if (a instanceof Error) throw a;
    return a;
  };
  return { getStatus, sleep: async (ms) => slept.push(ms), slept, calls: () => calls };
}
const httpError = (status) => Object.assign(new Error(`http ${status}`), { status });

test('pollExport waits until the export is ready and answers its url', async () => {
  const f = fakes([{ status: 'pending' }, { status: 'pending' }, { status: 'ready', url: 'https://s3.example/x?sig=1' }]);
  const polls = [];
  const url = await pollExport(f.getStatus, { sleep: f.sleep, onPoll: (n) => polls.push(n) });
  assert.equal(url, 'https://s3.example/x?sig=1');
  assert.deepEqual(f.slept, [1000, 1000, 1000]); // a wait before each read
  assert.deepEqual(polls, [1, 2]); // progress after each read that was still pending
});

test('pollExport rides out transient failures but not a refusal', async () => {
  const f = fakes([httpError(0), httpError(503), httpError(429), { status: 'ready', url: 'https://s3.example/y' }]);
  assert.equal(await pollExport(f.getStatus, { sleep: f.sleep }), 'https://s3.example/y');

  const refused = fakes([{ status: 'pending' }, httpError(404)]);
  await assert.rejects(pollExport(refused.getStatus, { sleep: refused.sleep }), (e) => e.code === 'failed');
  assert.equal(refused.calls(), 2);

  const odd = fakes([{ status: 'failed' }]);
  await assert.rejects(pollExport(odd.getStatus, { sleep: odd.sleep }), (e) => e.code === 'failed');

  const noUrl = fakes([{ status: 'ready' }]);
  await assert.rejects(pollExport(noUrl.getStatus, { sleep: noUrl.sleep }), (e) => e.code === 'failed');
});

test('pollExport gives up after its last poll, and stops at once when cancelled', async () => {
  const f = fakes([{ status: 'pending' }]);
  await assert.rejects(pollExport(f.getStatus, { sleep: f.sleep, maxPolls: 7 }), (e) => e.code === 'timeout');
  assert.equal(f.calls(), 7);

  let cancel = false;
  const g = fakes([{ status: 'pending' }]);
  const run = pollExport(g.getStatus, { sleep: g.sleep, cancelled: () => cancel, onPoll: (n) => { if (n === 2) cancel = true; } });
  await assert.rejects(run, (e) => e.code === 'cancelled');
  assert.equal(g.calls(), 2);
});

// ---- a chat's disappearing setting in the store -------------------------------------

const chatObject = (extra = {}) => ({
  chat_id: 'c1', kind: 'direct', created_at: at(0), last_seq: 0,
  members: [{ user_id: 'alice', role: 'member' }, { user_id: 'bob', role: 'member' }], ...extra,
});
const msg = (seq, extra = {}) => ({
  chat_id: 'c1', seq, message_id: `m${seq}`, sender_id: 'bob', kind: 'text', text: `hello ${seq}`, sent_at: at(seq), ...extra,
});
const notice = (seq, seconds) => ({
  chat_id: 'c1', seq, message_id: `m${seq}`, sender_id: '', kind: 'system', sent_at: at(seq),
  text: seconds ? `bob set messages to disappear after ${seconds}` : 'bob turned off disappearing messages',
  event: { type: 'disappear_after', by: 'bob', seconds },
});

test('a chat object says whether messages disappear; a synced entry says nothing about it', () => {
  const s = new ChatStore('alice');
  s.upsertChat(chatObject({ disappear_after: 604800, last_seq: 3 }));
  assert.equal(s.chat('c1').disappear_after, 604800);
  s.applySynced({ chat_id: 'c1', kind: 'direct', last_seq: 5, delivered_seq: 0, read_seq: 0, limited: false });
  assert.equal(s.chat('c1').disappear_after, 604800, 'synced entries carry no disappear_after');
  s.upsertChat(chatObject({ last_seq: 6 })); // absent in a chat object: off
  assert.equal(s.chat('c1').disappear_after, null);
});

test('the system notice of a change sets it, and an older state never wins over a newer one', () => {
  const s = new ChatStore('alice');
  s.upsertChat(chatObject({ last_seq: 2 }));
  s.addMessages('c1', [msg(1), msg(2), notice(3, 86400)]);
  assert.equal(s.chat('c1').disappear_after, 86400, 'the notice, live');
  s.upsertChat(chatObject({ last_seq: 2 })); // a REST reply read before the change
  assert.equal(s.chat('c1').disappear_after, 86400);
  s.upsertChat(chatObject({ last_seq: 3, disappear_after: 86400 }));
  s.addMessage(notice(4, null));
  assert.equal(s.chat('c1').disappear_after, null, 'turned off');

  // scrollback brings an older notice: it changes nothing
  const t = new ChatStore('alice');
  t.upsertChat(chatObject({ last_seq: 20, disappear_after: 7776000 }));
  t.applyHistory({ chat_id: 'c1', messages: [notice(5, 86400), msg(6)], has_more: true });
  assert.equal(t.chat('c1').disappear_after, 7776000);
});

test('in a group whose info only admins edit, members may not change it; nobody may once they left', () => {
  const s = new ChatStore('alice');
  s.upsertChat(chatObject());
  assert.equal(s.canSetDisappearing('c1'), true, 'any member of a direct chat');
  const group = (role, settings) => ({ chat_id: 'g1', kind: 'group', name: 'G', created_at: at(0), last_seq: 0, settings,
    members: [{ user_id: 'alice', role }, { user_id: 'bob', role: 'admin' }] });
  s.upsertChat(group('member'));
  assert.equal(s.canSetDisappearing('g1'), true);
  s.upsertChat(group('member', { send: 'all', edit_info: 'admins' }));
  assert.equal(s.canSetDisappearing('g1'), false);
  s.upsertChat(group('admin', { send: 'all', edit_info: 'admins' }));
  assert.equal(s.canSetDisappearing('g1'), true);
  s.upsertChat({ ...group('admin'), members: [{ user_id: 'bob', role: 'admin' }] });
  assert.equal(s.canSetDisappearing('g1'), false, 'left');
  assert.equal(s.canSetDisappearing('nope'), false);
});

// ---- messages that disappear ----------------------------------------------------------

test('a message past its expires_at is shown deleted, as the server serves it from then on', () => {
  const s = new ChatStore('alice');
  s.upsertChat(chatObject({ disappear_after: DAY }));
  s.addMessages('c1', [msg(1), msg(2, { expires_at: at(2 + DAY), reactions: { '👍': ['alice'] } }), msg(3, { expires_at: at(3 + DAY) })]);
  assert.equal(s.nextExpiry, T0 + (2 + DAY) * 1000);
  assert.deepEqual(s.expireDue(T0 + 10_000), [], 'nothing due yet');

  const gone = s.expireDue(T0 + (2 + DAY) * 1000);
  assert.deepEqual(gone.map((m) => m.seq), [2]);
  const m2 = s.message('c1', 2);
  assert.equal(m2.deleted, true);
  assert.equal(m2.disappeared, true);
  assert.equal(m2.text, undefined);
  assert.equal(m2.reactions, undefined);
  assert.deepEqual(s.actionsFor(m2, T0), { react: false, reply: false, forward: false, edit: false, deleteForEveryone: false, deleteForMe: true });
  assert.equal(s.message('c1', 1).text, 'hello 1', 'messages without expires_at stay');
  assert.equal(s.nextExpiry, T0 + (3 + DAY) * 1000, 'the next one to watch');
  assert.deepEqual(s.timeline('c1').map((m) => m.seq), [1, 2, 3], 'the seq stays: no gap');
  assert.deepEqual(s.gaps('c1'), []);

  s.expireDue(T0 + 2 * DAY * 1000);
  assert.equal(s.message('c1', 3).disappeared, true);
  assert.equal(s.nextExpiry, Infinity);
});

test('a message served deleted after its expiry is marked as disappeared, one deleted before is not', () => {
  const s = new ChatStore('alice');
  s.upsertChat(chatObject({ disappear_after: DAY }));
  s.addMessages('c1', [msg(1, { deleted: true, text: undefined, expires_at: at(1 + DAY) }),
    msg(2, { deleted: true, text: undefined, expires_at: at(2 + 5 * DAY) })]);
  s.expireDue(T0 + 2 * DAY * 1000);
  assert.equal(s.message('c1', 1).disappeared, true);
  assert.equal(s.message('c1', 2).disappeared, undefined, 'deleted for everyone before its time');
  assert.equal(s.message('c1', 2).deleted, true);
});

test('an own message sent in a disappearing chat gets the expires_at the server gives it', () => {
  const s = new ChatStore('alice');
  s.upsertChat(chatObject({ disappear_after: 604800, last_seq: 1 }));
  s.addPending({ chat_id: 'c1', client_msg_id: 'x', text: 'bye' });
  const placed = s.confirmSent({ chat_id: 'c1', client_msg_id: 'x', seq: 2, message_id: 'm2', sent_at: at(100) });
  assert.equal(placed.expires_at, at(100 + 604800));
  assert.equal(s.nextExpiry, T0 + (100 + 604800) * 1000);

  s.upsertChat(chatObject({ last_seq: 3 })); // turned off
  s.addPending({ chat_id: 'c1', client_msg_id: 'y', text: 'stays' });
  assert.equal(s.confirmSent({ chat_id: 'c1', client_msg_id: 'y', seq: 4, message_id: 'm4', sent_at: at(200) }).expires_at, undefined);
});
