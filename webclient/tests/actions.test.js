import test from 'node:test';
import assert from 'node:assert/strict';
import { ChatStore, EDIT_WINDOW_MS, DELETE_WINDOW_MS } from '../store.js';
import { mentionQuery } from '../ui.js';

const T0 = Date.UTC(2024, 0, 1);
const at = (s) => new Date(T0 + s * 1000).toISOString();
const msg = (seq, sender = 'bob', extra = {}) => ({
  chat_id: 'c1', seq, message_id: `m${seq}`, sender_id: sender, kind: 'text', text: `hello ${seq}`, sent_at: at(seq), ...extra,
});
const rel = (seq, sender, kind, relates_to, extra = {}) => ({
  chat_id: 'c1', seq, message_id: `m${seq}`, sender_id: sender, kind, relates_to, sent_at: at(seq), ...extra,
});

const store = (kind = 'direct', role = 'member') => {
  const s = new ChatStore('alice');
  s.upsertChat({
    chat_id: 'c1',
    kind,
    name: kind === 'group' ? 'Team' : undefined,
    members: [{ user_id: 'alice', role }, { user_id: 'bob', role: 'member' }, ...(kind === 'group' ? [{ user_id: 'bobby', role: 'member' }, { user_id: 'carol', role: 'admin' }] : [])],
    created_at: at(0),
    last_seq: 0,
  });
  return s;
};

test('a relation older than the state its target was served with is not folded again', () => {
  const s = store();
  // the newest page first: the second edit and a reaction change, live or synced
  s.addMessages('c1', [rel(5, 'bob', 'edit', 1, { text: 'third' }), rel(6, 'alice', 'reaction', 1, { emoji: '🎉' })]);
  // then scrollback: the target served folded (text of seq 5, alice's 🎉), with the older relations in its page
  s.addMessages('c1', [
    msg(1, 'bob', { text: 'third', edited_at: at(5), reactions: { '🎉': ['alice'] } }),
    rel(2, 'bob', 'edit', 1, { text: 'second' }),
    rel(3, 'alice', 'reaction', 1, { emoji: '👍' }),
    msg(4),
  ]);
  const [first] = s.timeline('c1');
  assert.equal(first.text, 'third');
  assert.deepEqual(first.reactions, { '🎉': ['alice'] });
  // a later relation, live, still folds
  s.addMessage(rel(7, 'bob', 'reaction', 1, { emoji: '👍' }));
  s.addMessage(rel(8, 'bob', 'edit', 1, { text: 'fourth' }));
  assert.equal(first.text, 'fourth');
  assert.deepEqual(first.reactions, { '🎉': ['alice'], '👍': ['bob'] });
  // an edit that arrives after a later one does not win
  s.addMessage(rel(10, 'bob', 'edit', 1, { text: 'sixth' }));
  s.addMessage(rel(9, 'bob', 'edit', 1, { text: 'fifth' }));
  assert.equal(first.text, 'sixth');
});

test('own relations are never shown while pending and fold in on `sent`', () => {
  const s = store();
  s.addMessage(msg(1));
  const p = s.addPending({ chat_id: 'c1', client_msg_id: 'r1', kind: 'reaction', relates_to: 1, emoji: '👍' });
  assert.equal(p.emoji, '👍');
  assert.equal(s.timeline('c1').length, 1);
  assert.equal(s.lastMessage('c1').seq, 1);
  s.confirmSent({ chat_id: 'c1', client_msg_id: 'r1', seq: 2, message_id: 'm2', sent_at: at(2) });
  assert.deepEqual(s.timeline('c1')[0].reactions, { '👍': ['alice'] });
  // an edit of one's own message: the text may not be empty-dropped, and it folds on `sent`
  s.addMessage(msg(3, 'alice'));
  s.addPending({ chat_id: 'c1', client_msg_id: 'e1', kind: 'edit', relates_to: 3, text: 'fixed' });
  s.confirmSent({ chat_id: 'c1', client_msg_id: 'e1', seq: 4, message_id: 'm4', sent_at: at(4) });
  assert.equal(s.message('c1', 3).text, 'fixed');
  assert.equal(s.message('c1', 3).edited_at, at(4));
  assert.equal(s.timeline('c1').length, 2);
  assert.equal(s.dropPending('nope'), null);
});

