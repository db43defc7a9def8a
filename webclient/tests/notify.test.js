import test from 'node:test';
import assert from 'node:assert/strict';
import {
  MUTE_CHOICES, FOREVER_AFTER_MS, muteUntil, mutedAt, muteText, isoSeconds,
  shouldNotify, notificationFor, notificationState, NOTIFY_CONTROL, BODY_CHARS,
} from '../notify.js';
import { ChatStore } from '../store.js';

const T0 = Date.UTC(2025, 5, 10, 9, 30, 15, 678); // a Tuesday, with milliseconds
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// ---- mute choices -------------------------------------------------------------------

test('the mute choices send a future time to the second: 8 hours, a week, and 100 years for "until I turn it back on"', () => {
  assert.deepEqual(MUTE_CHOICES.map((c) => c.id), ['8h', '1w', 'forever']);
  assert.deepEqual(MUTE_CHOICES.map((c) => c.label), ['For 8 hours', 'For 1 week', 'Until I turn it back on']);
  assert.equal(muteUntil('8h', T0), '2025-06-10T17:30:15Z');
  assert.equal(muteUntil('1w', T0), '2025-06-17T09:30:15Z');
  assert.equal(muteUntil('forever', T0), '2125-06-10T09:30:15Z');
  assert.equal(muteUntil('nope', T0), null);
  for (const c of MUTE_CHOICES) {
    const until = muteUntil(c.id, T0);
    assert.match(until, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/); // the server answers muted_until in this form
    assert.ok(Date.parse(until) > T0);
  }
  assert.equal(isoSeconds(T0), '2025-06-10T09:30:15Z');
});

test('a mute holds until its time by this device clock, and reads as until when', () => {
  const until = muteUntil('8h', T0);
  assert.equal(mutedAt(until, T0), true);
  assert.equal(mutedAt(until, Date.parse(until) - 1), true);
  assert.equal(mutedAt(until, Date.parse(until)), false);
  assert.equal(mutedAt(null, T0), false);
  assert.equal(mutedAt('not a time', T0), false);

  assert.match(muteText(isoSeconds(T0 + 60_000), T0), /^Muted until \d\d:\d\d/); // later today: the time
  assert.match(muteText(isoSeconds(T0 + 2 * DAY), T0, 'en-US'), /^Muted until [A-Z][a-z]{2} \d\d:\d\d/);
  assert.match(muteText(muteUntil('1w', T0), T0, 'en-US'), /^Muted until Jun 1\d, 2025, \d\d:\d\d/);
  assert.equal(muteText(muteUntil('forever', T0), T0), 'Muted until you turn it back on');
  assert.equal(muteText(isoSeconds(T0 + FOREVER_AFTER_MS + DAY), T0), 'Muted until you turn it back on');
  assert.equal(muteText(isoSeconds(T0 - 1000), T0), ''); // over: no mark
  assert.equal(muteText(null, T0), '');
});

// ---- the store: where a mute is known from ---------------------------------------------

const chatObject = (extra = {}) => ({
  chat_id: 'c1',
  kind: 'direct',
  members: [{ user_id: 'alice', role: 'member' }, { user_id: 'bob', role: 'member' }],
  created_at: '2025-06-01T00:00:00Z',
  last_seq: 3,
  ...extra,
});

test('REST chat objects say the mute (absent: not muted); pushed chat frames and synced entries never clear it', () => {
  const s = new ChatStore('alice');
  const until = muteUntil('1w', T0);
  s.upsertChat(chatObject({ muted_until: until }), s.restStamp()); // GET /api/chats
  assert.equal(s.mutedUntil('c1', T0), until);
  assert.equal(s.isMuted('c1', T0), true);

  s.upsertChat(chatObject({ last_seq: 4, disappear_after: 86400 })); // a pushed `chat` frame: no muted_until
  s.applySynced({ chat_id: 'c1', last_seq: 5, delivered_seq: 5, read_seq: 5 }); // a sync pass
  assert.equal(s.mutedUntil('c1', T0), until);

  s.upsertChat(chatObject(), s.restStamp()); // GET /api/chats/{id} after an unmute on another device
  assert.equal(s.mutedUntil('c1', T0), null);
  assert.equal(s.isMuted('c1', T0), false);
});

test('an own mute call outranks a REST reply asked for before it; a later one wins again', () => {
  const s = new ChatStore('alice');
  s.upsertChat(chatObject(), s.restStamp());
  const before = s.restStamp(); // GET /api/chats sent ...
  const until = muteUntil('8h', T0);
  s.setMute('c1', until); // ... the mute's ok comes back first ...
  s.upsertChat(chatObject(), before); // ... then the stale reply, without muted_until
  assert.equal(s.mutedUntil('c1', T0), until);

  const after = s.restStamp();
  s.upsertChat(chatObject({ muted_until: '2025-06-11T00:00:00Z' }), after); // asked after the call: the server knows best
  assert.equal(s.mutedUntil('c1', T0), '2025-06-11T00:00:00Z');
  const older = s.restStamp();
  const newer = s.restStamp();
  s.upsertChat(chatObject(), newer);
  s.upsertChat(chatObject({ muted_until: until }), older); // two replies out of order: the older one loses
  assert.equal(s.mutedUntil('c1', T0), null);

  s.setMute('c1', until);
  s.setMute('c1', null); // unmute
  assert.equal(s.isMuted('c1', T0), false);
});

