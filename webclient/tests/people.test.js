import test from 'node:test';
import assert from 'node:assert/strict';
import {
  Profiles, PROFILE_TTL_MS, PENDING_AVATAR_RETRY_MS, FAILED_RETRY_MS, STALE_GRACE_MS, USERS_PER_CALL, batches, thumbUrl,
  initials, hueOf, chatTitle, chatAvatar, presenceText, presenceStatus, SETTINGS, withDefaults, settingsChanges,
  profileChanges, isAvatarType, REPORT_CATEGORIES, reportReason, canReport, groupRights, memberRows, groupInfoChanges,
  inviteLink, joinToken, joinErrorText, inviteExpiryText,
} from '../people.js';
import { ChatStore } from '../store.js';
import { notificationFor } from '../notify.js';

const T0 = Date.UTC(2025, 5, 10, 9, 30, 0);
const ready = (id, extra = {}) => ({
  media_id: id, status: 'ready', content_type: 'image/png', url: `https://s3/${id}/original`,
  variants: { thumb: { url: `https://s3/${id}/thumb`, width: 96, height: 96 }, small: { url: `https://s3/${id}/small` } },
  ...extra,
});

const store = () => {
  const s = new ChatStore('alice');
  s.upsertChat({ chat_id: 'direct:alice:bob', kind: 'direct', last_seq: 0, created_at: '2025-01-01T00:00:00Z',
    members: [{ user_id: 'alice', role: 'member' }, { user_id: 'bob', role: 'member' }] });
  s.upsertChat({ chat_id: 'group:1', kind: 'group', name: 'Book club', last_seq: 3, created_at: '2025-01-01T00:00:00Z',
    settings: { send: 'all', edit_info: 'all' },
    members: [{ user_id: 'carol', role: 'admin' }, { user_id: 'alice', role: 'member' }, { user_id: 'bob', role: 'member' }] });
  return s;
};

// ---- the profile cache ------------------------------------------------------------------------

test('GET /api/users is asked 100 ids at a time', () => {
  assert.equal(USERS_PER_CALL, 100);
  const ids = Array.from({ length: 250 }, (_, i) => `u${i}`);
  assert.deepEqual(batches(ids).map((b) => b.length), [100, 100, 50]);
  assert.deepEqual(batches(ids).flat(), ids);
  assert.deepEqual(batches([]), []);
});

test('an avatar is the thumb variant of a ready media object, else a larger one; none while pending', () => {
  assert.equal(thumbUrl(ready('m1')), 'https://s3/m1/thumb');
  assert.equal(thumbUrl(ready('m1', { variants: { small: { url: 'https://s3/m1/small' } } })), 'https://s3/m1/small');
  assert.equal(thumbUrl(ready('m1', { variants: {} })), 'https://s3/m1/original');
  assert.equal(thumbUrl({ media_id: 'm1', status: 'pending' }), null);
  assert.equal(thumbUrl({ media_id: 'm1', status: 'rejected' }), null);
  assert.equal(thumbUrl(null), null);
});

test('profiles give display names (else the id) and avatars; a deleted account shows neither', () => {
  const p = new Profiles();
  p.apply([{ user_id: 'bob', display_name: 'Bob B.', about: 'hi', avatar: ready('m1') }, { user_id: 'carol' },
    { user_id: 'dan', deleted: true, display_name: 'Dan' }, { nope: 1 }, null], T0);
  assert.equal(p.name('bob'), 'Bob B.');
  assert.equal(p.avatarUrl('bob'), 'https://s3/m1/thumb');
  assert.equal(p.name('carol'), 'carol');
  assert.equal(p.avatarUrl('carol'), null);
  assert.equal(p.name('dan'), 'dan');
  assert.equal(p.name('unknown'), 'unknown');
  assert.equal(p.get('unknown'), null);
  p.apply([{ user_id: 'erin', display_name: '   ' }], T0);
  assert.equal(p.name('erin'), 'erin'); // a blank name is no name
});

