// Chats, messages, cursors, receipts, media, typing and presence as pure logic.
// No DOM, no network, no timers: the caller passes the time where it matters,
// so every rule here can be unit tested with `node --test webclient/tests/`.

export const TYPING_TTL_MS = 10_000;

const mediaRank = (m) => (m && (m.status === 'ready' || m.status === 'rejected') ? 1 : 0);
const isSeq = (n) => Number.isInteger(n) && n >= 1;
const RELATIONS = new Set(['edit', 'delete', 'reaction']);
/** Edits, deletes and reactions: messages of the log that act on another one, never shown themselves. */
export const isRelation = (m) => RELATIONS.has(m.kind);
/** What a chat shows as a bubble: not a relation, not deleted for me (`hide`). */
export const isShown = (m) => !isRelation(m) && !m.hidden;
export const EDIT_WINDOW_MS = 15 * 60_000;
export const DELETE_WINDOW_MS = 48 * 3_600_000;
export const QUOTE_CHARS = 200;
/** Fields of a message that a `send` carries over from the pending message to the placed one. */
const CARRIED = ['relates_to', 'emoji', 'reply_to', 'quote', 'forwarded', 'mentions'];
const MENTION_RE = /(^|[^\w@.])@([a-z0-9_.-]{1,64})/gi;
/** The first QUOTE_CHARS code points of a text. */
export const snippet = (text) => [...(text || '')].slice(0, QUOTE_CHARS).join('');
const time = (iso) => {
  const t = Date.parse(iso || '');
  return Number.isNaN(t) ? 0 : t;
};

export class ChatStore {
  constructor(me) {
    this.me = me;
    this.chats = new Map(); // chat_id -> chat state (see ensureChat)
    this.media = new Map(); // media_id -> freshest known media object
    this.pending = new Map(); // client_msg_id -> outgoing message not yet acknowledged
    this.presence = new Map(); // user_id -> {status, last_seen}
    this.syncToken = ''; // the `since` of the last completed sync pass ('' before the first)
    this.nextExpiry = Infinity; // ms: the soonest `expires_at` of a loaded message not yet marked disappeared
    this._stamp = 0; // orders what this user's mute is known from: REST replies (by when asked) and own mute calls
  }

  // ---- chats ---------------------------------------------------------------

  chat(chatId) {
    return this.chats.get(chatId) || null;
  }

  ensureChat(chatId) {
    let c = this.chats.get(chatId);
    if (!c) {
      c = {
        chat_id: chatId,
        kind: null, // unknown until a chat object or `synced` entry arrives
        name: null,
        members: null,
        created_at: null,
        last_seq: 0,
        messages: [], // ascending by seq, no repeats
        bySeq: new Map(),
        myDelivered: 0, // this user's own cursors (synced delivered_seq / read_seq)
        myRead: 0,
        peerDelivered: 0, // what the others reached: drives the ticks on own messages
        peerRead: 0,
        memberCursors: new Map(), // group: user_id -> {delivered, read}
        historyExhausted: false,
        typing: new Map(), // user_id -> expiry (ms)
        left: false,
        disappear_after: null, // seconds after which new messages disappear; null: off
        disappearAsOf: -1, // the seq up to which disappear_after is known (a chat object's last_seq, a notice's seq)
        muted_until: null, // ISO: this user's mute (REST chat objects, own mute calls); a past one is no mute
        muteAsOf: 0, // the stamp (restStamp) of what muted_until was last set from
        description: null, // groups: the description, the avatar's media_id and the settings of a chat object
        avatar_media_id: null,
        settings: undefined,
        infoAsOf: -1, // the last_seq of the chat object they came from: an older one changes nothing
      };
      this.chats.set(chatId, c);
    }
    return c;
  }

