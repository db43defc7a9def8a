import test from 'node:test';
import assert from 'node:assert/strict';
import { ChatStore, TYPING_TTL_MS } from '../store.js';

const msg = (seq, sender = 'bob', extra = {}) => ({
  chat_id: 'c1',
  seq,
  message_id: `m${seq}`,
  sender_id: sender,
  kind: 'text',
  text: `hello ${seq}`,
  sent_at: new Date(Date.UTC(2024, 0, 1, 0, 0, seq)).toISOString(),
  ...extra,
});

const directStore = () => {
  const s = new ChatStore('alice');
  s.upsertChat({
    chat_id: 'c1',
    kind: 'direct',
    members: [
      { user_id: 'alice', role: 'member' },
      { user_id: 'bob', role: 'member' },
    ],
    created_at: '2024-01-01T00:00:00Z',
    last_seq: 0,
  });
  return s;
};

const seqs = (s, chat = 'c1') => s.messages(chat).map((m) => m.seq);

test('messages are ordered by seq whatever the arrival order', () => {
  const s = directStore();
  for (const n of [3, 1, 5, 2, 4]) s.addMessage(msg(n));
  assert.deepEqual(seqs(s), [1, 2, 3, 4, 5]);
  assert.equal(s.lastSeq('c1'), 5);
  assert.equal(s.lastMessage('c1').seq, 5);
});

test('repeats are dropped by (chat_id, seq)', () => {
  const s = directStore();
  assert.equal(s.addMessage(msg(1)), true);
  assert.equal(s.addMessage(msg(1, 'bob', { text: 'other copy' })), false);
  const added = s.addMessages('c1', [msg(1), msg(2), msg(2)]);
  assert.deepEqual(added.map((m) => m.seq), [2]);
  assert.deepEqual(seqs(s), [1, 2]);
  assert.equal(s.messages('c1')[0].text, 'hello 1');
  // the same seq in another chat is a different message
  assert.equal(s.addMessage({ ...msg(1), chat_id: 'c2' }), true);
  assert.deepEqual(seqs(s, 'c2'), [1]);
});

test('invalid messages are ignored', () => {
  const s = directStore();
  assert.equal(s.addMessage({ chat_id: 'c1', seq: 0 }), false);
  assert.equal(s.addMessage({ chat_id: 'c1', seq: '3' }), false);
  assert.equal(s.addMessage({ seq: 3 }), false);
  assert.deepEqual(seqs(s), []);
});

test('messages frames without chat_id on each message take the frame chat_id', () => {
  const s = directStore();
  const { chat_id, ...bare } = msg(7);
  s.addMessages('c1', [bare]);
  assert.deepEqual(seqs(s), [7]);
});

test('cursor is the top of the hole-free run starting at the oldest loaded message', () => {
  const s = directStore();
  assert.equal(s.cursor('c1'), 0); // known, empty chat
  assert.equal(s.cursor('unknown'), null);
  s.addMessages('c1', [msg(4), msg(5), msg(6), msg(9)]);
  assert.equal(s.cursor('c1'), 6);
  s.addMessages('c1', [msg(7), msg(8)]);
  assert.equal(s.cursor('c1'), 9);
});

test('a chat known to have messages but none loaded has no cursor', () => {
  const s = new ChatStore('alice');
  s.upsertChat({ chat_id: 'g', kind: 'group', name: 'G', members: [], last_seq: 40 });
  assert.equal(s.cursor('g'), null);
  assert.equal(s.hasOlder('g'), true);
});

test('a messages frame of the changes form carries several chats, each message naming its own', () => {
  const s = directStore();
  const added = s.addMessages(undefined, [msg(1), { ...msg(1), chat_id: 'c2' }, msg(2), msg(1), undefined]);
  assert.deepEqual(added.map((m) => [m.chat_id, m.seq]), [['c1', 1], ['c2', 1], ['c1', 2]]);
  assert.deepEqual(seqs(s), [1, 2]);
  assert.deepEqual(seqs(s, 'c2'), [1]);
  assert.deepEqual(s.addMessages(undefined, [{ ...msg(3), chat_id: undefined }]), []); // no chat: dropped
});