test('which profiles to fetch: unknown ones, stale ones (URLs expire in 15 minutes), and avatars still processing', () => {
  const p = new Profiles();
  assert.deepEqual(p.due(['bob', 'carol', 'bob', ''], T0), ['bob', 'carol']);
  p.begin(['bob', 'carol']);
  assert.deepEqual(p.due(['bob', 'carol'], T0), []); // in flight
  const stamp = p.stamp();
  p.settle(['bob', 'carol'], [{ user_id: 'bob', avatar: { media_id: 'm', status: 'pending' } }], T0, stamp);
  // carol is no user (left out of the reply): not asked again and again
  assert.equal(p.get('carol').missing, true);
  assert.deepEqual(p.due(['bob', 'carol'], T0 + 1000), []);
  assert.deepEqual(p.due(['bob', 'carol'], T0 + PENDING_AVATAR_RETRY_MS), ['bob']); // its avatar may be ready now
  p.apply([{ user_id: 'bob', avatar: ready('m') }], T0 + PENDING_AVATAR_RETRY_MS);
  assert.deepEqual(p.due(['bob'], T0 + 2 * PENDING_AVATAR_RETRY_MS), []);
  assert.ok(PROFILE_TTL_MS < 15 * 60_000);
  assert.deepEqual(p.due(['bob', 'carol'], T0 + PENDING_AVATAR_RETRY_MS + PROFILE_TTL_MS), ['bob', 'carol']);
});

test('a failed fetch waits before the same ids are asked again', () => {
  const p = new Profiles();
  p.begin(['bob']);
  p.fail(['bob'], T0);
  assert.deepEqual(p.due(['bob'], T0 + FAILED_RETRY_MS - 1), []);
  assert.deepEqual(p.due(['bob'], T0 + FAILED_RETRY_MS), ['bob']);
});

test('a reply asked for before a profile event does not undo it', () => {
  const p = new Profiles();
  const asked = p.stamp(); // GET /api/users sent
  p.apply([{ user_id: 'bob', display_name: 'New name' }], T0 + 10); // the `profile` event arrives first
  p.settle(['bob'], [{ user_id: 'bob', display_name: 'Old name' }], T0 + 20, asked);
  assert.equal(p.name('bob'), 'New name');
  // one asked for after the event wins
  p.settle(['bob'], [{ user_id: 'bob', display_name: 'Newer' }], T0 + 30, p.stamp());
  assert.equal(p.name('bob'), 'Newer');
  // and a stale reply that leaves the user out does not make them missing either
  const old = p.stamp();
  p.apply([{ user_id: 'bob', display_name: 'Newest' }], T0 + 40);
  p.settle(['bob'], [], T0 + 50, old);
  assert.equal(p.name('bob'), 'Newest');
});

test('an avatar that fails to load makes its profile due again, unless it was just fetched', () => {
  const p = new Profiles();
  p.apply([{ user_id: 'bob', avatar: ready('m1') }], T0);
  assert.equal(p.markStale('bob', T0 + STALE_GRACE_MS - 1), false);
  assert.deepEqual(p.due(['bob'], T0 + STALE_GRACE_MS), []);
  assert.equal(p.markStale('bob', T0 + STALE_GRACE_MS), true);
  assert.deepEqual(p.due(['bob'], T0 + STALE_GRACE_MS), ['bob']);
  p.apply([{ user_id: 'bob', avatar: ready('m1') }], T0 + STALE_GRACE_MS + 1);
  assert.deepEqual(p.due(['bob'], T0 + STALE_GRACE_MS + 2), []);
  assert.equal(p.markStale('nobody', T0), false);
});

test('initials and a stable colour for avatars without a picture', () => {
  assert.equal(initials('Alice Liddell'), 'AL');
  assert.equal(initials('bob'), 'B');
  assert.equal(initials('bob_42'), 'B'); // a user id's number is no initial
  assert.equal(initials('mary-jane.watson'), 'MJ');
  assert.equal(initials('42'), '4');
  assert.equal(initials('  élodie  b '), 'ÉB');
  assert.equal(initials(''), '?');
  assert.equal(initials(null), '?');
  assert.equal(hueOf('alice'), hueOf('alice'));
  assert.notEqual(hueOf('alice'), hueOf('bob'));
  for (const id of ['a', 'zz', 'group:3f2b', '']) assert.ok(hueOf(id) >= 0 && hueOf(id) < 360);
});

