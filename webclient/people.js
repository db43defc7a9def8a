// People and groups as pure logic (PROTOCOL.md "People: profiles, privacy, blocking, reports" and "Groups:
// information, roles, invites"): the profile cache (names and avatars, fetched in batches and refreshed before
// their URLs expire), what a chat is called and how its avatar reads, how presence reads, the privacy settings,
// what a profile edit or a report sends, what a group member may change, and invite links.
// No DOM, no network, no timers: the caller passes the time, so `node --test` covers every rule.

export const USERS_PER_CALL = 100; // GET /api/users names at most 100 ids
export const PROFILE_TTL_MS = 12 * 60_000; // avatar URLs live 15 minutes: fetch again before they expire
export const PENDING_AVATAR_RETRY_MS = 5_000; // an avatar still processing when fetched: look again soon
export const FAILED_RETRY_MS = 30_000; // a failed fetch is not retried before this
export const STALE_GRACE_MS = 10_000; // an image that fails to load marks its profile stale, at most this often

/** The first USERS_PER_CALL-sized slices of a list of ids, as GET /api/users takes them. */
export function batches(ids, size = USERS_PER_CALL) {
  const out = [];
  for (let i = 0; i < ids.length; i += size) out.push(ids.slice(i, i + size));
  return out;
}

/** The URL of a media object's thumbnail (`variants.thumb`), else a larger variant or the original; null. */
export function thumbUrl(media) {
  if (!media || media.status !== 'ready') return null;
  const v = media.variants || {};
  for (const name of ['thumb', 'small', 'large']) if (v[name] && v[name].url) return v[name].url;
  return media.url || null;
}

/**
 * What this client knows of people: `GET /api/users` replies, `profile` events, one's own `PUT /api/me/profile`.
 * Each entry is as of a stamp (taken before a request is sent, or when an event arrives), so a reply asked for
 * before a newer event cannot undo it. Entries go stale after PROFILE_TTL_MS (their avatar URLs expire).
 */
export class Profiles {
  constructor() {
    this.users = new Map(); // user_id -> {user_id, display_name?, about?, avatar?, deleted?, missing?, at, stamp}
    this.inflight = new Set();
    this.retryAt = new Map(); // user_id -> ms: a failed fetch waits until then
    this._stamp = 0;
  }

  /** A stamp to take just before asking (or on an event); pass it with what comes back. */
  stamp() {
    return ++this._stamp;
  }

  /** Users as the server shows them (`GET /api/users`, a `profile` event's `user`, a PUT's `profile`). */
  apply(users, now, stamp = this.stamp()) {
    let changed = false;
    for (const u of users || []) {
      if (!u || typeof u.user_id !== 'string') continue;
      const known = this.users.get(u.user_id);
      if (known && known.stamp > stamp) continue; // an older answer than what is known
      this.users.set(u.user_id, { ...u, at: now, stamp });
      changed = true;
    }
    return changed;
  }

  /** A GET /api/users reply for `asked`: ids it left out are unknown users (not asked for again until stale). */
  settle(asked, users, now, stamp) {
    for (const id of asked) this.inflight.delete(id);
    this.apply(users, now, stamp);
    const got = new Set((users || []).map((u) => u && u.user_id));
    for (const id of asked) {
      const known = this.users.get(id);
      if (!got.has(id) && !(known && known.stamp > stamp)) this.users.set(id, { user_id: id, missing: true, at: now, stamp });
    }
  }

  /** A fetch that failed: those ids wait FAILED_RETRY_MS. */
  fail(asked, now) {
    for (const id of asked) {
      this.inflight.delete(id);
      this.retryAt.set(id, now + FAILED_RETRY_MS);
    }
  }

  /** Ids about to be fetched. */
  begin(ids) {
    for (const id of ids) this.inflight.add(id);
  }

  /** Of `ids`, those to fetch now: unknown, stale (URLs about to expire), or with an avatar still processing. */
  due(ids, now) {
    const out = [];
    for (const id of new Set(ids)) {
      if (!id || this.inflight.has(id) || (this.retryAt.get(id) || 0) > now) continue;
      const u = this.users.get(id);
      if (!u || u.stale || now - u.at >= PROFILE_TTL_MS) out.push(id);
      else if (u.avatar && u.avatar.status === 'pending' && now - u.at >= PENDING_AVATAR_RETRY_MS) out.push(id);
    }
    return out;
  }