test('a sync pass keeps its token only once its last page is in', () => {
  const s = new ChatStore('alice');
  assert.equal(s.syncToken, ''); // a fresh client: "I have nothing"
  const entry = (chat_id, last_seq) => ({ chat_id, kind: 'direct', last_seq, delivered_seq: 1, read_seq: 1, limited: false });
  assert.equal(s.applySyncedPage({ type: 'synced', chats: [entry('a', 3)], next: 'p2' }), 'p2');
  assert.equal(s.syncToken, '');
  assert.equal(s.chat('a').last_seq, 3); // entries of every page are applied as they come
  assert.equal(s.applySyncedPage({ type: 'synced', chats: [entry('b', 5)], since: 't1' }), null);
  assert.equal(s.syncToken, 't1');
  assert.equal(s.chat('b').myRead, 1);
  // a reply with neither `next` nor `since` (a server without the changes form) ends the pass, token unchanged
  assert.equal(s.applySyncedPage({ type: 'synced', chats: [] }), null);
  assert.equal(s.syncToken, 't1');
});

test('gap detection: holes between loaded messages and a tail behind last_seq', () => {
  const s = directStore();
  assert.deepEqual(s.gaps('c1'), []);
  s.addMessages('c1', [msg(1), msg(2), msg(5), msg(6), msg(10)]);
  assert.deepEqual(s.gaps('c1'), [
    [3, 4],
    [7, 9],
  ]);
  s.upsertChat({ chat_id: 'c1', last_seq: 12 });
  assert.deepEqual(s.gaps('c1'), [
    [3, 4],
    [7, 9],
    [11, 12],
  ]);
  // the newest gap is filled first; a tail gap asks for the newest messages (no `before`)
  assert.deepEqual(s.gapRequest('c1'), { chat_id: 'c1', limit: 2 });
  s.addMessages('c1', [msg(11), msg(12)]);
  assert.deepEqual(s.gapRequest('c1'), { chat_id: 'c1', before: 10, limit: 3 });
  s.addMessages('c1', [msg(7), msg(8), msg(9), msg(3), msg(4)]);
  assert.deepEqual(s.gaps('c1'), []);
  assert.equal(s.gapRequest('c1'), null);
  assert.equal(s.cursor('c1'), 12);
});

test('gap requests are capped at the history limit', () => {
  const s = directStore();
  s.addMessages('c1', [msg(1), msg(500)]);
  assert.deepEqual(s.gapRequest('c1'), { chat_id: 'c1', before: 500, limit: 100 });
});

test('older messages are scrollback, not a gap', () => {
  const s = directStore();
  s.addMessages('c1', [msg(401), msg(402)]);
  assert.deepEqual(s.gaps('c1'), []);
  assert.equal(s.hasOlder('c1'), true);
  assert.equal(s.oldestSeq('c1'), 401);
  s.applyHistory({ chat_id: 'c1', messages: [msg(399), msg(400)], has_more: false });
  assert.deepEqual(seqs(s), [399, 400, 401, 402]);
  assert.equal(s.hasOlder('c1'), false);
  const t = directStore();
  t.addMessages('c1', [msg(1), msg(2)]);
  assert.equal(t.hasOlder('c1'), false);
});

test('unread count: last_seq - read_seq from synced, before any message is loaded', () => {
  const s = new ChatStore('alice');
  s.applySynced({ chat_id: 'c1', kind: 'direct', last_seq: 10, delivered_seq: 8, read_seq: 6, limited: false });
  assert.equal(s.unreadCount('c1'), 4);
  const c = s.chat('c1');
  assert.equal(c.myRead, 6);
  assert.equal(c.myDelivered, 8);
});