test('a direct chat is called and pictured by its peer, a group by its own name and picture', () => {
  const s = store();
  const p = new Profiles();
  assert.equal(chatTitle(s, p, 'direct:alice:bob'), 'bob');
  p.apply([{ user_id: 'bob', display_name: 'Bob B.', avatar: ready('mb') }], T0);
  assert.equal(chatTitle(s, p, 'direct:alice:bob'), 'Bob B.');
  assert.deepEqual(chatAvatar(s, p, 'direct:alice:bob'),
    { url: 'https://s3/mb/thumb', label: 'Bob B.', seed: 'bob', kind: 'user', id: 'bob' });
  assert.equal(chatTitle(s, p, 'group:1'), 'Book club');
  assert.deepEqual(chatAvatar(s, p, 'group:1'), { url: null, label: 'Book club', seed: 'group:1', kind: 'none', id: '' });
  // a group picture: its media_id from the chat object, its URLs once media_url or a media event brings them
  s.upsertChat({ chat_id: 'group:1', kind: 'group', name: 'Book club', last_seq: 4, avatar: { media_id: 'mg' },
    members: s.chat('group:1').members });
  assert.deepEqual(chatAvatar(s, p, 'group:1'), { url: null, label: 'Book club', seed: 'group:1', kind: 'media', id: 'mg' });
  s.applyMedia('group:1', ready('mg'));
  assert.equal(chatAvatar(s, p, 'group:1').url, 'https://s3/mg/thumb');
  assert.equal(s.mediaOf('mg').status, 'ready');
  assert.equal(s.mediaOf('nope'), null);
});

test('a notification is titled with the sender display name when known', () => {
  const m = { chat_id: 'c', seq: 1, sender_id: 'bob', kind: 'text', text: 'hi' };
  assert.equal(notificationFor(m, { name: 'Bob B.' }).title, 'Bob B.');
  assert.equal(notificationFor(m).title, 'bob');
});

// ---- presence ----------------------------------------------------------------------------------

test('presence reads online or last seen; unknown (hidden by the user settings or a block) reads nothing', () => {
  assert.equal(presenceText({ status: 'online', last_seen: null }, T0), 'online');
  assert.equal(presenceText({ status: 'offline', last_seen: new Date(T0 - 5 * 60_000).toISOString() }, T0), 'last seen 5 min ago');
  assert.equal(presenceText({ status: 'offline', last_seen: new Date(T0 - 10_000).toISOString() }, T0), 'last seen just now');
  assert.equal(presenceText({ status: 'offline', last_seen: null }, T0), 'offline');
  assert.equal(presenceText({ status: 'unknown', last_seen: null }, T0), '');
  assert.equal(presenceText({ status: 'unknown', last_seen: '2025-01-01T00:00:00Z' }, T0), '');
  assert.equal(presenceText(null, T0), '');
  assert.equal(presenceStatus({ status: 'online' }), 'online');
  assert.equal(presenceStatus({ status: 'offline' }), 'offline');
  assert.equal(presenceStatus({ status: 'unknown' }), 'unknown');
  assert.equal(presenceStatus({ status: 'weird' }), 'unknown');
  assert.equal(presenceStatus(null), 'unknown');
});

test('the store keeps a presence that reads unknown', () => {
  const s = store();
  s.applyPresence([{ user_id: 'bob', status: 'unknown', last_seen: null }]);
  assert.deepEqual(s.presenceOf('bob'), { status: 'unknown', last_seen: null });
});

// ---- settings and profile edits ---------------------------------------------------------------------

test('settings: every one filled in with its default, and only what changed is sent', () => {
  assert.deepEqual(Object.keys(SETTINGS), ['last_seen', 'read_receipts', 'groups_add', 'push_previews']);
  const defaults = { last_seen: 'everyone', read_receipts: true, groups_add: 'everyone', push_previews: true };
  assert.deepEqual(withDefaults(undefined), defaults);
  assert.deepEqual(withDefaults({ last_seen: 'nobody', read_receipts: 'no', extra: 1 }), { ...defaults, last_seen: 'nobody' });
  assert.equal(settingsChanges(defaults, defaults), null);
  assert.deepEqual(settingsChanges(defaults, { ...defaults, last_seen: 'nobody', push_previews: false }),
    { last_seen: 'nobody', push_previews: false });
  assert.deepEqual(settingsChanges({ last_seen: 'contacts' }, { last_seen: 'everyone', groups_add: 'contacts' }),
    { last_seen: 'everyone', groups_add: 'contacts' });
  assert.equal(settingsChanges(defaults, { last_seen: 'friends', read_receipts: 'off' }), null); // not values the server takes
});

test('a profile edit sends the changed fields, trimmed; an emptied field is removed', () => {
  assert.deepEqual(profileChanges({}, { display_name: ' Alice ', about: '' }), { changes: { display_name: 'Alice' } });
  assert.deepEqual(profileChanges({ display_name: 'Alice', about: 'hi' }, { display_name: 'Alice', about: 'hi ' }), { changes: null });
  assert.deepEqual(profileChanges({ display_name: 'Alice', about: 'hi' }, { display_name: '', about: '' }),
    { changes: { display_name: null, about: null } });
  assert.deepEqual(profileChanges(null, { display_name: '😀'.repeat(64) }), { changes: { display_name: '😀'.repeat(64) } }); // characters, not bytes
  assert.match(profileChanges({}, { display_name: 'x'.repeat(65) }).error, /at most 64/);
  assert.match(profileChanges({}, { about: 'x'.repeat(141) }).error, /About is at most 140/);
  assert.equal(isAvatarType('image/png'), true);
  assert.equal(isAvatarType('IMAGE/JPEG'), true);
  assert.equal(isAvatarType('image/svg+xml'), false);
  assert.equal(isAvatarType('video/mp4'), false);
  assert.equal(isAvatarType(undefined), false);
});

