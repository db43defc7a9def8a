// Wires the pieces together: session + REST (api.js), WebSocket (socket.js),
// state (store.js) and rendering (ui.js).
import { WS_BASE } from './config.js';
import * as api from './api.js';
import { ParleySocket, isRetryable } from './socket.js';
import { ChatStore, isRelation } from './store.js';
import { UI } from './ui.js';
import { Panels } from './panels.js';
import { loadSession, saveSession, clearSession, withExpiry, refreshDelay, deviceId, randomId } from './session.js';
import { pollExport } from './account.js';
import { muteUntil, notificationFor, notificationState, shouldNotify } from './notify.js';
import {
  PROFILE_TTL_MS, Profiles, batches, canReport, chatAvatar, chatTitle, groupInfoChanges, inviteLink, isAvatarType,
  joinErrorText, joinToken, profileChanges, reportReason, settingsChanges, thumbUrl, withDefaults,
} from './people.js';

const TYPING_RESEND_MS = 3_000; // `typing start` at most this often while typing
const TYPING_IDLE_MS = 4_000; // `typing stop` after this long without input
const SYNC_LIMIT = 100;
const ACTION_ERRORS = { edit: 'Could not edit the message.', delete: 'Could not delete the message.', reaction: 'Could not react.' };

let session = null;
let store = null;
let socket = null;
let rest = null;
let openChatId = null;
let compose = null; // {chatId, mode: 'reply'|'edit', seq}: what the composer's next send does
let uploads = []; // {id, chat_id, filename, progress, state: requesting|uploading|done|error, error, xhr}
let refreshTimer = null;
let refreshing = null;
let lastRefreshAt = 0;
let renderQueued = false;
let disappearing = null; // {chatId, seconds}: an update_chat in flight
let exportRun = 0; // bumped to cancel the export being polled
const muting = new Set(); // chat_ids with a mute call in flight
let muteCheckAt = Infinity; // ms: when the soonest running mute ends (the page then shows it unmuted)
let previews = true; // the user's push_previews setting: off keeps message text out of notifications too
const notes = new Map(); // chat_id -> the browser notification shown for it
const NOTIFY_PROMPT_KEY = 'parley.notifyPrompt'; // 'done' once the one-time prompt was answered or dismissed
const loadingOlder = new Set();
const fillingGaps = new Set();
const inflight = new Set(); // client_msg_ids being sent
const receiptTimers = new Map();
const gapTimers = new Map();
const chatFetches = new Set();
const mediaRetried = new Set();
const typingState = { chatId: null, lastSent: 0, idleTimer: null };
// people and groups
let profiles = new Profiles(); // names and avatars (GET /api/users, `profile` events), per session
let blocked = new Set(); // user ids this user blocked (GET /api/blocks, own block calls)
let blocking = false; // a block or unblock in flight
const avatarJobs = new Map(); // 'profile' or a group's chat_id -> {state, progress, preview, media_id, error}
const invites = new Map(); // chat_id -> {token, expires_at, link}: the invite link this tab made (none is listed)
const mediaAsked = new Map(); // media_id -> {at, inflight}: fresh URLs asked for a group's avatar
let joining = false; // a `join` in flight
const AVATAR_POLL_MS = 4_000; // an avatar upload's state is read again this often while no `media` event comes
const AVATAR_POLLS = 45;
const MEDIA_PENDING_RETRY_MS = 60_000; // a group avatar still processing: its `media` event normally says when

const handlers = {
  login: (u, p) => authenticate(u, p, false),
  signup: (u, p) => authenticate(u, p, true),
  logout: () => logout(''),
  logoutAll,
  deleteAccount,
  exportData,
  cancelExport: () => exportRun++,
  setDisappearing,
  setMute,
  notifyState,
  enableNotifications,
  dismissNotifyPrompt,
  openChat,
  newDirect,
  newGroup,
  sendText,
  typing: onTypingInput,
  files: (files) => files.forEach(uploadFile),
  loadOlder: () => openChatId && loadOlder(openChatId),
  retry: (id) => {
    const p = store && store.retryPending(id);
    if (p) transmit(p);
    render();
  },
  mediaError: refreshMedia,
  cancelUpload,
  react,
  startReply: (chatId, seq) => setCompose(chatId, 'reply', seq),
  startEdit: (chatId, seq) => setCompose(chatId, 'edit', seq),
  cancelCompose: () => {
    const mode = compose && compose.chatId === openChatId ? compose.mode : null;
    if (compose) setCompose(null);
    return mode;
  },
  deleteForEveryone,
  deleteForMe,
  forward,
  jumpTo,
  me: () => store && store.me,
  mentionCandidates: (prefix) => (store && openChatId ? store.mentionCandidates(openChatId, prefix) : []),
  actionsFor: (chatId, seq) => (store ? store.actionsFor(store.message(chatId, seq), Date.now()) : null),
  message: (chatId, seq) => (store ? store.message(chatId, seq) : null),
  forwardTargets: () => (store ? store.chatList().filter((c) => !c.left && c.kind).map((c) => ({
    chat_id: c.chat_id, name: chatTitle(store, profiles, c.chat_id), kind: c.kind })) : []),
  // people and groups
  render: () => render(),
  openProfile,
  saveProfile,
  uploadAvatar,
  removeAvatar,
  openSettings,
  saveSettings,
  canReport: (chatId, seq) => !!store && canReport(store, store.message(chatId, seq)),
  report: openReport,
  sendReport,
  block,
  openGroupInfo,
  updateGroupInfo,
  updateGroupSettings: (chatId, settings) => groupCall('update_chat', { chat_id: chatId, settings }),
  setRole: (chatId, userId, role) => groupCall('set_role', { chat_id: chatId, user_id: userId, role }),
  createInvite,
  revokeInvite,
  avatarError,
};
const ui = new UI(handlers);
const panels = new Panels(handlers);

// ---- rendering ---------------------------------------------------------------

function render() {
  if (renderQueued || !store) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    if (!store) return;
    const now = Date.now();
    store.expireDue(now); // disappearing messages whose time has come: the server pushes nothing
    const mode = compose && compose.chatId === openChatId ? compose : null;
    muteCheckAt = store.nextMuteEnd(now); // a mute shows as ended once its time passes by this device's clock
    const people = peopleView();
    const job = avatarJobs.get('profile');
    const v = { store, openChatId, uploads, loadingOlder: loadingOlder.has(openChatId), now, compose: mode, disappearing, muting,
      people, blocking, avatarJobs, invites, profilePending: !!job && ['uploading', 'processing', 'saving'].includes(job.state) };
    ui.render(v);
    panels.render(v);
    wantPeople(now);
  });
}

/** What the rendering asks of people: names, avatars, blocks; display names where known, else user ids. */
function peopleView() {
  return {
    name: (id) => profiles.name(id),
    userAvatar: (id) => profiles.avatarUrl(id),
    title: (chatId) => chatTitle(store, profiles, chatId),
    chatAvatar: (chatId) => chatAvatar(store, profiles, chatId),
    isBlocked: (id) => blocked.has(id),
  };
}