test('replies, forwards and mentions carry their fields from pending to placed', () => {
  const s = store('group');
  s.addMessage(msg(1, 'bob', { text: 'x'.repeat(250) }));
  const quote = s.quoteFor(s.message('c1', 1));
  assert.equal([...quote.text].length, 200);
  s.addPending({ chat_id: 'c1', client_msg_id: 'q', text: 'yes @bob', reply_to: 1, quote, mentions: ['bob'] });
  const placed = s.confirmSent({ chat_id: 'c1', client_msg_id: 'q', seq: 2, message_id: 'm2', sent_at: at(2) });
  assert.equal(placed.reply_to, 1);
  assert.deepEqual(placed.mentions, ['bob']);
  assert.equal(placed.quote.seq, 1);
  s.addPending({ chat_id: 'c1', client_msg_id: 'f', text: 'fwd', forward_of: { chat_id: 'c2', seq: 9 }, forwarded: true });
  const fwd = s.confirmSent({ chat_id: 'c1', client_msg_id: 'f', seq: 3, message_id: 'm3', sent_at: at(3) });
  assert.equal(fwd.forwarded, true);
  assert.equal(fwd.forward_of, undefined); // the source is not part of the message
});

test('a quote shows the original as it is now: edited, deleted, or the served quote when not loaded', () => {
  const s = store();
  s.addMessage(msg(1, 'bob', { text: 'original' }));
  s.addMessage(msg(2, 'alice', { text: 'reply', reply_to: 1, quote: { seq: 1, sender_id: 'bob', kind: 'text', text: 'original' } }));
  const reply = s.message('c1', 2);
  assert.equal(s.quoteOf(reply).text, 'original');
  s.addMessage(rel(3, 'bob', 'edit', 1, { text: 'changed' }));
  assert.equal(s.quoteOf(reply).text, 'changed');
  s.addMessage(rel(4, 'bob', 'delete', 1));
  assert.deepEqual(s.quoteOf(reply), { seq: 1, sender_id: 'bob', kind: 'text', deleted: true, text: undefined });
  // not loaded: the served quote; without text it is a deleted message (unless it quotes media)
  s.addMessage(msg(6, 'bob', { reply_to: 5, quote: { seq: 5, sender_id: 'bob', kind: 'text' } }));
  assert.equal(s.quoteOf(s.message('c1', 6)).deleted, true);
  s.addMessage(msg(7, 'bob', { reply_to: 5, quote: { seq: 5, sender_id: 'bob', kind: 'image' } }));
  assert.equal(s.quoteOf(s.message('c1', 7)).deleted, false);
  assert.equal(s.quoteOf(msg(8)), null);
});

test('which actions a message offers: edit 15 min, delete for everyone 48 h or as a group admin', () => {
  const s = store('group');
  s.addMessage(msg(1, 'alice'));
  s.addMessage(msg(2, 'bob'));
  s.addMessage(msg(3, 'alice', { kind: 'image', text: undefined, media: { media_id: 'x', status: 'ready' } }));
  const own = s.message('c1', 1);
  const fresh = s.actionsFor(own, T0 + 1000 + EDIT_WINDOW_MS - 1);
  assert.deepEqual(fresh, { react: true, reply: true, forward: true, edit: true, deleteForEveryone: true, deleteForMe: true });
  assert.equal(s.actionsFor(own, T0 + 1000 + EDIT_WINDOW_MS).edit, false);
  assert.equal(s.actionsFor(own, T0 + 1000 + DELETE_WINDOW_MS - 1).deleteForEveryone, true);
  assert.equal(s.actionsFor(own, T0 + 1000 + DELETE_WINDOW_MS).deleteForEveryone, false);
  assert.equal(s.actionsFor(s.message('c1', 3), T0).edit, false); // only text is edited
  const theirs = s.actionsFor(s.message('c1', 2), T0);
  assert.equal(theirs.edit, false);
  assert.equal(theirs.deleteForEveryone, false);
  // a group admin deletes anyone's message at any time
  const admin = store('group', 'admin');
  admin.addMessage(msg(2, 'bob'));
  assert.equal(admin.actionsFor(admin.message('c1', 2), T0 + 10 * DELETE_WINDOW_MS).deleteForEveryone, true);
  // a deleted message can only be hidden; pending ones and system messages offer nothing
  s.addMessage(rel(4, 'alice', 'delete', 1));
  assert.deepEqual(Object.entries(s.actionsFor(own, T0)).filter(([, v]) => v).map(([k]) => k), ['deleteForMe']);
  const p = s.addPending({ chat_id: 'c1', client_msg_id: 'p', text: 'x' });
  assert.equal(Object.values(s.actionsFor(p, T0)).some(Boolean), false);
  // a chat one has left: forward and hide only
  s.upsertChat({ chat_id: 'c1', members: [{ user_id: 'bob', role: 'admin' }] });
  assert.deepEqual(Object.entries(s.actionsFor(s.message('c1', 2), T0)).filter(([, v]) => v).map(([k]) => k), ['forward', 'deleteForMe']);
});