  /** An avatar failed to load (its URL expired early, say): fetch the profile again, unless it is brand new. */
  markStale(id, now) {
    const u = this.users.get(id);
    if (!u || now - u.at < STALE_GRACE_MS) return false;
    u.stale = true;
    return true;
  }

  get(id) {
    return this.users.get(id) || null;
  }

  /** The name to show: the display name when there is one, else the user id. */
  name(id) {
    const u = this.users.get(id);
    return (u && !u.deleted && typeof u.display_name === 'string' && u.display_name.trim()) || id || '';
  }

  /** The avatar to show (`variants.thumb` of the profile's `avatar`), or null. */
  avatarUrl(id) {
    const u = this.users.get(id);
    return u && !u.deleted ? thumbUrl(u.avatar) : null;
  }
}

/** Up to two letters for an avatar without a picture: "Alice Martin" -> "AM", "bob_42" -> "B" (numbers are no initials). */
export function initials(name) {
  const all = String(name || '').trim().split(/[\s_.-]+/u).filter(Boolean);
  const words = all.filter((w) => !/^\p{N}+$/u.test(w)).length ? all.filter((w) => !/^\p{N}+$/u.test(w)) : all;
  const first = (w) => ([...w].find((ch) => /[\p{L}\p{N}]/u.test(ch)) || [...w][0] || '').toUpperCase();
  if (!words.length) return '?';
  const letters = words.length > 1 ? first(words[0]) + first(words[1]) : first(words[0]);
  return letters || '?';
}

/** A stable hue (0-359) for an id, so an avatar without a picture keeps its colour. */
export function hueOf(id) {
  let h = 0;
  for (const ch of String(id || '')) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

/** What a chat is called: a direct chat by the peer's display name (else id), a group by its name. */
export function chatTitle(store, profiles, chatId) {
  const peer = store.peerOf(chatId);
  return peer ? profiles.name(peer) : store.displayName(chatId);
}

/**
 * A chat's avatar: a direct chat shows the peer's (`kind` user, `id` the peer), a group its own picture (`kind`
 * media, `id` its media_id; the URL once known through `media_url` or a `media` event). {url, label, seed, kind, id}:
 * without a URL the label's initials show, on a colour from `seed`.
 */
export function chatAvatar(store, profiles, chatId) {
  const c = store.chat(chatId);
  const peer = store.peerOf(chatId);
  if (peer) return { url: profiles.avatarUrl(peer), label: profiles.name(peer), seed: peer, kind: 'user', id: peer };
  const mediaId = c && c.avatar_media_id;
  return { url: mediaId ? thumbUrl(store.mediaOf(mediaId)) : null, label: store.displayName(chatId), seed: chatId,
    kind: mediaId ? 'media' : 'none', id: mediaId || '' };
}

/** A user's avatar, as chatAvatar gives it. */
export const userAvatar = (profiles, userId) => ({ url: profiles.avatarUrl(userId), label: profiles.name(userId), seed: userId,
  kind: 'user', id: userId });

// ---- presence ------------------------------------------------------------------------

const hhmm = (d) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * How a user's presence reads: "online", "last seen 5 min ago", …; '' when unknown (the user's `last_seen`
 * setting hides it from this user, or they blocked this user: no "last seen" line then), or nothing is known.
 */
export function presenceText(p, now) {
  if (!p || p.status === 'unknown') return '';
  if (p.status === 'online') return 'online';
  const t = Date.parse(p.last_seen || '');
  if (Number.isNaN(t)) return 'offline';
  const ago = now - t;
  if (ago < 60_000) return 'last seen just now';
  if (ago < 3_600_000) return `last seen ${Math.floor(ago / 60_000)} min ago`;
  const d = new Date(t);
  if (d.toDateString() === new Date(now).toDateString()) return `last seen today at ${hhmm(d)}`;
  return `last seen ${d.toLocaleDateString()} ${hhmm(d)}`;
}