test('unread count skips own and system messages that are loaded', () => {
  const s = directStore();
  s.applySynced({ chat_id: 'c1', kind: 'direct', last_seq: 5, delivered_seq: 2, read_seq: 2 });
  s.addMessages('c1', [msg(3, 'bob'), msg(4, 'alice'), msg(5, 'bob', { kind: 'system' })]);
  assert.equal(s.unreadCount('c1'), 1);
  s.addMessage(msg(6, 'bob'));
  assert.equal(s.unreadCount('c1'), 2);
  s.setOwnCursor('c1', 'read', 6);
  assert.equal(s.unreadCount('c1'), 0);
});

test('unread count counts not-yet-loaded seqs below loaded ones', () => {
  const s = directStore();
  s.setOwnCursor('c1', 'read', 3);
  s.addMessages('c1', [msg(8, 'bob'), msg(9, 'alice')]); // 4..7 not loaded
  assert.equal(s.unreadCount('c1'), 4 + 1);
});

test('own cursors never move back; read implies delivered; failed receipts revert', () => {
  const s = directStore();
  s.setOwnCursor('c1', 'read', 5);
  assert.equal(s.chat('c1').myDelivered, 5);
  s.setOwnCursor('c1', 'read', 3);
  assert.equal(s.chat('c1').myRead, 5);
  const prev = s.setOwnCursor('c1', 'delivered', 9);
  assert.equal(prev, 5);
  s.revertOwnCursor('c1', 'delivered', 9, prev);
  assert.equal(s.chat('c1').myDelivered, 5);
});

test('receiptToSend: read when visible, delivered otherwise, nothing when covered', () => {
  const s = directStore();
  assert.equal(s.receiptToSend('c1', true), null);
  s.addMessages('c1', [msg(1), msg(2), msg(4)]);
  assert.deepEqual(s.receiptToSend('c1', false), { chat_id: 'c1', status: 'delivered', seq: 2 });
  assert.deepEqual(s.receiptToSend('c1', true), { chat_id: 'c1', status: 'read', seq: 2 });
  s.setOwnCursor('c1', 'delivered', 2);
  assert.equal(s.receiptToSend('c1', false), null);
  assert.deepEqual(s.receiptToSend('c1', true), { chat_id: 'c1', status: 'read', seq: 2 });
  s.setOwnCursor('c1', 'read', 2);
  assert.equal(s.receiptToSend('c1', true), null);
});

test('tick state of own messages: pending, sent, delivered, read (direct chat)', () => {
  const s = directStore();
  const p = s.addPending({ chat_id: 'c1', client_msg_id: 'k1', text: 'hi', created_at: '2024-01-02T00:00:00Z' });
  assert.equal(s.tickState(p), 'pending');
  assert.deepEqual(s.timeline('c1').map((m) => m.client_msg_id), ['k1']);
  const m = s.confirmSent({ type: 'sent', chat_id: 'c1', client_msg_id: 'k1', seq: 1, message_id: 'x', sent_at: '2024-01-02T00:00:01Z' });
  assert.equal(m.text, 'hi');
  assert.equal(s.pending.size, 0);
  assert.equal(s.tickState(m), 'sent');
  s.applyReceipt({ type: 'receipt', chat_id: 'c1', user_id: 'bob', status: 'delivered', seq: 1 });
  assert.equal(s.tickState(m), 'delivered');
  s.applyReceipt({ type: 'receipt', chat_id: 'c1', user_id: 'bob', status: 'read', seq: 1 });
  assert.equal(s.tickState(m), 'read');
  // a late, lower receipt never moves a tick back
  s.applyReceipt({ type: 'receipt', chat_id: 'c1', user_id: 'bob', status: 'delivered', seq: 0 });
  assert.equal(s.tickState(m), 'read');
  assert.equal(s.tickState(msg(2, 'bob')), null);
});