test('delete for me removes a message from this device without opening a gap', () => {
  const s = store();
  s.addMessages('c1', [msg(1), msg(2), msg(3)]);
  s.setOwnCursor('c1', 'read', 1);
  assert.equal(s.unreadCount('c1'), 2);
  s.hide('c1', [3]);
  assert.deepEqual(s.timeline('c1').map((m) => m.seq), [1, 2]);
  assert.equal(s.lastMessage('c1').seq, 2);
  assert.equal(s.unreadCount('c1'), 1);
  assert.deepEqual(s.gaps('c1'), []);
  assert.equal(s.message('c1', 3).text, undefined);
  assert.equal(s.addMessage(msg(3)), false); // a repeat does not bring it back
  assert.equal(s.cursor('c1'), 3);
});

test('seqs a gap-filling history reply skips are hidden (deleted for me on another device), not a gap', () => {
  const s = store();
  s.upsertChat({ chat_id: 'c1', last_seq: 10 });
  s.addMessages('c1', [msg(1), msg(2), msg(6), msg(10)]);
  let req = s.gapRequest('c1');
  assert.deepEqual(req, { chat_id: 'c1', before: 10, limit: 3 });
  // seqs 8 and 9 are hidden for this user: the server reads back from 9 and answers 7 and 6
  let reply = { chat_id: 'c1', messages: [msg(6), msg(7)], has_more: true };
  s.applyHistory(reply);
  assert.equal(s.settleGap(req, reply), 2);
  req = s.gapRequest('c1');
  assert.deepEqual(req, { chat_id: 'c1', before: 6, limit: 3 });
  // every seq of 3..5 is hidden: an empty reply settles the range it asked for
  reply = { chat_id: 'c1', messages: [], has_more: false };
  assert.equal(s.settleGap(req, reply), 3);
  assert.equal(s.gapRequest('c1'), null);
  assert.deepEqual(s.timeline('c1').map((m) => m.seq), [1, 2, 6, 7, 10]);
  assert.equal(s.cursor('c1'), 10);
  // a hole that was a send in flight: its push still lands (and counts)
  assert.equal(s.addMessage(msg(9)), true);
  assert.deepEqual(s.timeline('c1').map((m) => m.seq), [1, 2, 6, 7, 9, 10]);
  assert.equal(s.gapRequest('c1'), null);
  // but a message deleted for me here is not brought back by a repeat
  s.hide('c1', [9]);
  assert.equal(s.addMessage(msg(9)), false);
});

test('mentions: candidates from the chat members, and the members a text names', () => {
  const s = store('group');
  assert.deepEqual(s.mentionCandidates('c1', 'bo'), ['bob', 'bobby']);
  assert.deepEqual(s.mentionCandidates('c1', ''), ['bob', 'bobby', 'carol']); // never oneself
  assert.deepEqual(s.mentionsIn('c1', 'hi @bob and @Carol. also @dave, mail x@bob.com @bob'), ['bob', 'carol']);
  assert.deepEqual(s.mentionsIn('c1', 'no one'), []);
  assert.deepEqual(mentionQuery('hey @bo', 7), { start: 4, prefix: 'bo' });
  assert.deepEqual(mentionQuery('@', 1), { start: 0, prefix: '' });
  assert.equal(mentionQuery('mail x@bo', 9), null);
  assert.equal(mentionQuery('hey @bob there', 14), null);
});

test('chat previews say a deleted last message was deleted; relations never count as unread', () => {
  const s = store();
  s.addMessage(msg(1));
  s.addMessage(rel(2, 'bob', 'reaction', 1, { emoji: '👍' }));
  s.addMessage(rel(3, 'bob', 'delete', 1));
  assert.equal(s.lastMessage('c1').seq, 1);
  assert.equal(s.lastMessage('c1').deleted, true);
  assert.equal(s.unreadCount('c1'), 1);
});