  /**
   * A chat object (REST, `chat` event) or a `synced` entry. `restStamp` (from restStamp(), taken before the request)
   * marks a chat object of `GET /api/chats` or `GET /api/chats/{id}`: only those carry `muted_until` (absent there:
   * not muted). Pushed `chat` frames and `synced` entries never do, so they leave it alone; so do `chat` replies on
   * the socket, which carry it but may have been answered before this user's last mute call.
   */
  upsertChat(obj, restStamp = 0) {
    if (!obj || typeof obj.chat_id !== 'string') return null;
    const c = this.ensureChat(obj.chat_id);
    if (obj.kind) c.kind = obj.kind;
    if (typeof obj.name === 'string') c.name = obj.name;
    if (obj.created_at) c.created_at = obj.created_at;
    if (Array.isArray(obj.members)) {
      c.members = obj.members.map((m) => ({ user_id: m.user_id, role: m.role }));
      c.left = !c.members.some((m) => m.user_id === this.me);
      // a chat object (not a `synced` entry) always says: `disappear_after` absent is off
      this._setDisappear(c, obj.disappear_after, Number.isInteger(obj.last_seq) ? obj.last_seq : 0);
    }
    if (Array.isArray(obj.members)) this._setInfo(c, obj, Number.isInteger(obj.last_seq) ? obj.last_seq : 0);
    else if (obj.settings && typeof obj.settings === 'object') c.settings = { ...obj.settings };
    if (Number.isInteger(obj.last_seq)) c.last_seq = Math.max(c.last_seq, obj.last_seq);
    if (restStamp > c.muteAsOf) {
      // a reply asked for before this user's last mute call (or an older reply) is stale
      c.muted_until = typeof obj.muted_until === 'string' && obj.muted_until ? obj.muted_until : null;
      c.muteAsOf = restStamp;
    }
    return c;
  }

  /**
   * A group's information from a chat object, which always carries all of it (`description` and `avatar` absent:
   * none), as of its `last_seq`: every change appends a `system` message, so an older object (a REST reply asked
   * for before a change) is stale and changes nothing.
   */
  _setInfo(c, obj, asOf) {
    if (asOf < c.infoAsOf) return;
    c.infoAsOf = asOf;
    c.description = typeof obj.description === 'string' && obj.description ? obj.description : null;
    c.avatar_media_id = obj.avatar && typeof obj.avatar.media_id === 'string' ? obj.avatar.media_id : null;
    if (obj.settings && typeof obj.settings === 'object') c.settings = { ...obj.settings };
  }

  /** The freshest known media object of an id (a group's avatar, say), or null. */
  mediaOf(mediaId) {
    return (mediaId && this.media.get(mediaId)) || null;
  }

  // ---- mutes -------------------------------------------------------------------

  /** A stamp to take just before a REST request for chat objects; pass it to upsertChat with the reply. */
  restStamp() {
    return ++this._stamp;
  }

  /** This user's own `mute` call succeeded: `until` (ISO) or null (unmuted). It outranks REST replies asked for before. */
  setMute(chatId, until) {
    const c = this.ensureChat(chatId);
    c.muted_until = until || null;
    c.muteAsOf = ++this._stamp;
  }

  /** The chat's mute end (ISO) while it lasts at `now` (ms, this device's clock), else null. */
  mutedUntil(chatId, now) {
    const c = this.chat(chatId);
    return c && c.muted_until && time(c.muted_until) > now ? c.muted_until : null;
  }

  isMuted(chatId, now) {
    return this.mutedUntil(chatId, now) !== null;
  }

  /** When the soonest mute still running at `now` ends (ms), Infinity when none: the page shows it ended then. */
  nextMuteEnd(now) {
    let next = Infinity;
    for (const c of this.chats.values()) {
      const t = time(c.muted_until);
      if (t > now && t < next) next = t;
    }
    return next;
  }

  /**
   * A chat's disappearing setting as of a seq: a chat object's holds after its `last_seq`, a `system` notice's
   * after its own seq. An older one (a stale REST reply, a notice reached by scrollback) changes nothing.
   */
  _setDisappear(c, seconds, asOf) {
    if (asOf < c.disappearAsOf) return;
    c.disappear_after = Number.isInteger(seconds) && seconds > 0 ? seconds : null;
    c.disappearAsOf = asOf;
  }

  /** Whether this user may change the chat's disappearing setting: any member, or admins when `edit_info` says so. */
  canSetDisappearing(chatId) {
    const c = this.chat(chatId);
    if (!c || c.left || !c.kind) return false;
    if (c.kind === 'group' && c.settings && c.settings.edit_info === 'admins') return this.roleIn(chatId) === 'admin';
    return true;
  }

  /** One entry of `synced.chats`: delivered_seq / read_seq are this user's own cursors. */
  applySynced(entry) {
    const c = this.upsertChat(entry);
    if (!c) return null;
    this.setOwnCursor(c.chat_id, 'delivered', entry.delivered_seq);
    this.setOwnCursor(c.chat_id, 'read', entry.read_seq);
    return c;
  }