/** The dot's state: online / offline / unknown. */
export const presenceStatus = (p) => (p && (p.status === 'online' || p.status === 'offline') ? p.status : 'unknown');

// ---- settings ----------------------------------------------------------------------------

/** The user's settings (`PUT /api/me/settings`): allowed values and defaults. */
export const SETTINGS = {
  last_seen: { values: ['everyone', 'contacts', 'nobody'], default: 'everyone' },
  read_receipts: { values: [true, false], default: true },
  groups_add: { values: ['everyone', 'contacts'], default: 'everyone' },
  push_previews: { values: [true, false], default: true },
};

/** Settings as the server answers them, every one filled in (a missing or odd value reads as its default). */
export function withDefaults(settings) {
  const out = {};
  for (const [k, spec] of Object.entries(SETTINGS)) {
    const v = settings ? settings[k] : undefined;
    out[k] = spec.values.includes(v) ? v : spec.default;
  }
  return out;
}

/** What a PUT /api/me/settings sends: only the settings that differ from `current` (null: nothing to send). */
export function settingsChanges(current, wanted) {
  const now = withDefaults(current);
  const changes = {};
  for (const [k, spec] of Object.entries(SETTINGS)) {
    if (!wanted || !(k in wanted)) continue;
    const v = wanted[k];
    if (spec.values.includes(v) && v !== now[k]) changes[k] = v;
  }
  return Object.keys(changes).length ? changes : null;
}

// ---- profile -------------------------------------------------------------------------------

const chars = (s) => [...s].length; // the server counts characters (code points)
export const PROFILE_LIMITS = { display_name: 64, about: 140 };

/**
 * What a PUT /api/me/profile sends for the editor's fields: changed fields only, trimmed; an emptied field is
 * removed (null). {changes} (null when nothing changed) or {error}.
 */
export function profileChanges(current, form) {
  const changes = {};
  for (const [k, max] of Object.entries(PROFILE_LIMITS)) {
    if (!form || typeof form[k] !== 'string') continue;
    const v = form[k].trim();
    const before = current && typeof current[k] === 'string' ? current[k] : '';
    if (chars(v) > max) return { error: `${k === 'about' ? 'About' : 'The display name'} is at most ${max} characters.` };
    if (v === before) continue;
    changes[k] = v === '' ? null : v;
  }
  return { changes: Object.keys(changes).length ? changes : null };
}

/** Whether a file may become an avatar: the image types the server makes variants of. */
export const AVATAR_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
export const isAvatarType = (type) => AVATAR_TYPES.includes(String(type || '').toLowerCase());

// ---- reports -------------------------------------------------------------------------------

export const REPORT_MAX = 500;
export const REPORT_CATEGORIES = [
  { id: 'spam', label: 'Spam' },
  { id: 'abuse', label: 'Harassment or abuse' },
  { id: 'threat', label: 'Violence or threats' },
  { id: 'other', label: 'Something else' },
];

/** The `reason` a report sends: the category, then the details. {reason} or {error}. */
export function reportReason(categoryId, details) {
  const c = REPORT_CATEGORIES.find((x) => x.id === categoryId);
  if (!c) return { error: 'Pick a reason.' };
  const more = String(details || '').trim();
  if (c.id === 'other' && !more) return { error: 'Say what is wrong with this message.' };
  const reason = more ? `${c.label}: ${more}` : c.label;
  if (chars(reason) > REPORT_MAX) return { error: `The reason is at most ${REPORT_MAX} characters.` };
  return { reason };
}

/** Whether a message may be reported here: someone else's, shown, not a system message, in a chat one is in. */
export function canReport(store, m) {
  if (!m || m.pending || !Number.isInteger(m.seq) || m.seq < 1 || m.hidden || m.deleted) return false;
  if (m.kind === 'system' || !m.sender_id || m.sender_id === store.me) return false;
  if (['edit', 'delete', 'reaction'].includes(m.kind)) return false;
  const c = store.chat(m.chat_id);
  return !!c && !c.left;
}

// ---- groups --------------------------------------------------------------------------------

export const GROUP_DEFAULTS = { send: 'all', edit_info: 'all' };