// expire typing indicators (every second while someone types) and age "last seen" texts
let ticks = 0;
setInterval(() => {
  ticks++;
  const open = store && openChatId && store.chat(openChatId);
  const due = store && (Date.now() >= store.nextExpiry || Date.now() >= muteCheckAt);
  if ((open && (open.typing.size || ticks % 30 === 0)) || due) render();
  if (store && ticks % 60 === 0) {
    render(); // profiles and avatar URLs about to expire are fetched again (wantPeople)
    // presence pushes stop when a user hides it (their `last_seen` setting): ask again for the open chat's peer
    const peer = openChatId && store.peerOf(openChatId);
    if (peer) requestPresence([peer]);
  }
}, 1_000);

const chatVisible = (chatId) => chatId === openChatId && document.visibilityState === 'visible';

// ---- authentication ----------------------------------------------------------

const AUTH_ERRORS = {
  409: 'That username is taken.',
  401: 'Wrong username or password.',
  400: 'Usernames: 3-32 of a-z 0-9 _ . -; passwords: 8+ characters with upper and lower case, a digit and a symbol.',
};

async function authenticate(username, password, isSignup) {
  if (!username || !password) return;
  ui.setAuthBusy(true);
  ui.setAuthError('');
  try {
    if (isSignup) await api.signup(username, password);
    const r = await api.login(username, password);
    const s = withExpiry({ user_id: r.user_id, id_token: r.id_token, refresh_token: r.refresh_token }, r.expires_in);
    saveSession(s);
    startSession(s);
  } catch (e) {
    ui.setAuthError(AUTH_ERRORS[e.status] || e.message || 'Something went wrong.');
  } finally {
    ui.setAuthBusy(false);
  }
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (session) refreshTimer = setTimeout(() => refreshToken().catch(() => {}), refreshDelay(session));
}