  /**
   * One `synced` reply of a sync pass (the changes form): its entries applied. Returns the `next` page
   * to ask for, or null once the pass is complete; only then is its `since` kept for the next pass.
   */
  applySyncedPage(synced) {
    for (const entry of synced.chats || []) this.applySynced(entry);
    if (typeof synced.next === 'string') return synced.next;
    if (typeof synced.since === 'string') this.syncToken = synced.since;
    return null;
  }

  displayName(chatId) {
    const c = this.chat(chatId);
    if (!c) return chatId;
    if (c.kind === 'group') return c.name || 'Group';
    return this.peerOf(chatId) || c.name || 'Chat';
  }

  /** The other user of a direct chat, when its members are known. */
  peerOf(chatId) {
    const c = this.chat(chatId);
    if (!c || c.kind !== 'direct' || !c.members) return null;
    const peer = c.members.find((m) => m.user_id !== this.me);
    return peer ? peer.user_id : null;
  }

  /** Chats, most recent activity first. */
  chatList() {
    const activity = (c) => {
      const last = this.lastMessage(c.chat_id);
      return Math.max(time(last && (last.sent_at || last.created_at)), time(c.created_at));
    };
    return [...this.chats.values()].sort(
      (a, b) => activity(b) - activity(a) || a.chat_id.localeCompare(b.chat_id),
    );
  }

  // ---- messages ------------------------------------------------------------