// ---- reports -----------------------------------------------------------------------------------------

test('a report reason: the category, then the details; "something else" needs details', () => {
  assert.deepEqual(REPORT_CATEGORIES.map((c) => c.id), ['spam', 'abuse', 'threat', 'other']);
  assert.deepEqual(reportReason('spam', ''), { reason: 'Spam' });
  assert.deepEqual(reportReason('abuse', '  keeps insulting me '), { reason: 'Harassment or abuse: keeps insulting me' });
  assert.match(reportReason('other', ' ').error, /Say what is wrong/);
  assert.deepEqual(reportReason('other', 'a fake bank'), { reason: 'Something else: a fake bank' });
  assert.match(reportReason('nope', 'x').error, /Pick a reason/);
  assert.match(reportReason('spam', 'x'.repeat(500)).error, /at most 500/);
});

test('only someone else\'s shown message, in a chat one is in, may be reported', () => {
  const s = store();
  s.addMessages('group:1', [
    { chat_id: 'group:1', seq: 1, sender_id: 'carol', kind: 'text', text: 'hi', sent_at: '2025-01-01T00:00:01Z' },
    { chat_id: 'group:1', seq: 2, sender_id: 'alice', kind: 'text', text: 'mine', sent_at: '2025-01-01T00:00:02Z' },
    { chat_id: 'group:1', seq: 3, sender_id: '', kind: 'system', text: 'carol added bob', sent_at: '2025-01-01T00:00:03Z' },
    { chat_id: 'group:1', seq: 4, sender_id: 'bob', kind: 'text', deleted: true, sent_at: '2025-01-01T00:00:04Z' },
    { chat_id: 'group:1', seq: 5, sender_id: 'bob', kind: 'image', media: ready('m5'), sent_at: '2025-01-01T00:00:05Z' },
  ]);
  const can = (seq) => canReport(s, s.message('group:1', seq));
  assert.deepEqual([1, 2, 3, 4, 5].map(can), [true, false, false, false, true]);
  assert.equal(canReport(s, null), false);
  assert.equal(canReport(s, { chat_id: 'group:1', sender_id: 'bob', kind: 'text', pending: true }), false);
  s.upsertChat({ chat_id: 'group:1', kind: 'group', name: 'Book club', last_seq: 6,
    members: [{ user_id: 'carol', role: 'admin' }, { user_id: 'bob', role: 'member' }] }); // alice was removed
  assert.equal(can(1), false);
});

// ---- groups ------------------------------------------------------------------------------------------

test('group rights: settings are admins\' own, edit_info and send as the settings say', () => {
  const s = store();
  const chat = s.chat('group:1');
  assert.deepEqual(groupRights(chat, 'alice'),
    { member: true, admin: false, editInfo: true, changeSettings: false, manageMembers: false, send: true, sendReason: '' });
  assert.deepEqual(groupRights(chat, 'carol'),
    { member: true, admin: true, editInfo: true, changeSettings: true, manageMembers: true, send: true, sendReason: '' });
  chat.settings = { send: 'admins', edit_info: 'admins' };
  assert.deepEqual(groupRights(chat, 'alice'),
    { member: true, admin: false, editInfo: false, changeSettings: false, manageMembers: false, send: false, sendReason: 'admins' });
  assert.equal(groupRights(chat, 'carol').send, true);
  assert.equal(groupRights(chat, 'zed').sendReason, 'left');
  const direct = groupRights(s.chat('direct:alice:bob'), 'alice');
  assert.equal(direct.send, true);
  assert.equal(direct.admin, false);
  assert.equal(groupRights(null, 'alice').send, false);
});