test('read implies delivered for ticks', () => {
  const s = directStore();
  s.addMessages('c1', [msg(1, 'alice'), msg(2, 'alice'), msg(3, 'alice')]);
  s.applyReceipt({ chat_id: 'c1', user_id: 'bob', status: 'read', seq: 2 });
  assert.deepEqual(s.messages('c1').map((m) => s.tickState(m)), ['read', 'read', 'sent']);
  s.applyReceipt({ chat_id: 'c1', user_id: 'bob', status: 'delivered', seq: 3 });
  assert.deepEqual(s.messages('c1').map((m) => s.tickState(m)), ['read', 'read', 'delivered']);
});

test('failed and retried outgoing messages', () => {
  const s = directStore();
  const p = s.addPending({ chat_id: 'c1', client_msg_id: 'k9', text: 'x' });
  s.failPending('k9', 'forbidden');
  assert.equal(s.tickState(p), 'failed');
  s.retryPending('k9');
  assert.equal(s.tickState(p), 'pending');
});

test('a sent reply for a message that sync already placed keeps one copy', () => {
  const s = directStore();
  s.addPending({ chat_id: 'c1', client_msg_id: 'k1', text: 'hi' });
  s.addMessage(msg(1, 'alice', { text: 'hi' }));
  s.confirmSent({ chat_id: 'c1', client_msg_id: 'k1', seq: 1, message_id: 'm1' });
  assert.deepEqual(s.timeline('c1').map((m) => m.seq), [1]);
});

test('group ticks: aggregate receipts without user_id, and per-member cursors from REST', () => {
  const s = new ChatStore('alice');
  s.upsertChat({
    chat_id: 'g',
    kind: 'group',
    name: 'Team',
    members: ['alice', 'bob', 'carol'].map((u) => ({ user_id: u, role: 'member' })),
    last_seq: 0,
  });
  const mine = (seq) => ({ chat_id: 'g', seq, sender_id: 'alice', kind: 'text', text: 't' });
  s.addMessages('g', [mine(1), mine(2)]);
  s.applyReceipt({ chat_id: 'g', status: 'delivered', seq: 1 });
  assert.equal(s.tickState(s.messages('g')[0]), 'delivered');
  assert.equal(s.tickState(s.messages('g')[1]), 'sent');
  s.applyReceipts('g', [
    { user_id: 'alice', delivered_seq: 2, read_seq: 2 },
    { user_id: 'bob', delivered_seq: 2, read_seq: 2 },
    { user_id: 'carol', delivered_seq: 2, read_seq: 1 },
  ]);
  assert.equal(s.tickState(s.messages('g')[0]), 'read');
  assert.equal(s.tickState(s.messages('g')[1]), 'delivered');
  assert.equal(s.chat('g').myRead, 2);
});

test('direct ticks from REST receipts', () => {
  const s = directStore();
  s.addMessages('c1', [msg(1, 'alice'), msg(2, 'alice')]);
  s.applyReceipts('c1', [
    { user_id: 'alice', delivered_seq: 0, read_seq: 0 },
    { user_id: 'bob', delivered_seq: 2, read_seq: 1 },
  ]);
  assert.deepEqual(s.messages('c1').map((m) => s.tickState(m)), ['read', 'delivered']);
});

test('media events update pending placeholders and are never downgraded', () => {
  const s = directStore();
  s.addMessage(msg(1, 'bob', { kind: 'image', text: undefined, media: { media_id: 'md1', status: 'pending' } }));
  assert.deepEqual(s.pendingMediaIds(), ['md1']);
  const ready = { media_id: 'md1', status: 'ready', variants: { thumb: { url: 'http://x/t.jpg' } } };
  assert.equal(s.applyMedia('c1', ready), true);
  assert.equal(s.messages('c1')[0].media.status, 'ready');
  assert.deepEqual(s.pendingMediaIds(), []);
  // a stale pending copy (a repeat) does not hide the ready one
  s.addMessage(msg(1, 'bob', { kind: 'image', media: { media_id: 'md1', status: 'pending' } }));
  assert.equal(s.messages('c1')[0].media.status, 'ready');
  // an outgoing message picks up a media event that arrived before its `sent`
  s.applyMedia('c1', { media_id: 'md2', status: 'ready', url: 'http://x/f' });
  const p = s.addPending({ chat_id: 'c1', client_msg_id: 'k', kind: 'file', media_id: 'md2' });
  assert.equal(p.media.status, 'ready');
});