test('a mute past its time shows as unmuted, and the soonest end is known so the page can redraw then', () => {
  const s = new ChatStore('alice');
  s.upsertChat(chatObject());
  s.upsertChat({ ...chatObject(), chat_id: 'c2' });
  s.upsertChat({ ...chatObject(), chat_id: 'c3' });
  assert.equal(s.nextMuteEnd(T0), Infinity);
  s.setMute('c1', isoSeconds(T0 + 8 * HOUR));
  s.setMute('c2', isoSeconds(T0 + HOUR));
  s.setMute('c3', isoSeconds(T0 - HOUR)); // already over
  assert.equal(s.nextMuteEnd(T0), Date.parse(isoSeconds(T0 + HOUR)));
  assert.equal(s.isMuted('c2', T0 + 2 * HOUR), false);
  assert.equal(s.mutedUntil('c3', T0), null);
  assert.equal(s.nextMuteEnd(T0 + 2 * HOUR), Date.parse(isoSeconds(T0 + 8 * HOUR)));
  assert.equal(s.nextMuteEnd(T0 + 9 * HOUR), Infinity);
  assert.equal(s.mutedUntil('nope', T0), null);
});

// ---- which messages notify ------------------------------------------------------------

const message = (extra = {}) => ({ chat_id: 'c1', seq: 7, sender_id: 'bob', kind: 'text', text: 'dinner at 8?', ...extra });
const hiddenGranted = { me: 'alice', hidden: true, permission: 'granted', muted: false };

test('a live message notifies only in a hidden tab, with permission, from someone else, text or media', () => {
  assert.equal(shouldNotify(message(), hiddenGranted), true);
  for (const kind of ['image', 'video', 'file']) assert.equal(shouldNotify(message({ kind, text: undefined }), hiddenGranted), true);
  assert.equal(shouldNotify(message(), { ...hiddenGranted, hidden: false }), false); // the tab is on screen
  assert.equal(shouldNotify(message(), { ...hiddenGranted, permission: 'default' }), false);
  assert.equal(shouldNotify(message(), { ...hiddenGranted, permission: 'denied' }), false);
  assert.equal(shouldNotify(message(), { ...hiddenGranted, permission: 'unsupported' }), false);
  assert.equal(shouldNotify(message({ sender_id: 'alice' }), hiddenGranted), false); // own, from another device
  for (const kind of ['edit', 'delete', 'reaction']) {
    assert.equal(shouldNotify(message({ kind, relates_to: 3, emoji: '👍' }), hiddenGranted), false);
  }
  assert.equal(shouldNotify(message({ kind: 'system', sender_id: '', text: 'bob added carol' }), hiddenGranted), false);
  assert.equal(shouldNotify(message({ kind: 'system', sender_id: 'bob' }), hiddenGranted), false);
  assert.equal(shouldNotify(message({ deleted: true }), hiddenGranted), false);
  assert.equal(shouldNotify(null, hiddenGranted), false);
});

test('a muted chat notifies only of a message that mentions this user', () => {
  const muted = { ...hiddenGranted, muted: true };
  assert.equal(shouldNotify(message(), muted), false);
  assert.equal(shouldNotify(message({ text: '@alice look', mentions: ['alice'] }), muted), true);
  assert.equal(shouldNotify(message({ text: '@carol look', mentions: ['carol'] }), muted), false);
  assert.equal(shouldNotify(message({ mentions: 'alice' }), muted), false); // not a list
});

test('a notification: the sender as title, the text (first 100 code points) or what was sent as body, the chat as tag', () => {
  assert.deepEqual(notificationFor(message()), { title: 'bob', body: 'dinner at 8?', tag: 'c1' });
  const long = `${'😀'.repeat(60)}${'x'.repeat(60)}`;
  const body = notificationFor(message({ text: long })).body;
  assert.equal([...body].length, BODY_CHARS);
  assert.equal(body, `${'😀'.repeat(60)}${'x'.repeat(40)}`); // whole emoji: code points, not UTF-16 units
  assert.equal(notificationFor(message({ kind: 'image', text: undefined })).body, 'Photo');
  assert.equal(notificationFor(message({ kind: 'image', text: 'the summit' })).body, 'the summit');
  assert.equal(notificationFor(message({ kind: 'video', text: undefined })).body, 'Video');
  assert.equal(notificationFor(message({ kind: 'file', text: undefined, media: { filename: 'plan.pdf' } })).body, 'File: plan.pdf');
  assert.equal(notificationFor(message({ kind: 'file', text: undefined })).body, 'File');
  assert.equal(notificationFor(message({ text: '' })).body, 'New message');
  assert.equal(notificationFor(message({ chat_id: 'group:abc' })).tag, 'group:abc');
});

test('with previews off (push_previews) a notification says what was sent, not what it says', () => {
  const off = { previews: false };
  assert.deepEqual(notificationFor(message(), off), { title: 'bob', body: 'New message', tag: 'c1' });
  assert.equal(notificationFor(message({ kind: 'image', text: 'the summit' }), off).body, 'Photo');
  assert.equal(notificationFor(message({ kind: 'file', text: undefined, media: { filename: 'secret.pdf' } }), off).body, 'File');
});

test('the enable control follows the browser: no API, may ask, granted, denied', () => {
  assert.equal(notificationState(undefined), 'unsupported');
  assert.equal(notificationState({ permission: 'granted' }), 'unsupported'); // not a constructor
  const api = (permission) => Object.assign(function Notification() {}, { permission });
  assert.equal(notificationState(api('default')), 'default');
  assert.equal(notificationState(api('granted')), 'granted');
  assert.equal(notificationState(api('denied')), 'denied');
  assert.equal(notificationState(api(undefined)), 'default');
  assert.equal(NOTIFY_CONTROL.default.label, 'Enable notifications');
  assert.equal(NOTIFY_CONTROL.unsupported, undefined); // nothing shown
});