  /**
   * Place a message by seq; a repeat of (chat_id, seq) is dropped. Returns true if it was new.
   * `through`: the highest seq of the frame or reply that brought it. A target served by the server carries
   * every relation stored before it was served, so a relation up to that seq that arrives later (scrollback,
   * the rest of a history page) is not folded into it again.
   */
  addMessage(msg, through = 0) {
    if (!msg || typeof msg.chat_id !== 'string' || !isSeq(msg.seq)) return false;
    const c = this.ensureChat(msg.chat_id);
    let known = c.bySeq.get(msg.seq);
    if (known && known.absent && !msg.absent) {
      // a seq a history reply skipped arrives after all (a send still in flight then): it takes the place
      c.messages.splice(c.messages.indexOf(known), 1);
      c.bySeq.delete(msg.seq);
      known = null;
    }
    if (known) {
      // A repeat may still carry a fresher media object (sync / history give fresh URLs).
      if (msg.media && known.media) known.media = this._mergeMedia(msg.media);
      return false;
    }
    const m = { ...msg };
    if (m.media) m.media = this._mergeMedia(m.media);
    m._through = Math.max(m.seq, through);
    const list = c.messages;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].seq < m.seq) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, m);
    c.bySeq.set(m.seq, m);
    if (m.seq > c.last_seq) c.last_seq = m.seq;
    if (m.sender_id) c.typing.delete(m.sender_id);
    if (isRelation(m)) this._fold(c, m);
    const ev = m.kind === 'system' && m.event;
    if (ev && ev.type === 'disappear_after') this._setDisappear(c, ev.seconds, m.seq);
    this._trackExpiry(m);
    return true;
  }

  // ---- disappearing messages ---------------------------------------------------

  _trackExpiry(m) {
    if (!m.expires_at || m.disappeared) return;
    const t = time(m.expires_at);
    if (t && t < this.nextExpiry) this.nextExpiry = t;
  }

  /**
   * Messages whose `expires_at` has passed (by this device's clock) are shown as the server serves them from then
   * on: deleted, with no text, media or reactions. The server pushes nothing when they expire. Served already as
   * deleted, they are marked too (they disappeared, rather than were deleted). Returns the messages changed.
   */
  expireDue(now) {
    if (now < this.nextExpiry) return [];
    const changed = [];
    let next = Infinity;
    for (const c of this.chats.values()) {
      for (const m of c.messages) {
        if (!m.expires_at || m.disappeared) continue;
        const t = time(m.expires_at);
        if (!t) continue;
        if (t > now) {
          next = Math.min(next, t);
          continue;
        }
        m.disappeared = true;
        if (!m.deleted) {
          m.deleted = true;
          delete m.text;
          delete m.media;
          delete m.reactions;
        }
        changed.push(m);
      }
    }
    this.nextExpiry = next;
    return changed;
  }

  /**
   * An edit, delete or reaction pushed live, folded into its target as the server folds it (what history and
   * sync serve carries its state already). A target not loaded yet arrives folded when it is loaded.
   */
  _fold(c, rel) {
    const target = c.bySeq.get(rel.relates_to);
    if (!target || target.deleted || target.hidden || isRelation(target)) return;
    if (rel.kind === 'edit') {
      if (rel.seq <= Math.max(target._through, target._editSeq || 0)) return; // its state has it (or a later edit)
      target._editSeq = rel.seq;
      target.text = rel.text;
      target.edited_at = rel.sent_at;
    } else if (rel.kind === 'delete') {
      target.deleted = true;
      delete target.text;
      delete target.media;
      delete target.reactions;
    } else {
      const seen = (target._reactSeq ||= {});
      if (rel.seq <= Math.max(target._through, seen[rel.sender_id] || 0)) return;
      seen[rel.sender_id] = rel.seq;
      // one reaction per user: theirs moves to the end of the order; "" takes it back
      const mine = Object.entries(target.reactions || {}).flatMap(([emoji, users]) => users.map((u) => [u, emoji]));
      const order = mine.filter(([u]) => u !== rel.sender_id);
      if (rel.emoji) order.push([rel.sender_id, rel.emoji]);
      const shown = {};
      for (const [u, emoji] of order) (shown[emoji] ||= []).push(u);
      if (order.length) target.reactions = shown;
      else delete target.reactions;
    }
  }

  /** Returns the messages that were new. A message's own chat_id wins over `chatId` (the frame's). */
  addMessages(chatId, messages) {
    const added = [];
    const through = new Map(); // chat_id -> highest seq in this batch
    const list = (messages || []).filter(Boolean).map((m) => (m.chat_id ? m : { ...m, chat_id: chatId }));
    for (const m of list) if (isSeq(m.seq)) through.set(m.chat_id, Math.max(through.get(m.chat_id) || 0, m.seq));
    for (const msg of list) {
      if (this.addMessage(msg, through.get(msg.chat_id))) added.push(msg);
    }
    return added;
  }

  /**
   * After a `history` reply to `request` (a gap's): seqs in the range the server went through that did not
   * come back are not served to this user (deleted for them with `hide`, on any of their devices), so they are
   * marked hidden and stop counting as a gap. The server reads back from `before` (or the newest message).
   * A send still in flight leaves such a hole for a moment too: its message, pushed later, still takes the seq.
   */
  settleGap(request, reply) {
    const c = this.chat(request.chat_id);
    if (!c || !reply) return 0;
    const top = (request.before || this.lastSeq(request.chat_id) + 1) - 1;
    const got = (reply.messages || []).map((m) => m.seq).filter(isSeq);
    const low = got.length ? Math.min(...got) : Math.max(1, top - (request.limit || 1) + 1);
    let marked = 0;
    for (let seq = low; seq <= top; seq++) if (!c.bySeq.has(seq) && this._tombstone(c, seq, true)) marked++;
    return marked;
  }

  /** A seq with nothing to show. `absent`: only known as skipped by the server; the message may still come. */
  _tombstone(c, seq, absent = false) {
    if (!isSeq(seq) || c.bySeq.has(seq)) return false;
    const t = { chat_id: c.chat_id, seq, kind: 'hidden', hidden: true };
    if (absent) t.absent = true;
    return this.addMessage(t);
  }

  /** Delete for me (`hide` answered ok): the messages leave this device; their seqs stay, as tombstones. */
  hide(chatId, seqs) {
    const c = this.chat(chatId);
    if (!c) return;
    for (const seq of seqs) {
      const m = c.bySeq.get(seq);
      if (!m) this._tombstone(c, seq);
      else {
        for (const k of Object.keys(m)) if (!['chat_id', 'seq', 'message_id', 'sender_id', 'sent_at', 'kind'].includes(k)) delete m[k];
        m.hidden = true;
      }
    }
  }

  /** A `history` reply (or REST messages page). */
  applyHistory(reply) {
    const added = this.addMessages(reply.chat_id, reply.messages);
    if (reply.has_more === false && reply.chat_id) this.ensureChat(reply.chat_id).historyExhausted = true;
    return added;
  }

  messages(chatId) {
    const c = this.chat(chatId);
    return c ? c.messages : [];
  }

  /** Confirmed messages (relations folded into their targets, not shown) and outgoing ones awaiting `sent`. */
  timeline(chatId) {
    return [...this.messages(chatId).filter(isShown), ...this.pendingFor(chatId).filter((p) => !isRelation(p))];
  }

  /** A confirmed message, or null. */
  message(chatId, seq) {
    const c = this.chat(chatId);
    return (c && c.bySeq.get(seq)) || null;
  }

  /** This user's role in a chat ('admin' | 'member'), or null when unknown. */
  roleIn(chatId) {
    const c = this.chat(chatId);
    const me = c && c.members && c.members.find((m) => m.user_id === this.me);
    return me ? me.role || 'member' : null;
  }

  /** Which actions apply to a message now: {react, reply, forward, edit, deleteForEveryone, deleteForMe}. */
  actionsFor(m, now) {
    const none = { react: false, reply: false, forward: false, edit: false, deleteForEveryone: false, deleteForMe: false };
    if (!m || m.pending || !isSeq(m.seq) || !isShown(m) || m.kind === 'system') return none;
    const c = this.chat(m.chat_id);
    const member = !!c && !c.left;
    const own = m.sender_id === this.me;
    const age = now - time(m.sent_at);
    if (m.deleted) return { ...none, deleteForMe: true };
    return {
      react: member,
      reply: member,
      forward: true,
      edit: member && own && m.kind === 'text' && age < EDIT_WINDOW_MS,
      deleteForEveryone: member && ((own && age < DELETE_WINDOW_MS) || (c.kind === 'group' && this.roleIn(m.chat_id) === 'admin')),
      deleteForMe: true,
    };
  }

  /**
   * What a reply shows of the message it quotes: the original's current state when it is loaded (an edit or a
   * delete since the reply was served), else the reply's `quote`. {seq, sender_id, kind, text, deleted}
   */
  quoteOf(m) {
    const q = m && m.quote;
    if (!q || !isSeq(q.seq)) return null;
    const original = this.message(m.chat_id, q.seq);
    if (original && !original.hidden) {
      return { seq: q.seq, sender_id: original.sender_id, kind: original.kind, deleted: !!original.deleted,
        text: original.deleted ? undefined : original.text === undefined ? undefined : snippet(original.text) };
    }
    const media = ['image', 'video', 'file'].includes(q.kind);
    return { seq: q.seq, sender_id: q.sender_id, kind: q.kind, text: q.text, deleted: q.text === undefined && !media };
  }

  /** The `quote` a reply to this message carries, built here for the pending reply (the server builds its own). */
  quoteFor(m) {
    const q = { seq: m.seq, sender_id: m.sender_id, kind: m.kind };
    if (m.text !== undefined && !m.deleted) q.text = snippet(m.text);
    return q;
  }

  /** Members of a chat other than this user whose id starts with `prefix` (for @mention completion). */
  mentionCandidates(chatId, prefix, max = 8) {
    const c = this.chat(chatId);
    if (!c || !c.members) return [];
    const p = (prefix || '').toLowerCase();
    return c.members
      .map((m) => m.user_id)
      .filter((u) => u !== this.me && u.toLowerCase().startsWith(p))
      .sort()
      .slice(0, max);
  }

  /** The members named as `@user_id` in a text (what a `send` carries as `mentions`). */
  mentionsIn(chatId, text) {
    const c = this.chat(chatId);
    if (!c || !c.members || !text) return [];
    const ids = new Set(c.members.map((m) => m.user_id));
    const out = [];
    for (const match of text.matchAll(MENTION_RE)) {
      let id = match[2].toLowerCase();
      if (!ids.has(id)) id = id.replace(/[.-]+$/, ''); // "@bob." ends a sentence
      if (ids.has(id) && !out.includes(id)) out.push(id);
    }
    return out;
  }

  oldestSeq(chatId) {
    const list = this.messages(chatId);
    return list.length ? list[0].seq : null;
  }

  newestSeq(chatId) {
    const list = this.messages(chatId);
    return list.length ? list[list.length - 1].seq : 0;
  }

  lastSeq(chatId) {
    const c = this.chat(chatId);
    return c ? Math.max(c.last_seq, this.newestSeq(chatId)) : 0;
  }

  lastMessage(chatId) {
    const pend = this.pendingFor(chatId).filter((p) => !isRelation(p));
    if (pend.length) return pend[pend.length - 1];
    const list = this.messages(chatId).filter(isShown);
    return list.length ? list[list.length - 1] : null;
  }

  /**
   * The chat's cursor (what receipts cover): the highest seq up to which the loaded run,
   * starting at the oldest loaded message, has no hole. null = nothing loaded of a chat with messages.
   */
  cursor(chatId) {
    const c = this.chat(chatId);
    if (!c) return null;
    const list = c.messages;
    if (!list.length) return c.kind && c.last_seq === 0 ? 0 : null;
    let top = list[0].seq;
    for (let i = 1; i < list.length && list[i].seq === top + 1; i++) top = list[i].seq;
    return top;
  }

  /**
   * Missing ranges [from, to] between the oldest loaded message and the chat's last seq.
   * Messages older than the oldest loaded one are scrollback, not a gap.
   */
  gaps(chatId) {
    const c = this.chat(chatId);
    if (!c || !c.messages.length) return [];
    const out = [];
    const list = c.messages;
    for (let i = 1; i < list.length; i++) {
      if (list[i].seq > list[i - 1].seq + 1) out.push([list[i - 1].seq + 1, list[i].seq - 1]);
    }
    const newest = list[list.length - 1].seq;
    if (c.last_seq > newest) out.push([newest + 1, c.last_seq]);
    return out;
  }

  /**
   * The `history` request that fills the newest gap, or null.
   * A tail gap (nothing loaded after it) asks for the newest messages, since `before`
   * may not point past the chat's last seq.
   */
  gapRequest(chatId) {
    const gaps = this.gaps(chatId);
    if (!gaps.length) return null;
    const [from, to] = gaps[gaps.length - 1];
    const limit = Math.min(100, to - from + 1);
    if (to >= this.newestSeq(chatId)) return { chat_id: chatId, limit };
    return { chat_id: chatId, before: to + 1, limit };
  }

  /** Older messages may exist before the oldest loaded one. */
  hasOlder(chatId) {
    const c = this.chat(chatId);
    if (!c || c.historyExhausted) return false;
    const oldest = this.oldestSeq(chatId);
    return oldest === null ? c.last_seq > 0 : oldest > 1;
  }

  /**
   * Messages after this user's read cursor that others sent. Loaded messages are
   * counted precisely (own and system messages excluded); not loaded seqs count as unread.
   */
  unreadCount(chatId) {
    const c = this.chat(chatId);
    if (!c) return 0;
    const last = this.lastSeq(chatId);
    if (last <= c.myRead) return 0;
    let loadedAbove = 0;
    let unread = 0;
    for (let i = c.messages.length - 1; i >= 0 && c.messages[i].seq > c.myRead; i--) {
      loadedAbove++;
      const m = c.messages[i];
      if (m.sender_id !== this.me && m.kind !== 'system' && isShown(m)) unread++;
    }
    return unread + (last - c.myRead - loadedAbove);
  }

  // ---- outgoing messages ---------------------------------------------------

  /** An outgoing message; `extra` may hold relates_to, emoji, reply_to, quote, forward_of, forwarded, mentions. */
  addPending({ chat_id, client_msg_id, kind = 'text', text, media_id, media, created_at, ...extra }) {
    const p = {
      chat_id,
      client_msg_id,
      sender_id: this.me,
      kind,
      created_at: created_at || new Date().toISOString(),
      state: 'sending',
      pending: true,
    };
    if (text !== undefined && (text !== '' || kind === 'edit')) p.text = text;
    for (const k of [...CARRIED, 'forward_of']) if (extra[k] !== undefined) p[k] = extra[k];
    if (media_id) {
      p.media_id = media_id;
      p.media = this._mergeMedia(media || { media_id, status: 'pending' });
    }
    this.pending.set(client_msg_id, p);
    return p;
  }

  pendingFor(chatId) {
    return [...this.pending.values()].filter((p) => p.chat_id === chatId);
  }

  failPending(clientMsgId, error) {
    const p = this.pending.get(clientMsgId);
    if (p) {
      p.state = 'failed';
      p.error = error;
    }
    return p || null;
  }

  /** Forget an outgoing message (a relation the server refused: nothing to retry on screen). */
  dropPending(clientMsgId) {
    const p = this.pending.get(clientMsgId);
    this.pending.delete(clientMsgId);
    return p || null;
  }

  retryPending(clientMsgId) {
    const p = this.pending.get(clientMsgId);
    if (p) {
      p.state = 'sending';
      delete p.error;
    }
    return p || null;
  }

  /** A `sent` reply: the outgoing message becomes a placed message (unless sync already placed it). */
  confirmSent(reply) {
    const p = this.pending.get(reply.client_msg_id);
    if (!p) return null;
    this.pending.delete(reply.client_msg_id);
    const msg = {
      chat_id: reply.chat_id || p.chat_id,
      seq: reply.seq,
      message_id: reply.message_id,
      sender_id: this.me,
      kind: p.kind,
      sent_at: reply.sent_at || p.created_at,
    };
    if (p.text !== undefined) msg.text = p.text;
    if (p.media) msg.media = p.media;
    for (const k of CARRIED) if (p[k] !== undefined) msg[k] = p[k];
    // `sent` carries no `expires_at`: the server sets it to sent_at + the chat's disappear_after
    const chat = this.chat(msg.chat_id);
    if (chat && chat.disappear_after && time(msg.sent_at) && !isRelation(msg)) {
      msg.expires_at = new Date(time(msg.sent_at) + chat.disappear_after * 1000).toISOString();
    }
    this.addMessage(msg);
    return this.chat(msg.chat_id).bySeq.get(msg.seq) || null;
  }

  // ---- receipts --------------------------------------------------------------

  /** Move this user's own cursor forward (never back). Returns the previous value. */
  setOwnCursor(chatId, status, seq) {
    const c = this.ensureChat(chatId);
    const prev = status === 'read' ? c.myRead : c.myDelivered;
    if (!Number.isInteger(seq)) return prev;
    if (status === 'read') {
      c.myRead = Math.max(c.myRead, seq);
      c.myDelivered = Math.max(c.myDelivered, c.myRead);
    } else {
      c.myDelivered = Math.max(c.myDelivered, seq);
    }
    return prev;
  }

  /** Undo an optimistic cursor move whose `receipt` request failed. */
  revertOwnCursor(chatId, status, seq, prev) {
    const c = this.chat(chatId);
    if (!c) return;
    if (status === 'read' && c.myRead === seq) c.myRead = prev;
    if (status === 'delivered' && c.myDelivered === seq) c.myDelivered = prev;
  }

  /**
   * The `receipt` this client owes for a chat: `read` when the chat is on screen,
   * else `delivered`, up to the chat's cursor; null when nothing new is covered.
   */
  receiptToSend(chatId, visible) {
    const c = this.chat(chatId);
    const cur = this.cursor(chatId);
    if (!c || !cur) return null;
    if (visible && cur > c.myRead) return { chat_id: chatId, status: 'read', seq: cur };
    if (cur > c.myDelivered) return { chat_id: chatId, status: 'delivered', seq: cur };
    return null;
  }

  /** A `receipt` event. Direct: user_id is the peer. Group: user_id omitted, seq is the lowest cursor. */
  applyReceipt(ev) {
    if (!ev || typeof ev.chat_id !== 'string' || !Number.isInteger(ev.seq)) return false;
    const c = this.ensureChat(ev.chat_id);
    const status = ev.status === 'read' ? 'read' : 'delivered';
    if (ev.user_id && ev.user_id === this.me) {
      this.setOwnCursor(ev.chat_id, status, ev.seq);
      return true;
    }
    if (ev.user_id && c.kind === 'group') {
      const mc = c.memberCursors.get(ev.user_id) || { delivered: 0, read: 0 };
      if (status === 'read') mc.read = Math.max(mc.read, ev.seq);
      mc.delivered = Math.max(mc.delivered, ev.seq);
      c.memberCursors.set(ev.user_id, mc);
      this._recomputeGroup(c);
      return true;
    }
    this._raisePeer(c, status === 'read' ? ev.seq : 0, ev.seq);
    return true;
  }

  /** GET /api/chats/{id}/receipts: per-member cursors. */
  applyReceipts(chatId, receipts) {
    const c = this.ensureChat(chatId);
    for (const r of receipts || []) {
      const read = Number.isInteger(r.read_seq) ? r.read_seq : 0;
      const delivered = Math.max(Number.isInteger(r.delivered_seq) ? r.delivered_seq : 0, read);
      if (r.user_id === this.me) {
        this.setOwnCursor(chatId, 'delivered', delivered);
        this.setOwnCursor(chatId, 'read', read);
      } else {
        c.memberCursors.set(r.user_id, { delivered, read });
      }
    }
    if (c.kind === 'group') this._recomputeGroup(c);
    else {
      const others = [...c.memberCursors.values()];
      if (others.length === 1) this._raisePeer(c, others[0].read, others[0].delivered);
    }
  }

  _recomputeGroup(c) {
    const others = c.members
      ? c.members.map((m) => m.user_id).filter((u) => u !== this.me)
      : [...c.memberCursors.keys()];
    if (!others.length) return;
    let read = Infinity;
    let delivered = Infinity;
    for (const u of others) {
      const mc = c.memberCursors.get(u) || { delivered: 0, read: 0 };
      read = Math.min(read, mc.read);
      delivered = Math.min(delivered, mc.delivered);
    }
    this._raisePeer(c, read, delivered);
  }

  _raisePeer(c, read, delivered) {
    c.peerRead = Math.max(c.peerRead, read);
    c.peerDelivered = Math.max(c.peerDelivered, delivered, c.peerRead);
  }

  /** Tick state of a message: null for others' messages, else pending|failed|sent|delivered|read. */
  tickState(msg) {
    if (!msg || msg.sender_id !== this.me || msg.kind === 'system') return null;
    if (!isSeq(msg.seq)) return msg.state === 'failed' ? 'failed' : 'pending';
    const c = this.chat(msg.chat_id);
    if (c && msg.seq <= c.peerRead) return 'read';
    if (c && msg.seq <= c.peerDelivered) return 'delivered';
    return 'sent';
  }

  // ---- media -----------------------------------------------------------------

  _mergeMedia(media) {
    if (!media || !media.media_id) return media;
    const known = this.media.get(media.media_id);
    // Keep a finished state over a pending one; otherwise the newer object (fresher URLs) wins.
    if (known && mediaRank(known) > mediaRank(media)) return known;
    const merged = known ? { ...known, ...media } : { ...media };
    this.media.set(media.media_id, merged);
    return merged;
  }

  /** A `media` event or `media_url` reply: update every message carrying that media item. */
  applyMedia(chatId, media) {
    if (!media || !media.media_id) return false;
    const merged = this._mergeMedia(media);
    let changed = false;
    const chats = chatId && this.chats.has(chatId) ? [this.chats.get(chatId)] : this.chats.values();
    for (const c of chats) {
      for (const m of c.messages) {
        if (m.media && m.media.media_id === media.media_id && m.media !== merged) {
          m.media = merged;
          changed = true;
        }
      }
    }
    for (const p of this.pending.values()) {
      if (p.media && p.media.media_id === media.media_id && p.media !== merged) {
        p.media = merged;
        changed = true;
      }
    }
    return changed;
  }

  /** media_ids of loaded messages still waiting for processing. */
  pendingMediaIds() {
    const ids = new Set();
    for (const c of this.chats.values()) {
      for (const m of c.messages) if (m.media && m.media.status === 'pending') ids.add(m.media.media_id);
    }
    return [...ids];
  }

  // ---- typing and presence ---------------------------------------------------

  setTyping(chatId, userId, state, now) {
    if (!userId || userId === this.me) return;
    const c = this.ensureChat(chatId);
    if (state === 'start') c.typing.set(userId, now + TYPING_TTL_MS);
    else c.typing.delete(userId);
  }

  typingUsers(chatId, now) {
    const c = this.chat(chatId);
    if (!c) return [];
    const out = [];
    for (const [user, until] of c.typing) {
      if (until > now) out.push(user);
      else c.typing.delete(user);
    }
    return out.sort();
  }

  applyPresence(users) {
    for (const u of users || []) {
      if (u && u.user_id) this.presence.set(u.user_id, { status: u.status, last_seen: u.last_seen ?? null });
    }
  }

  presenceOf(userId) {
    return this.presence.get(userId) || null;
  }

  directPeers() {
    const out = new Set();
    for (const id of this.chats.keys()) {
      const p = this.peerOf(id);
      if (p) out.add(p);
    }
    return [...out];
  }
}