/** Refresh the id_token (one refresh at a time). A rejected refresh token ends the session. */
function refreshToken() {
  if (refreshing) return refreshing;
  const current = session;
  refreshing = api
    .refresh(current.refresh_token)
    .then((r) => {
      if (session !== current) return;
      session = withExpiry({ ...current, id_token: r.id_token, refresh_token: r.refresh_token || current.refresh_token }, r.expires_in);
      lastRefreshAt = Date.now();
      saveSession(session);
      scheduleRefresh();
    })
    .catch((e) => {
      if (session !== current) return;
      if (e.status === 400 || e.status === 401 || e.status === 403) logout('Your session has ended. Please log in again.');
      else refreshTimer = setTimeout(() => refreshToken().catch(() => {}), 10_000); // network: try again
      throw e;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** Authenticated REST call; on 401 refresh the token once and retry. */
async function request(method, path, body) {
  try {
    return await api.call(method, path, { body, token: session.id_token });
  } catch (e) {
    if (e.status !== 401) throw e;
    await refreshToken();
    return api.call(method, path, { body, token: session.id_token });
  }
}

/** The WebSocket URL with a fresh token. A handshake refused twice may mean a stale token: refresh. */
async function socketUrl(failedOpens) {
  const soon = session.expires_at - Date.now() < 60_000;
  const suspect = failedOpens >= 2 && Date.now() - lastRefreshAt > 60_000;
  if (soon || suspect) {
    try {
      await refreshToken();
    } catch (e) {
      if (soon && e.status !== 0) throw e;
    }
  }
  const sep = WS_BASE.includes('?') ? '&' : '?';
  return `${WS_BASE}${sep}token=${encodeURIComponent(session.id_token)}&device=${encodeURIComponent(deviceId())}`;
}

function startSession(s) {
  session = s;
  store = new ChatStore(s.user_id); // messages and cursors live in memory only, per user
  rest = api.restClient(request);
  openChatId = null;
  compose = null;
  uploads = [];
  muting.clear();
  previews = true;
  for (const set of [loadingOlder, fillingGaps, inflight, chatFetches, mediaRetried]) set.clear();
  resetPeople();
  loadInvites();
  ui.showMain(s.user_id);
  ui.setNotifyState(notifyState());
  scheduleRefresh();

  socket = new ParleySocket({ url: socketUrl });
  socket.setBackground(document.visibilityState === 'hidden');
  socket.on('frame', onFrame);
  socket.on('open', onConnected);
  socket.on('state', ({ state }) => ui.setConnection(state === 'open' ? 'syncing' : state));
  const mySocket = socket;
  // chat metadata (members, this user's mutes) comes from REST; messages come from sync
  const stamp = store.restStamp();
  rest
    .chats()
    .then((r) => {
      if (store && socket === mySocket) (r.chats || []).forEach((c) => store.upsertChat(c, stamp));
      render();
    })
    .catch((e) => console.warn('GET /chats failed', e))
    .finally(() => mySocket.start());
  const st = store;
  const pr = profiles;
  const stampMe = pr.stamp();
  rest
    .me()
    .then((r) => {
      if (store !== st || !r) return;
      if (r.settings) previews = r.settings.push_previews !== false;
      if (r.profile) pr.apply([r.profile], Date.now(), stampMe);
      render();
    })
    .catch((e) => console.warn('GET /me failed', e));
  loadBlocks();
  render();
}

/** End the session on this tab; `message` shows as an error on the login form, `notice` as news. */
function logout(message, notice = '') {
  if (socket) socket.stop();
  socket = null;
  for (const u of uploads) if (u.xhr) u.xhr.abort();
  clearTimeout(refreshTimer);
  clearTimeout(typingState.idleTimer);
  typingState.chatId = null;
  session = null;
  store = null;
  openChatId = null;
  compose = null;
  uploads = [];
  disappearing = null;
  muting.clear();
  closeNotifications();
  exportRun++;
  resetPeople();
  panels.closeAll();
  panels.setJoin(null);
  clearSession();
  ui.showAuth(message, notice || joinNotice());
}

// ---- account: log out everywhere, delete, export ---------------------------------

/** Every session of the user ends (their sockets close, refresh tokens stop working), this one too. */
async function logoutAll() {
  if (!session) return;
  const current = session;
  try {
    await rest.logoutAll();
  } catch (e) {
    if (session === current) ui.setAccountError(`Could not log out everywhere: ${e.message || 'try again.'}`);
    return;
  }
  // the server closed this tab's socket too; a refresh refused meanwhile may have ended the session already
  if (session === current || !session) logout('', 'You have been logged out on every device, this one included.');
}

/** DELETE /api/me with the password: a wrong one (403) keeps the user signed in. */
async function deleteAccount(password) {
  if (!session) return;
  const current = session;
  ui.setDeleteBusy(true);
  ui.setDeleteError('');
  try {
    await rest.deleteAccount(password);
  } catch (e) {
    if (session !== current) return;
    ui.setDeleteBusy(false);
    ui.setDeleteError(e.status === 403 ? 'Wrong password.' : e.message || 'Could not delete the account.');
    return;
  }
  if (session === current || !session) logout('', 'Your account has been deleted.');
}

/** Ask for an export, poll until its file is written, then offer its (presigned, short-lived) link. */
async function exportData() {
  if (!session) return;
  const run = ++exportRun;
  const st = store;
  const live = () => run === exportRun && store === st;
  ui.showExport({ state: 'preparing' });
  try {
    const { export_id: id } = (await rest.requestExport()) || {};
    if (!live()) return;
    if (!id) throw new Error('The server gave no export id.');
    const url = await pollExport(() => rest.exportStatus(id), {
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      cancelled: () => !live(),
      onPoll: (polls) => ui.showExport({ state: 'preparing', polls }),
    });
    if (live()) ui.showExport({ state: 'ready', url });
  } catch (e) {
    if (!live() || e.code === 'cancelled') return;
    ui.showExport({ state: 'error', message: e.message || 'The export failed.' });
  }
}

/** A chat's disappearing messages: `update_chat`; the reply (and the `chat` pushed to every member) shows it. */
async function setDisappearing(chatId, seconds) {
  if (!store || !store.chat(chatId)) return;
  if (!socket || !socket.isOpen) {
    ui.showActionError('Offline: try again once connected.');
    return render();
  }
  const st = store;
  disappearing = { chatId, seconds };
  render();
  try {
    const r = await socket.request('update_chat', { chat_id: chatId, disappear_after: seconds });
    if (store === st) onChat(r.chat);
  } catch (e) {
    if (store === st) {
      ui.showActionError(e.code === 'forbidden' ? 'Only admins may change this in this group.'
        : `Could not change disappearing messages${e.message ? ` (${e.message})` : ''}.`);
    }
  } finally {
    if (store === st) disappearing = null;
    render();
  }
}

// ---- mutes and browser notifications ----------------------------------------------

/** Mute a chat for one of the choices (`8h`, `1w`, `forever`), or unmute it (null): `mute {chat_id, until}`. */
async function setMute(chatId, choice) {
  if (!store || !store.chat(chatId) || muting.has(chatId)) return;
  if (!socket || !socket.isOpen) {
    ui.showActionError('Offline: try again once connected.');
    return render();
  }
  const until = choice ? muteUntil(choice, Date.now()) : null;
  if (choice && !until) return;
  const st = store;
  muting.add(chatId);
  render();
  try {
    await socket.request('mute', { chat_id: chatId, until });
    if (store === st) store.setMute(chatId, until);
  } catch (e) {
    if (store === st) ui.showActionError(`Could not ${until ? 'mute' : 'unmute'} the chat${e.message ? ` (${e.message})` : ''}.`);
  } finally {
    if (store === st) muting.delete(chatId);
    render();
  }
}

const notificationApi = () => (typeof window.Notification === 'function' ? window.Notification : undefined);

/** The state of the "Enable notifications" controls; the one-time prompt shows until answered or dismissed. */
function notifyState() {
  let prompt = true;
  try {
    prompt = localStorage.getItem(NOTIFY_PROMPT_KEY) !== 'done';
  } catch {
    /* storage unavailable: show it */
  }
  return { state: notificationState(notificationApi()), prompt: prompt && !!session };
}

function dismissNotifyPrompt() {
  try {
    localStorage.setItem(NOTIFY_PROMPT_KEY, 'done');
  } catch {
    /* storage unavailable */
  }
  ui.setNotifyState(notifyState());
}

/** Ask for permission: only ever called from a click (browsers want a user gesture, and so do users). */
function enableNotifications() {
  const api = notificationApi();
  dismissNotifyPrompt();
  if (!api || notificationState(api) !== 'default') return;
  const done = () => ui.setNotifyState(notifyState());
  let asked;
  try {
    asked = api.requestPermission(done); // older Safari answers through the callback only
  } catch (e) {
    console.warn('requestPermission failed', e);
    return done();
  }
  if (asked && typeof asked.then === 'function') asked.then(done, done);
}

/** A live message from someone else while the page is hidden: a notification, one per chat (its tag). */
function notifyOf(messages) {
  const api = notificationApi();
  const permission = notificationState(api);
  if (permission !== 'granted') return;
  const hidden = document.visibilityState === 'hidden';
  const now = Date.now();
  for (const m of messages) {
    if (!shouldNotify(m, { me: store.me, hidden, permission, muted: store.isMuted(m.chat_id, now) })) continue;
    const { title, body, tag } = notificationFor(m, { previews, name: profiles.name(m.sender_id) });
    let n;
    try {
      n = new api(title, { body, tag, renotify: true });
    } catch (e) {
      console.warn('notification failed', e); // e.g. a browser that shows them only from a service worker
      continue;
    }
    const chatId = m.chat_id;
    notes.set(chatId, n);
    n.onclick = () => {
      window.focus();
      n.close();
      if (store && store.chat(chatId)) openChat(chatId);
    };
    n.onclose = () => {
      if (notes.get(chatId) === n) notes.delete(chatId);
    };
  }
}

/** The notification of a chat now on screen (or all of them, at logout) goes away. */
function closeNotifications(chatId = null) {
  for (const [id, n] of [...notes]) {
    if (chatId !== null && id !== chatId) continue;
    notes.delete(id);
    try {
      n.close();
    } catch {
      /* already gone */
    }
  }
}

// ---- connection and catch-up -------------------------------------------------

/**
 * One sync pass: every page, from the token of the last completed pass. The store keeps the new token only
 * after the last page; a pass the socket cut short starts again from the old one on the next connection.
 */
async function syncPass(s) {
  const since = store.syncToken;
  let page = null;
  do {
    const params = page ? { since, page, limit: SYNC_LIMIT } : { since, limit: SYNC_LIMIT };
    page = store.applySyncedPage(await s.request('sync', params, { timeoutMs: 60_000 }));
  } while (page);
}

async function onConnected() {
  const s = socket;
  try {
    await syncPass(s);
  } catch (e) {
    console.warn('sync failed', e);
    if (socket !== s || e.code === 'disconnected') return; // the next connection syncs again
    // a transient failure: catch up on a new connection; otherwise carry on without the catch-up
    if (isRetryable(e)) return s.drop();
  }
  if (socket !== s) return;
  ui.setConnection('open');
  render();

  for (const p of store.pending.values()) if (p.state === 'sending') transmit(p);
  const missing = [...store.chats.values()].filter((c) => !c.members);
  if (missing.length) fetchChats();
  for (const id of store.chats.keys()) {
    if (store.gaps(id).length) fillGaps(id);
    flushReceipts(id);
  }
  requestPresence(store.directPeers());
  for (const id of store.pendingMediaIds().slice(0, 50)) refreshMedia(id, true);
  if (openChatId) loadReceipts(openChatId);
  loadBlocks(); // another device may have blocked or unblocked someone meanwhile
  maybeJoin();
}

function onFrame(f) {
  if (!store) return;
  switch (f.type) {
    case 'message':
      notifyOf(onMessages(null, [f.message], true));
      break;
    case 'messages': // a sync's: one chat's (f.chat_id), or several, each message naming its own
      onMessages(f.chat_id, f.messages, false);
      break;
    case 'history':
      store.applyHistory(f);
      break;
    case 'chat':
      onChat(f.chat);
      break;
    case 'receipt':
      store.applyReceipt(f);
      break;
    case 'typing':
      store.setTyping(f.chat_id, f.user_id, f.state, Date.now());
      break;
    case 'presence':
      store.applyPresence(f.users);
      break;
    case 'media': // a media event (a profile picture's says chat_id "profile"), or a media_url reply
      if (f.chat_id !== 'profile') store.applyMedia(f.chat_id, f.media);
      onAvatarMedia(f.media);
      break;
    case 'profile': // someone who shares a chat changed their profile
      if (f.user) profiles.apply([f.user], Date.now());
      break;
    case 'error':
      if (f.req == null) console.warn('server error', f.code, f.message);
      break;
    default:
      return; // replies handled by their request: sent, synced, ok, pong, upload
  }
  render();
}

function onMessages(chatId, messages, live) {
  const added = store.addMessages(chatId, messages);
  for (const id of new Set(added.map((m) => m.chat_id))) {
    if (!store.chat(id).members) fetchChat(id);
    scheduleReceipts(id);
    if (live) scheduleGapCheck(id); // after a sync, gaps are checked once it ends
  }
  return added;
}

/** A chat object; `restStamp` when it comes from GET /api/chats or GET /api/chats/{id} (it then says the mute). */
function onChat(chat, restStamp = 0) {
  if (!chat) return;
  const known = store.chat(chat.chat_id);
  const c = store.upsertChat(chat, restStamp);
  if (!known && c && c.kind === 'direct') requestPresence([store.peerOf(c.chat_id)].filter(Boolean));
}

function fetchChat(chatId) {
  if (chatFetches.has(chatId)) return;
  chatFetches.add(chatId);
  const st = store;
  const stamp = store.restStamp();
  rest
    .chat(chatId)
    .then((r) => {
      if (store !== st) return;
      onChat(r.chat, stamp);
      render();
    })
    .catch((e) => console.warn('GET /chats/{id} failed', e))
    .finally(() => chatFetches.delete(chatId));
}

function fetchChats() {
  const st = store;
  const stamp = store.restStamp();
  rest
    .chats()
    .then((r) => {
      if (store !== st) return;
      (r.chats || []).forEach((c) => onChat(c, stamp));
      render();
    })
    .catch((e) => console.warn('GET /chats failed', e));
}

// Concurrent senders' pushes can arrive out of order: wait a moment before calling a hole a gap.
function scheduleGapCheck(chatId) {
  if (gapTimers.has(chatId)) return;
  gapTimers.set(
    chatId,
    setTimeout(() => {
      gapTimers.delete(chatId);
      if (store && store.gaps(chatId).length) fillGaps(chatId);
    }, 500),
  );
}

async function fillGaps(chatId) {
  if (fillingGaps.has(chatId)) return;
  fillingGaps.add(chatId);
  const s = socket;
  try {
    for (let i = 0; i < 50 && socket === s; i++) {
      const req = store.gapRequest(chatId);
      if (!req) break;
      const r = await s.request('history', req);
      // seqs the server skipped are deleted for this user (on some device): no longer a gap
      const settled = store.settleGap(req, r);
      if ((!r.messages || !r.messages.length) && !settled) break; // nothing more to get
    }
  } catch (e) {
    console.warn('gap fill failed', e);
  } finally {
    fillingGaps.delete(chatId);
    if (store) {
      flushReceipts(chatId);
      render();
    }
  }
}

async function loadOlder(chatId) {
  if (loadingOlder.has(chatId) || !store.hasOlder(chatId) || !socket || !socket.isOpen) return;
  loadingOlder.add(chatId);
  render();
  try {
    const before = store.oldestSeq(chatId);
    await socket.request('history', before ? { chat_id: chatId, before, limit: 50 } : { chat_id: chatId, limit: 50 });
  } catch (e) {
    console.warn('history failed', e);
  } finally {
    loadingOlder.delete(chatId);
    if (store) flushReceipts(chatId);
    render();
  }
}

// ---- receipts ----------------------------------------------------------------

function scheduleReceipts(chatId) {
  if (receiptTimers.has(chatId)) return;
  receiptTimers.set(
    chatId,
    setTimeout(() => {
      receiptTimers.delete(chatId);
      flushReceipts(chatId);
    }, 200),
  );
}

function flushReceipts(chatId) {
  if (!store || !socket || !socket.isOpen) return;
  const r = store.receiptToSend(chatId, chatVisible(chatId));
  if (!r) return;
  const prev = store.setOwnCursor(chatId, r.status, r.seq);
  const st = store;
  socket.request('receipt', r).catch((e) => {
    if (store === st) store.revertOwnCursor(chatId, r.status, r.seq, prev);
    if (e.code !== 'disconnected' && e.code !== 'offline') console.warn('receipt failed', e);
  });
  render();
}

function loadReceipts(chatId) {
  const st = store;
  rest
    .receipts(chatId)
    .then((r) => {
      if (store !== st) return;
      store.applyReceipts(chatId, r.receipts);
      render();
    })
    .catch((e) => console.warn('GET receipts failed', e));
}

document.addEventListener('visibilitychange', () => {
  if (socket) socket.setBackground(document.visibilityState === 'hidden');
  if (openChatId && document.visibilityState === 'visible') {
    flushReceipts(openChatId);
    closeNotifications(openChatId);
  }
});
window.addEventListener('focus', () => openChatId && flushReceipts(openChatId));

// ---- network ---------------------------------------------------------------

window.addEventListener('online', () => socket && socket.reconnectNow());
window.addEventListener('offline', () => socket && socket.drop());

// ---- chats -------------------------------------------------------------------

function openChat(chatId) {
  if (!store || !store.chat(chatId)) return;
  if (openChatId !== chatId) {
    stopTyping();
    compose = null;
  }
  openChatId = chatId;
  if (document.visibilityState === 'visible') closeNotifications(chatId);
  render();
  if (store.messages(chatId).length < 30 && store.hasOlder(chatId)) loadOlder(chatId);
  if (store.gaps(chatId).length) fillGaps(chatId);
  loadReceipts(chatId);
  const peer = store.peerOf(chatId);
  if (peer) requestPresence([peer]);
  flushReceipts(chatId);
}

function requestPresence(userIds) {
  if (!socket || !socket.isOpen) return;
  for (let i = 0; i < userIds.length; i += 100) {
    socket.request('presence', { user_ids: userIds.slice(i, i + 100) }).catch((e) => console.warn('presence failed', e));
  }
}

const CREATE_ERRORS = {
  404: 'No such user.',
  403: 'Not allowed.',
  409: 'The group is full.',
};

async function createChat(body, done) {
  ui.setNewChatError('');
  try {
    const r = await rest.createChat(body);
    onChat(r.chat);
    done();
    openChat(r.chat.chat_id);
  } catch (e) {
    ui.setNewChatError(CREATE_ERRORS[e.status] || e.message || 'Could not create the chat.');
  }
}

function newDirect(userId, done) {
  if (!userId) return;
  if (userId === store.me) return ui.setNewChatError('Pick someone other than yourself.');
  createChat({ kind: 'direct', user_id: userId }, done);
}

function newGroup(name, membersText, done) {
  // the creator is added by the server (and becomes admin), so leave them out
  const members = [...new Set(membersText.split(/[\s,]+/).map((m) => m.trim().toLowerCase()).filter(Boolean))].filter(
    (m) => m !== store.me,
  );
  if (!name) return ui.setNewChatError('Give the group a name.');
  createChat({ kind: 'group', name, members }, done);
}

// ---- sending -----------------------------------------------------------------

function sendText(text) {
  if (!openChatId || !text.trim()) return;
  stopTyping();
  const mode = compose && compose.chatId === openChatId ? compose : null;
  compose = null;
  if (mode && mode.mode === 'edit') {
    const target = store.message(openChatId, mode.seq);
    if (target && target.text !== text) sendAction(openChatId, { kind: 'edit', relates_to: mode.seq, text });
    render();
    return;
  }
  const extra = {};
  const target = mode && mode.mode === 'reply' ? store.message(openChatId, mode.seq) : null;
  if (target) {
    extra.reply_to = target.seq;
    extra.quote = store.quoteFor(target);
  }
  const mentions = store.mentionsIn(openChatId, text);
  if (mentions.length) extra.mentions = mentions;
  const p = store.addPending({ chat_id: openChatId, client_msg_id: randomId(), kind: 'text', text, ...extra });
  render();
  transmit(p);
}

// ---- message actions -----------------------------------------------------------

/** Reply to or edit a message with the composer; null mode clears it. */
function setCompose(chatId, mode, seq) {
  const m = chatId && store ? store.message(chatId, seq) : null;
  if (!m || !mode) compose = null;
  else if (mode === 'edit' && !store.actionsFor(m, Date.now()).edit) return ui.showActionError('This message can no longer be edited.');
  else compose = { chatId, mode, seq };
  render();
  if (compose) ui.focusComposer(mode === 'edit' ? m.text || '' : null);
}

/** Edits, deletes and reactions: messages of their own, never shown; they fold in once `sent` comes back. */
function sendAction(chatId, fields) {
  const p = store.addPending({ chat_id: chatId, client_msg_id: randomId(), ...fields });
  transmit(p);
  return p;
}

function react(chatId, seq, emoji) {
  const m = store && store.message(chatId, seq);
  if (!m || !store.actionsFor(m, Date.now()).react) return;
  const mine = Object.entries(m.reactions || {}).find(([, users]) => users.includes(store.me));
  // clicking one's own reaction takes it back; another emoji replaces it
  sendAction(chatId, { kind: 'reaction', relates_to: seq, emoji: mine && mine[0] === emoji ? '' : emoji });
}

function deleteForEveryone(chatId, seq) {
  const m = store && store.message(chatId, seq);
  if (!m || !store.actionsFor(m, Date.now()).deleteForEveryone) return ui.showActionError('This message can no longer be deleted for everyone.');
  if (compose && compose.chatId === chatId && compose.seq === seq) compose = null;
  sendAction(chatId, { kind: 'delete', relates_to: seq });
}

async function deleteForMe(chatId, seq) {
  if (!store || !socket || !socket.isOpen) return ui.showActionError('Offline: try again once connected.');
  const st = store;
  try {
    await socket.request('hide', { chat_id: chatId, seqs: [seq] });
    if (store !== st) return;
    store.hide(chatId, [seq]);
    if (compose && compose.chatId === chatId && compose.seq === seq) compose = null;
  } catch (e) {
    ui.showActionError(e.message || 'Could not delete the message.');
  }
  render();
}

/** Forward a message: the server copies its kind, text and media (the same stored media, no upload). */
function forward(fromChatId, seq, toChatId) {
  const m = store && store.message(fromChatId, seq);
  if (!m || !store.chat(toChatId)) return;
  const p = store.addPending({
    chat_id: toChatId,
    client_msg_id: randomId(),
    kind: m.kind,
    text: m.text,
    forward_of: { chat_id: fromChatId, seq },
    forwarded: true,
  });
  if (m.media) p.media = m.media;
  transmit(p);
  openChat(toChatId);
}

/** Show a quoted message: scroll to it, loading older messages until it is loaded (or the start is reached). */
async function jumpTo(chatId, seq) {
  for (let i = 0; i < 20 && store && openChatId === chatId; i++) {
    const m = store.message(chatId, seq);
    if (m && !m.hidden) {
      render();
      return requestAnimationFrame(() => requestAnimationFrame(() => ui.scrollToMessage(seq)));
    }
    if (m || !store.hasOlder(chatId)) break;
    if (loadingOlder.has(chatId)) await new Promise((r) => setTimeout(r, 200));
    else await loadOlder(chatId);
  }
  if (store && openChatId === chatId) ui.showActionError('The original message is not available.');
}

/** Send (or re-send: client_msg_id makes it idempotent) an outgoing message. */
async function transmit(p) {
  const id = p.client_msg_id;
  if (inflight.has(id) || !socket || !socket.isOpen) return; // re-sent after the next sync
  inflight.add(id);
  const s = socket;
  const st = store;
  const frame = { chat_id: p.chat_id, client_msg_id: id };
  if (p.forward_of) frame.forward_of = p.forward_of; // its kind, text and media are the source's
  else {
    frame.kind = p.kind;
    if (p.text !== undefined) frame.text = p.text;
    if (p.media_id) frame.media_id = p.media_id;
    for (const k of ['relates_to', 'emoji', 'reply_to', 'mentions']) if (p[k] !== undefined) frame[k] = p[k];
  }
  let retryLater = false;
  try {
    const r = await s.request('send', frame);
    if (store !== st) return;
    store.confirmSent(r);
    if (chatVisible(p.chat_id)) flushReceipts(p.chat_id);
  } catch (e) {
    if (store !== st) return;
    if (e.code === 'timeout' || e.code === 'rate_limited' || e.code === 'internal') retryLater = true;
    else if (!isRetryable(e) && isRelation(p)) {
      store.dropPending(id); // nothing to retry on screen: say why
      ui.showActionError(ACTION_ERRORS[p.kind] + (e.message ? ` (${e.message})` : ''));
    } else if (!isRetryable(e)) store.failPending(id, e.message); // offline / disconnected: re-sent after the next sync
  } finally {
    inflight.delete(id);
    if (retryLater) {
      setTimeout(() => {
        if (store === st && store.pending.get(id)?.state === 'sending') transmit(p);
      }, 2_000);
    }
    render();
  }
}

// ---- typing ------------------------------------------------------------------

function onTypingInput(value) {
  if (!openChatId || !socket) return;
  if (!value.trim()) return stopTyping();
  const now = Date.now();
  if (typingState.chatId !== openChatId || now - typingState.lastSent > TYPING_RESEND_MS) {
    if (typingState.chatId && typingState.chatId !== openChatId) stopTyping();
    if (socket.send('typing', { chat_id: openChatId, state: 'start' })) {
      typingState.chatId = openChatId;
      typingState.lastSent = now;
    }
  }
  clearTimeout(typingState.idleTimer);
  typingState.idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingState.idleTimer);
  if (!typingState.chatId) return;
  if (socket) socket.send('typing', { chat_id: typingState.chatId, state: 'stop' });
  typingState.chatId = null;
  typingState.lastSent = 0;
}

// ---- media -------------------------------------------------------------------

const kindOf = (type) => (type.startsWith('image/') ? 'image' : type.startsWith('video/') ? 'video' : 'file');

async function uploadFile(file) {
  const chatId = openChatId;
  if (!chatId || !store) return;
  const st = store;
  const contentType = file.type || 'application/octet-stream';
  const up = { id: randomId(), chat_id: chatId, filename: file.name, progress: 0, state: 'requesting', error: '' };
  uploads.push(up);
  render();
  try {
    const r = await rest.newUpload({ chat_id: chatId, filename: file.name, content_type: contentType, size: file.size });
    if (r.max_size && file.size > r.max_size) throw new Error(`Too large (max ${Math.floor(r.max_size / 1048576)} MB)`);
    if (up.state === 'cancelled') return;
    up.state = 'uploading';
    await api.uploadToPresignedPost(r.url, r.fields, file, (f) => {
      up.progress = f;
      render();
    }, (xhr) => (up.xhr = xhr));
    up.xhr = null;
    if (store !== st || up.state === 'cancelled') return;
    up.state = 'done';
    const p = store.addPending({
      chat_id: chatId,
      client_msg_id: randomId(),
      kind: kindOf(contentType),
      media_id: r.media_id,
      media: { media_id: r.media_id, status: 'pending', filename: file.name, content_type: contentType, size: file.size },
    });
    transmit(p);
    setTimeout(() => dismissUpload(up.id), 1_500);
  } catch (e) {
    if (up.state === 'cancelled') return;
    up.state = 'error';
    up.error = e.status === 413 ? 'Too large' : e.message || 'Upload failed';
  }
  render();
}

function dismissUpload(id) {
  uploads = uploads.filter((u) => u.id !== id);
  render();
}

function cancelUpload(id) {
  const up = uploads.find((u) => u.id === id);
  if (!up) return;
  if (up.state === 'requesting' || up.state === 'uploading') {
    up.state = 'cancelled';
    if (up.xhr) up.xhr.abort();
  }
  dismissUpload(id);
}

/** Fresh (short-lived, signed) URLs for a media item, e.g. after an <img> failed to load. */
function refreshMedia(mediaId, force = false) {
  if (!socket || !socket.isOpen || (!force && mediaRetried.has(mediaId))) return;
  mediaRetried.add(mediaId);
  socket.request('media_url', { media_id: mediaId }).catch((e) => console.warn('media_url failed', e));
}

// ---- people: profiles, avatars, settings, blocks, reports ----------------------------------

function resetPeople() {
  profiles = new Profiles();
  blocked = new Set();
  blocking = false;
  for (const job of avatarJobs.values()) if (job.preview) URL.revokeObjectURL(job.preview);
  avatarJobs.clear();
  invites.clear();
  mediaAsked.clear();
  joining = false;
}

/**
 * Fetch what the page shows and does not know, or knows from too long ago (avatar URLs expire in 15 minutes): the
 * profiles of this user, of every direct chat's peer, of the open chat's members and senders and of the group whose
 * info is open (GET /api/users, 100 ids a call); and fresh URLs of group avatars (`media_url`).
 */
function wantPeople(now) {
  if (!store || !rest) return;
  const ids = new Set([store.me]);
  for (const id of store.chats.keys()) {
    const peer = store.peerOf(id);
    if (peer) ids.add(peer);
  }
  for (const chatId of new Set([openChatId, panels.groupChat])) {
    const c = chatId && store.chat(chatId);
    if (c && c.members && c.members.length <= 500) for (const m of c.members) ids.add(m.user_id);
  }
  if (openChatId) for (const m of store.timeline(openChatId)) if (m.sender_id) ids.add(m.sender_id);
  const due = profiles.due([...ids], now);
  if (due.length) fetchProfiles(due);
  let asked = 0;
  for (const c of store.chats.values()) {
    if (c.avatar_media_id && !c.left && asked < 20 && wantMedia(c.avatar_media_id, now)) asked++;
  }
}

function fetchProfiles(ids) {
  const pr = profiles;
  pr.begin(ids);
  for (const batch of batches(ids)) {
    const stamp = pr.stamp(); // a `profile` event that arrives meanwhile is newer than this reply
    rest
      .users(batch)
      .then((r) => {
        if (profiles !== pr) return;
        pr.settle(batch, (r && r.users) || [], Date.now(), stamp);
        render();
      })
      .catch((e) => {
        if (profiles !== pr) return;
        pr.fail(batch, Date.now());
        console.warn('GET /users failed', e);
      });
  }
}

/** Ask for a group avatar's URLs when unknown or about to expire; true when asked. */
function wantMedia(mediaId, now) {
  if (!socket || !socket.isOpen) return false;
  const asked = mediaAsked.get(mediaId);
  const m = store.mediaOf(mediaId);
  if (asked && asked.inflight) return false;
  if (m && m.status === 'rejected') return false;
  if (asked) {
    const wait = m && m.status === 'ready' ? PROFILE_TTL_MS : MEDIA_PENDING_RETRY_MS;
    if (now - asked.at < wait) return false;
  } else if (m && m.status === 'ready') {
    mediaAsked.set(mediaId, { at: now, inflight: false }); // fresh from a message or a media event just now
    return false;
  }
  const entry = { at: now, inflight: true };
  mediaAsked.set(mediaId, entry);
  const st = store;
  socket
    .request('media_url', { media_id: mediaId }) // the reply goes through onFrame (`media`) into the store
    .catch((e) => console.warn('media_url failed', e))
    .finally(() => {
      entry.inflight = false;
      if (store === st) render();
    });
  return true;
}

/** An avatar picture failed to load (an expired URL): fetch a fresh one. */
function avatarError(kind, id) {
  if (!store) return;
  const now = Date.now();
  if (kind === 'user') {
    if (profiles.markStale(id, now)) render();
  } else if (kind === 'media') {
    const asked = mediaAsked.get(id);
    if (asked && !asked.inflight && now - asked.at > 10_000) {
      asked.at = 0;
      render();
    }
  }
}

function loadBlocks() {
  const st = store;
  rest
    .blocks()
    .then((r) => {
      if (store !== st || blocking) return;
      blocked = new Set((r && r.user_ids) || []);
      render();
    })
    .catch((e) => console.warn('GET /blocks failed', e));
}

/** Block (on) or unblock the peer of a direct chat. */
async function block(chatId, on) {
  const peer = store && store.peerOf(chatId);
  if (!peer || blocking) return;
  const st = store;
  blocking = true;
  render();
  try {
    if (on) await rest.block(peer);
    else await rest.unblock(peer);
    if (store !== st) return;
    if (on) blocked.add(peer);
    else blocked.delete(peer);
  } catch (e) {
    if (store === st) ui.showActionError(`Could not ${on ? 'block' : 'unblock'} ${profiles.name(peer)}${e.message ? ` (${e.message})` : ''}.`);
  } finally {
    if (store === st) blocking = false;
    render();
  }
}

async function openReport(chatId, seq) {
  const m = store && store.message(chatId, seq);
  if (!m || !canReport(store, m)) return;
  const label = { image: 'Photo', video: 'Video', file: 'File' }[m.kind] || '';
  panels.openReport({ chatId, seq, sender: profiles.name(m.sender_id), text: m.text || label });
}

/** POST /api/reports; answers the report_id, or throws what to show. */
async function sendReport(chatId, seq, category, details) {
  const { reason, error } = reportReason(category, details);
  if (error) throw new Error(error);
  try {
    return await rest.report({ chat_id: chatId, seq, reason });
  } catch (e) {
    if (e.status === 429) throw new Error('You have sent many reports lately: try again in a few minutes.');
    if (e.status === 404 || e.status === 403) throw new Error('This message cannot be reported any more.');
    throw new Error(`Could not send the report${e.message ? ` (${e.message})` : ''}.`);
  }
}

// ---- profile and settings ---------------------------------------------------------------------

/** The profile editor: filled from what is known at once, then from GET /api/me (fresh avatar URLs). */
async function openProfile() {
  if (!store) return;
  const st = store;
  panels.openProfile(store.me);
  const known = profiles.get(store.me) || {};
  panels.fillProfile(known);
  render();
  const stamp = profiles.stamp();
  try {
    const r = await rest.me();
    if (store !== st || !r || !r.profile) return;
    profiles.apply([r.profile], Date.now(), stamp);
    panels.refillProfile(known, r.profile); // unless the user has typed meanwhile
  } catch (e) {
    if (store === st) panels.setProfileError(`Could not load your profile${e.message ? ` (${e.message})` : ''}.`);
  }
  render();
}

/** PUT /api/me/profile with the changed fields; answers the profile. */
async function saveProfile(form) {
  const { changes, error } = profileChanges(panels.profile, form);
  if (error) throw new Error(error);
  if (!changes) return panels.profile;
  const st = store;
  try {
    const r = await rest.updateProfile(changes);
    if (store === st && r && r.profile) profiles.apply([r.profile], Date.now());
    return r && r.profile;
  } catch (e) {
    throw new Error(`Could not save your profile${e.message ? ` (${e.message})` : ''}.`);
  }
}

/**
 * A new picture for one's profile (`target` "profile") or a group (its chat_id): upload it through an upload slot
 * (chat_id "profile", or the group's), wait until the server has processed it (its `media` event; read again
 * every few seconds in case the event is missed), then set it: PUT /api/me/profile {avatar_media_id}, or
 * update_chat {avatar_media_id}. Meanwhile the picture shows from the file, marked as processing. Setting it only
 * once it is ready means others get a usable picture with the change, and a rejected file never becomes one.
 */
async function uploadAvatar(target, file) {
  if (!store || !file) return;
  const st = store;
  const old = avatarJobs.get(target);
  if (old && ['uploading', 'processing', 'saving'].includes(old.state)) return;
  if (old && old.preview) URL.revokeObjectURL(old.preview);
  const job = { target, state: 'uploading', progress: 0, preview: null, media_id: null, error: '', polls: 0 };
  avatarJobs.set(target, job);
  const live = () => store === st && avatarJobs.get(target) === job;
  if (!isAvatarType(file.type)) {
    job.state = 'error';
    job.error = 'Choose a JPEG, PNG, GIF or WebP image.';
    return render();
  }
  job.preview = URL.createObjectURL(file);
  render();
  try {
    const r = await rest.newUpload({ chat_id: target, filename: file.name, content_type: file.type, size: file.size });
    if (!live()) return;
    if (r.max_size && file.size > r.max_size) throw new Error(`The picture is too large (at most ${Math.floor(r.max_size / 1048576)} MB).`);
    job.media_id = r.media_id;
    await api.uploadToPresignedPost(r.url, r.fields, file, (f) => {
      job.progress = f;
      render();
    });
    if (!live()) return;
    job.state = 'processing';
    render();
    if (job.settled) return avatarSettled(job, job.settled); // its `media` event came during the upload
    pollAvatar(job, live);
  } catch (e) {
    if (!live()) return;
    job.state = 'error';
    job.error = e.status === 413 ? 'The picture is too large.' : e.message || 'The upload failed.';
    render();
  }
}

/** A `media` event or `media_url` reply: an avatar upload done processing. */
function onAvatarMedia(media) {
  if (!media || !media.media_id) return;
  for (const job of avatarJobs.values()) {
    if (job.media_id !== media.media_id || (media.status !== 'ready' && media.status !== 'rejected')) continue;
    if (job.state === 'uploading') job.settled = media; // taken up once the upload call returns
    else if (job.state === 'processing') avatarSettled(job, media);
  }
}

function pollAvatar(job, live) {
  setTimeout(async () => {
    if (!live() || job.state !== 'processing') return;
    if (++job.polls > AVATAR_POLLS) {
      job.state = 'error';
      job.error = 'Processing the picture takes too long. Try again later.';
      return render();
    }
    try {
      const r = await rest.media(job.media_id);
      if (live() && job.state === 'processing' && r && r.media && r.media.status !== 'pending') return avatarSettled(job, r.media);
    } catch (e) {
      console.warn('GET /media failed', e);
    }
    pollAvatar(job, live);
  }, AVATAR_POLL_MS);
}

async function avatarSettled(job, media) {
  const st = store;
  if (media.status === 'rejected') {
    job.state = 'error';
    job.error = 'The picture was rejected: the file is not an image the server could read.';
    return render();
  }
  job.state = 'saving';
  render();
  try {
    if (job.target === 'profile') {
      const r = await rest.updateProfile({ avatar_media_id: job.media_id });
      if (store === st && r && r.profile) profiles.apply([r.profile], Date.now());
    } else {
      if (thumbUrl(media)) store.applyMedia(job.target, media); // the group shows it at once
      await groupCall('update_chat', { chat_id: job.target, avatar_media_id: job.media_id });
    }
    if (store !== st) return;
    job.state = 'done';
    setTimeout(() => {
      if (avatarJobs.get(job.target) !== job) return;
      avatarJobs.delete(job.target);
      if (job.preview) URL.revokeObjectURL(job.preview);
      render();
    }, 4_000);
  } catch (e) {
    if (store !== st) return;
    job.state = 'error';
    job.error = e.message || 'Could not set the picture.';
  }
  render();
}

/** Remove the profile's or a group's picture. */
async function removeAvatar(target) {
  if (!store) return;
  const st = store;
  try {
    if (target === 'profile') {
      const r = await rest.updateProfile({ avatar_media_id: null });
      if (store === st && r && r.profile) profiles.apply([r.profile], Date.now());
    } else {
      await groupCall('update_chat', { chat_id: target, avatar_media_id: null });
    }
    avatarJobs.delete(target);
  } catch (e) {
    if (store !== st) return;
    const text = e.message || 'Could not remove the picture.';
    if (target === 'profile') panels.setProfileError(text);
    else panels.setGroupError(text);
  }
  render();
}

async function openSettings() {
  if (!store) return;
  const st = store;
  panels.openSettings();
  try {
    const r = await rest.me();
    if (store !== st) return;
    const settings = withDefaults(r && r.settings);
    previews = settings.push_previews;
    panels.fillSettings(settings);
  } catch (e) {
    if (store === st) panels.setSettingsError(`Could not load your settings${e.message ? ` (${e.message})` : ''}.`);
  }
}

/** PUT /api/me/settings with what changed; answers every setting. */
async function saveSettings(form) {
  const changes = settingsChanges(panels.settings, form);
  if (!changes) return withDefaults(panels.settings);
  const st = store;
  let r;
  try {
    r = await rest.updateSettings(changes);
  } catch (e) {
    throw new Error(`Could not save the settings${e.message ? ` (${e.message})` : ''}.`);
  }
  const settings = withDefaults(r && r.settings);
  if (store === st) previews = settings.push_previews;
  return settings;
}

// ---- groups: info, roles, invites; joining by link ------------------------------------------

function openGroupInfo(chatId) {
  const c = store && store.chat(chatId);
  if (!c || c.kind !== 'group') return;
  panels.openGroup(chatId);
  render();
}

/** A group action on the socket; its `chat` reply is applied (the server also pushes it). Throws what to show. */
async function groupCall(action, params) {
  if (!socket || !socket.isOpen) throw new Error('Offline: try again once connected.');
  const st = store;
  let r;
  try {
    r = await socket.request(action, params);
  } catch (e) {
    const text = e.message ? e.message.charAt(0).toUpperCase() + e.message.slice(1) : 'The server refused it';
    throw Object.assign(new Error(e.code === 'forbidden' ? `Not allowed: ${text}.` : `${text}.`), { code: e.code });
  }
  if (store === st && r && r.chat) onChat(r.chat);
  render();
  return r;
}

async function updateGroupInfo(chatId, form) {
  const { changes, error } = groupInfoChanges(store.chat(chatId), form);
  if (error) throw new Error(error);
  if (!changes) return null;
  return groupCall('update_chat', { chat_id: chatId, ...changes });
}

const pageBase = () => `${location.origin}${location.pathname}`;
const invitesKey = () => `parley.invites.${session.user_id}`;

function loadInvites() {
  invites.clear();
  try {
    const saved = JSON.parse(sessionStorage.getItem(invitesKey()) || '{}');
    for (const [chatId, inv] of Object.entries(saved)) {
      if (inv && inv.token && Date.parse(inv.expires_at) > Date.now()) {
        invites.set(chatId, { ...inv, link: inviteLink(pageBase(), inv.token) });
      }
    }
  } catch {
    /* nothing kept */
  }
}

function saveInvites() {
  try {
    const out = {};
    for (const [chatId, { token, expires_at: expiresAt }] of invites) out[chatId] = { token, expires_at: expiresAt };
    sessionStorage.setItem(invitesKey(), JSON.stringify(out));
  } catch {
    /* storage unavailable: kept in memory */
  }
}

/** create_invite: a link of the page with `#join=<token>` (the server lists no links, so this tab keeps it). */
async function createInvite(chatId) {
  const st = store;
  const r = await groupCall('create_invite', { chat_id: chatId });
  if (store !== st || !r || !r.token) return;
  invites.set(chatId, { token: r.token, expires_at: r.expires_at, link: inviteLink(pageBase(), r.token) });
  saveInvites();
  render();
}

async function revokeInvite(chatId) {
  const inv = invites.get(chatId);
  if (!inv) return;
  try {
    await groupCall('revoke_invite', { chat_id: chatId, token: inv.token });
  } catch (e) {
    if (e.code !== 'not_found') throw e;
    // expired or revoked already (elsewhere): it is gone either way
  }
  if (invites.get(chatId) === inv) invites.delete(chatId);
  saveInvites();
  render();
}

/** The sign-in form's news while an invite link waits for a signed-in user. */
const joinNotice = () => (joinToken(location.hash) ? 'Log in or sign up to join the group you were invited to.' : '');

/**
 * The page was opened with `#join=<token>` (or the hash changed to one): once signed in, connected and caught up,
 * send `join` and open the group. The hash is cleared first, so a reload does not join again.
 */
async function maybeJoin() {
  const token = joinToken(location.hash);
  if (!token || !store || joining || !socket || !socket.isOpen) return;
  const st = store;
  joining = true;
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  panels.setJoin({ state: 'joining', text: 'Joining the group…' });
  try {
    const r = await socket.request('join', { token });
    if (store !== st) return;
    onChat(r.chat);
    panels.setJoin(null);
    if (r.chat && store.chat(r.chat.chat_id)) openChat(r.chat.chat_id);
  } catch (e) {
    if (store === st) panels.setJoin({ state: 'error', text: joinErrorText(e.code, e.message) });
  } finally {
    if (store === st) joining = false;
    render();
  }
}

window.addEventListener('hashchange', () => {
  if (store) maybeJoin();
  else if (joinToken(location.hash)) ui.setAuthNotice(joinNotice());
});

// ---- start -------------------------------------------------------------------

async function boot() {
  const s = loadSession();
  if (!s) return ui.showAuth('', joinNotice());
  if (!s.expires_at || s.expires_at - Date.now() < 60_000) {
    session = s;
    try {
      await refreshToken();
    } catch (e) {
      if (e.status !== 0) return; // logged out by refreshToken
    }
    return startSession(session);
  }
  startSession(s);
}

boot();