/**
 * What `me` may do in a chat: {member, admin, editInfo, changeSettings, manageMembers, send, sendReason}.
 * `sendReason` says why the composer is off: 'left', 'admins' (only admins send here), or ''.
 */
export function groupRights(chat, me) {
  const none = { member: false, admin: false, editInfo: false, changeSettings: false, manageMembers: false, send: false };
  if (!chat || !chat.members) return { ...none, sendReason: chat && chat.left ? 'left' : '' };
  const mine = chat.members.find((m) => m.user_id === me);
  if (!mine || chat.left) return { ...none, sendReason: 'left' };
  if (chat.kind !== 'group') return { ...none, member: true, send: true, sendReason: '' };
  const settings = { ...GROUP_DEFAULTS, ...(chat.settings || {}) };
  const admin = mine.role === 'admin';
  const send = settings.send !== 'admins' || admin;
  return {
    member: true,
    admin,
    editInfo: settings.edit_info !== 'admins' || admin,
    changeSettings: admin,
    manageMembers: admin,
    send,
    sendReason: send ? '' : 'admins',
  };
}

/** A group's members for the info panel: admins first, then by name; each {user_id, role, name, me}. */
export function memberRows(chat, profiles, me) {
  if (!chat || !chat.members) return [];
  return chat.members
    .map((m) => ({ user_id: m.user_id, role: m.role === 'admin' ? 'admin' : 'member', name: profiles.name(m.user_id), me: m.user_id === me }))
    .sort((a, b) => (a.role === b.role ? 0 : a.role === 'admin' ? -1 : 1) || a.name.localeCompare(b.name) || a.user_id.localeCompare(b.user_id));
}

/** What an `update_chat` sends for the info form: the changed name and description. {changes} or {error}. */
export function groupInfoChanges(chat, form) {
  const name = String((form && form.name) || '').trim();
  const description = String((form && form.description) || '').trim();
  if (!name) return { error: 'A group needs a name.' };
  if (chars(name) > 100) return { error: 'A group name is at most 100 characters.' };
  if (chars(description) > 512) return { error: 'The description is at most 512 characters.' };
  const changes = {};
  if (name !== (chat && chat.name)) changes.name = name;
  const before = (chat && chat.description) || '';
  if (description !== before) changes.description = description === '' ? null : description;
  return { changes: Object.keys(changes).length ? changes : null };
}

// ---- invite links ------------------------------------------------------------------------------

const TOKEN_RE = /^[A-Za-z0-9_-]{8,128}$/;

/** The link to share for an invite token: the page's address (origin and path) with `#join=<token>`. */
export function inviteLink(pageBase, token) {
  return `${pageBase}#join=${encodeURIComponent(token)}`;
}

/** The invite token in a page's hash (`#join=<token>`), or null. */
export function joinToken(hash) {
  const m = /^#?join=([^&]*)/.exec(String(hash || ''));
  if (!m) return null;
  let token;
  try {
    token = decodeURIComponent(m[1]);
  } catch {
    return null;
  }
  return TOKEN_RE.test(token) ? token : null;
}

/** Why a `join` failed, as the user reads it. */
export function joinErrorText(code, message) {
  if (code === 'not_found') return 'This invite link has expired or was revoked.';
  if (code === 'conflict') return 'This group is full: it cannot take more members.';
  if (code === 'forbidden') return 'You may not join this group.';
  if (code === 'offline' || code === 'disconnected' || code === 'timeout') return 'Could not reach the server. Open the link again to retry.';
  return `Could not join the group${message ? ` (${message})` : ''}.`;
}

/** How long an invite link has left: "Expires in 7 days" / "in 5 h" / "in 12 min"; '' once past. */
export function inviteExpiryText(expiresAt, now) {
  const t = Date.parse(expiresAt || '');
  if (Number.isNaN(t) || t <= now) return t <= now ? 'Expired' : '';
  const left = t - now;
  if (left < 3_600_000) return `Expires in ${Math.max(1, Math.round(left / 60_000))} min`;
  if (left < 48 * 3_600_000) return `Expires in ${Math.round(left / 3_600_000)} h`;
  return `Expires in ${Math.round(left / 86_400_000)} days`;
}