test('the store keeps a group\'s description, picture and settings as of the newest chat object', () => {
  const s = store();
  const members = s.chat('group:1').members;
  s.upsertChat({ chat_id: 'group:1', kind: 'group', name: 'Books', last_seq: 5, description: 'Fridays',
    avatar: { media_id: 'mg' }, settings: { send: 'admins', edit_info: 'all' }, members });
  let c = s.chat('group:1');
  assert.deepEqual([c.name, c.description, c.avatar_media_id, c.settings.send], ['Books', 'Fridays', 'mg', 'admins']);
  // a REST reply asked for before the change (an older last_seq) changes none of it
  s.upsertChat({ chat_id: 'group:1', kind: 'group', name: 'Books', last_seq: 4, settings: { send: 'all', edit_info: 'all' }, members });
  c = s.chat('group:1');
  assert.deepEqual([c.description, c.avatar_media_id, c.settings.send], ['Fridays', 'mg', 'admins']);
  // a `synced` entry (no members) carries none of it: nothing is cleared
  s.applySynced({ chat_id: 'group:1', kind: 'group', name: 'Books', last_seq: 6, delivered_seq: 6, read_seq: 6 });
  assert.deepEqual([c.description, c.avatar_media_id], ['Fridays', 'mg']);
  // a newer chat object without them: removed
  s.upsertChat({ chat_id: 'group:1', kind: 'group', name: 'Books', last_seq: 7, settings: { send: 'all', edit_info: 'all' }, members });
  assert.deepEqual([c.description, c.avatar_media_id, c.settings.send], [null, null, 'all']);
});

test('the member list: admins first, then by name, with display names', () => {
  const s = store();
  const p = new Profiles();
  p.apply([{ user_id: 'bob', display_name: 'Aaron' }], T0);
  assert.deepEqual(memberRows(s.chat('group:1'), p, 'alice'), [
    { user_id: 'carol', role: 'admin', name: 'carol', me: false },
    { user_id: 'bob', role: 'member', name: 'Aaron', me: false },
    { user_id: 'alice', role: 'member', name: 'alice', me: true },
  ]);
  assert.deepEqual(memberRows(null, p, 'alice'), []);
});

test('the group info form sends the changed name and description; an emptied description is removed', () => {
  const chat = { name: 'Books', description: 'Fridays' };
  assert.deepEqual(groupInfoChanges(chat, { name: ' Books ', description: 'Fridays' }), { changes: null });
  assert.deepEqual(groupInfoChanges(chat, { name: 'Book club', description: '' }), { changes: { name: 'Book club', description: null } });
  assert.deepEqual(groupInfoChanges({ name: 'Books' }, { name: 'Books', description: 'new' }), { changes: { description: 'new' } });
  assert.match(groupInfoChanges(chat, { name: '  ', description: '' }).error, /needs a name/);
  assert.match(groupInfoChanges(chat, { name: 'x'.repeat(101) }).error, /at most 100/);
  assert.match(groupInfoChanges(chat, { name: 'ok', description: 'x'.repeat(513) }).error, /at most 512/);
});

// ---- invite links ----------------------------------------------------------------------------------

test('an invite link is the page with #join=<token>, and the token is read back from the hash', () => {
  const token = '3mJq0Qe2x9bq8o1Wk7x2Zw';
  const link = inviteLink('http://127.0.0.1:8000/', token);
  assert.equal(link, 'http://127.0.0.1:8000/#join=3mJq0Qe2x9bq8o1Wk7x2Zw');
  assert.equal(joinToken(new URL(link).hash), token);
  assert.equal(joinToken(`join=${token}`), token);
  assert.equal(joinToken(''), null);
  assert.equal(joinToken('#chat=abc'), null);
  assert.equal(joinToken('#join='), null);
  assert.equal(joinToken('#join=short'), null);
  assert.equal(joinToken('#join=%3Cscript%3E12345'), null); // not a token: never sent
  assert.equal(joinToken('#join=%E0%A4%A'), null); // broken escapes
});

test('why a join failed, as the user reads it', () => {
  assert.equal(joinErrorText('not_found'), 'This invite link has expired or was revoked.');
  assert.equal(joinErrorText('conflict'), 'This group is full: it cannot take more members.');
  assert.match(joinErrorText('disconnected'), /Open the link again/);
  assert.equal(joinErrorText('internal', 'boom'), 'Could not join the group (boom).');
});

test('an invite link says how long it has left', () => {
  const iso = (ms) => new Date(T0 + ms).toISOString();
  assert.equal(inviteExpiryText(iso(604_800_000), T0), 'Expires in 7 days');
  assert.equal(inviteExpiryText(iso(5 * 3_600_000), T0), 'Expires in 5 h');
  assert.equal(inviteExpiryText(iso(12 * 60_000), T0), 'Expires in 12 min');
  assert.equal(inviteExpiryText(iso(-1), T0), 'Expired');
  assert.equal(inviteExpiryText('nonsense', T0), '');
});