test('typing expires after the TTL and stops on stop or on a message from that user', () => {
  const s = directStore();
  s.setTyping('c1', 'bob', 'start', 1000);
  s.setTyping('c1', 'alice', 'start', 1000); // own typing is never shown
  assert.deepEqual(s.typingUsers('c1', 1000 + TYPING_TTL_MS - 1), ['bob']);
  assert.deepEqual(s.typingUsers('c1', 1000 + TYPING_TTL_MS), []);
  s.setTyping('c1', 'bob', 'start', 5000);
  s.setTyping('c1', 'bob', 'stop', 5001);
  assert.deepEqual(s.typingUsers('c1', 5002), []);
  s.setTyping('c1', 'bob', 'start', 6000);
  s.addMessage(msg(1, 'bob'));
  assert.deepEqual(s.typingUsers('c1', 6001), []);
});

test('chat list, names, membership and presence', () => {
  const s = directStore();
  s.upsertChat({
    chat_id: 'g',
    kind: 'group',
    name: 'Team',
    members: [{ user_id: 'bob', role: 'admin' }],
    created_at: '2024-02-01T00:00:00Z',
  });
  assert.equal(s.displayName('c1'), 'bob');
  assert.equal(s.displayName('g'), 'Team');
  assert.equal(s.chat('g').left, true);
  assert.deepEqual(s.chatList().map((c) => c.chat_id), ['g', 'c1']);
  s.addMessage({ ...msg(1), sent_at: '2024-03-01T00:00:00Z' });
  assert.deepEqual(s.chatList().map((c) => c.chat_id), ['c1', 'g']);
  assert.deepEqual(s.directPeers(), ['bob']);
  s.applyPresence([{ user_id: 'bob', status: 'offline', last_seen: '2024-03-01T00:00:00Z' }]);
  assert.equal(s.presenceOf('bob').status, 'offline');
});

test('edits, reactions and deletes pushed live fold into their target and are never shown', () => {
  const s = directStore();
  s.addMessage(msg(1, 'bob', { text: 'helo', reactions: { '👍': ['carol'] } }));
  s.addMessage(msg(2, 'bob', { kind: 'edit', relates_to: 1, text: 'hello' }));
  s.addMessage(msg(3, 'alice', { kind: 'reaction', relates_to: 1, emoji: '🎉', text: undefined }));
  s.addMessage(msg(4, 'carol', { kind: 'reaction', relates_to: 1, emoji: '🎉', text: undefined }));
  const [shown] = s.timeline('c1');
  assert.equal(s.timeline('c1').length, 1);
  assert.equal(shown.text, 'hello');
  assert.equal(shown.edited_at, msg(2).sent_at);
  assert.deepEqual(shown.reactions, { '🎉': ['alice', 'carol'] });
  assert.equal(s.lastMessage('c1').seq, 1); // the chat's preview ignores relations
  assert.equal(s.unreadCount('c1'), 1); // so does the unread count: only bob's message
  s.addMessage(msg(5, 'alice', { kind: 'reaction', relates_to: 1, emoji: '', text: undefined }));
  assert.deepEqual(s.timeline('c1')[0].reactions, { '🎉': ['carol'] });
  s.addMessage(msg(6, 'bob', { kind: 'delete', relates_to: 1, text: undefined }));
  const [gone] = s.timeline('c1');
  assert.equal(gone.deleted, true);
  assert.equal(gone.text, undefined);
  assert.equal(gone.reactions, undefined);
});
