// Rendering. User and server text only ever reaches the page through textContent,
// attributes and DOM nodes: never innerHTML. Lists are keyed so that re-rendering
// keeps images, videos, focus and the scroll position.
import { DISAPPEAR_OPTIONS, disappearFromValue, disappearLabel, timeLeftText } from './account.js';
import { MUTE_CHOICES, NOTIFY_CONTROL, muteText } from './notify.js';
import { groupRights, hueOf, initials, presenceStatus, presenceText, userAvatar } from './people.js';

const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

/** Build an element. Children that are strings become text nodes. */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'testid') e.dataset.testid = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
const BELL = 'M12 3a6 6 0 0 0-6 6v3.6L4.3 15.2V17h15.4v-1.8L18 12.6V9a6 6 0 0 0-6-6zm-2.2 15.5a2.2 2.2 0 0 0 4.4 0z';

/** A bell, crossed out when `muted`: an inline SVG (emoji fonts are not everywhere), built as DOM nodes. */
export function bellIcon(muted) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '1em');
  svg.setAttribute('height', '1em');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `bell${muted ? ' muted' : ''}`);
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', BELL);
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  if (muted) {
    // the slash, over a gap of the background's colour (style.css: --bell-gap)
    for (const [cls, width] of [['gap', 4.5], ['slash', 2]]) {
      const line = document.createElementNS(SVG, 'line');
      for (const [k, v] of Object.entries({ class: cls, x1: 3.5, y1: 3, x2: 20.5, y2: 21, stroke: 'currentColor', 'stroke-width': width, 'stroke-linecap': 'round' })) {
        line.setAttribute(k, String(v));
      }
      svg.append(line);
    }
  }
  return svg;
}

/** An "i" in a circle (emoji and symbol fonts are not everywhere), built as DOM nodes. */
export function infoIcon() {
  const svg = document.createElementNS(SVG, 'svg');
  for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', width: '1em', height: '1em', 'aria-hidden': 'true' })) svg.setAttribute(k, v);
  const circle = document.createElementNS(SVG, 'circle');
  for (const [k, v] of Object.entries({ cx: 12, cy: 12, r: 9.5, fill: 'none', stroke: 'currentColor', 'stroke-width': 2 })) circle.setAttribute(k, String(v));
  const dot = document.createElementNS(SVG, 'circle');
  for (const [k, v] of Object.entries({ cx: 12, cy: 7.6, r: 1.4, fill: 'currentColor' })) dot.setAttribute(k, String(v));
  const bar = document.createElementNS(SVG, 'rect');
  for (const [k, v] of Object.entries({ x: 10.8, y: 10.5, width: 2.4, height: 7, rx: 1, fill: 'currentColor' })) bar.setAttribute(k, String(v));
  svg.append(circle, dot, bar);
  return svg;
}

/** Only http(s) and blob URLs reach src/href (no javascript: or data: from the server). */
export function safeUrl(u) {
  if (!u) return null;
  try {
    const url = new URL(u, location.href);
    return ['http:', 'https:', 'blob:'].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

const brokenAvatars = new Set(); // avatar URLs that failed to load: initials until a fresh URL comes

/**
 * Show an avatar in `node` (a `.avatar` span): the picture when there is a usable URL, else initials on a colour of
 * its own. `a` = {url, label, seed, kind: user|media|none, id} (people.js chatAvatar/userAvatar). The node says
 * which it shows (`data-kind` image/initials) and whose it is, for the load-error handler.
 */
export function setAvatar(node, a) {
  const url = a && a.url && !brokenAvatars.has(a.url) ? safeUrl(a.url) : null;
  const label = (a && a.label) || '';
  node.dataset.kind = url ? 'image' : 'initials';
  node.dataset.avatarKind = (a && a.kind) || 'none';
  node.dataset.avatarId = (a && a.id) || '';
  node.style.setProperty('--avatar-hue', String(hueOf((a && a.seed) || label)));
  if (url) {
    let img = node.querySelector('img');
    if (!img) {
      img = el('img', { testid: 'avatar-image', alt: '', decoding: 'async' });
      node.replaceChildren(img);
    }
    if (img.getAttribute('src') !== url) {
      img.dataset.url = a.url;
      img.src = url;
    }
    img.alt = label;
  } else {
    const text = initials(label);
    if (node.querySelector('img') || node.textContent !== text) node.textContent = text;
  }
}

/** An avatar image failed to load: its URL is not tried again (initials show until a fresh URL arrives). */
export function avatarFailed(img) {
  if (img && img.dataset.url) brokenAvatars.add(img.dataset.url);
}

/** Keep container's children in the order of items, reusing nodes by key. */
function reconcile(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of container.children) existing.set(child.dataset.key, child);
  const keep = new Set();
  let prev = null;
  for (const item of items) {
    const key = keyOf(item);
    keep.add(key);
    let node = existing.get(key);
    if (!node) {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    const ref = prev ? prev.nextSibling : container.firstChild;
    if (node !== ref) container.insertBefore(node, ref);
    prev = node;
  }
  for (const [key, node] of existing) if (!keep.has(key)) node.remove();
}

const hhmm = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
};

/** "online", "last seen …", or '' when the user's presence is hidden from this user (`unknown`). */
export const lastSeenText = presenceText;

export function typingText(users) {
  if (!users.length) return '';
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  return `${users.length} people are typing…`;
}

const formatSize = (n) => {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
};

function previewText(m, me, isGroup, nameOf = (id) => id) {
  if (!m) return 'No messages yet';
  const who = m.sender_id === me ? 'You: ' : isGroup && m.kind !== 'system' ? `${nameOf(m.sender_id)}: ` : '';
  const name = (m.media && m.media.filename) || '';
  const body =
    m.kind === 'image' ? 'Photo' :
    m.kind === 'video' ? 'Video' :
    m.kind === 'file' ? `File: ${name || 'attachment'}` :
    m.disappeared ? 'This message disappeared' :
    m.deleted ? 'This message was deleted' :
    m.text || '';
  return who + body;
}

const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
const MENTION_RE = /(^|[^\w@.])@([a-z0-9_.-]{1,64})/gi;
const KIND_LABEL = { image: 'Photo', video: 'Video', file: 'File' };

/** Text with the mentioned members' `@id` as spans (a mention of `me` marked too): nodes, never HTML. */
export function mentionNodes(text, mentions, me) {
  const ids = new Set((mentions || []).map((u) => u.toLowerCase()));
  if (!ids.size) return [text];
  const out = [];
  let at = 0;
  for (const match of text.matchAll(MENTION_RE)) {
    let id = match[2];
    if (!ids.has(id.toLowerCase())) id = id.replace(/[.-]+$/, '');
    if (!ids.has(id.toLowerCase())) continue;
    const start = match.index + match[1].length;
    if (start > at) out.push(text.slice(at, start));
    out.push(el('span', { class: `mention${id.toLowerCase() === me ? ' me' : ''}`, testid: 'message-mention',
      'data-user-id': id.toLowerCase(), text: `@${id}` }));
    at = start + 1 + id.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

/** The `@prefix` being typed just before the caret, or null. */
export function mentionQuery(value, caret) {
  const m = /(^|\s)@([a-z0-9_.-]{0,64})$/i.exec(value.slice(0, caret));
  return m ? { start: caret - m[2].length - 1, prefix: m[2] } : null;
}

const TICKS = {
  pending: ['…', 'Sending'],
  failed: ['!', 'Not sent'],
  sent: ['✓', 'Sent'],
  delivered: ['✓✓', 'Delivered'],
  read: ['✓✓', 'Read'],
};

export class UI {
  /** @param {object} h  handlers: login, signup, logout, openChat, newDirect, newGroup, sendText,
   *  typing, files, loadOlder, retry, mediaError, cancelUpload */
  constructor(h) {
    this.h = h;
    this.authView = $('auth-view');
    this.mainView = $('main-view');
    this.authForm = $('auth-form');
    this.authError = $('auth-error');
    this.chatList = $('chat-list');
    this.chatPane = $('chat-pane');
    this.noChat = $('no-chat-selected');
    this.list = $('message-list');
    this.items = $('message-items');
    this.olderBtn = $('load-older');
    this.typing = $('typing-indicator');
    this.uploads = $('uploads');
    this.composer = $('composer');
    this.input = $('message-input');
    this.fileInput = $('file-input');
    this.lightbox = $('lightbox');
    this.menu = $('message-menu');
    this.context = $('composer-context');
    this.suggestions = $('mention-suggestions');
    this.forwardDialog = $('forward-dialog');
    this.actionError = $('action-error');
    this.accountButton = $('account-menu-button');
    this.accountMenu = $('account-menu');
    this.deleteDialog = $('delete-dialog');
    this.exportDialog = $('export-dialog');
    this.disappearSelect = $('disappear-select');
    this.disappearSelect.replaceChildren(
      ...DISAPPEAR_OPTIONS.map((o) => el('option', { value: o.seconds === null ? '' : String(o.seconds), text: o.label })),
    );
    this.muteButton = $('mute-button');
    this.muteButton.replaceChildren(bellIcon(false));
    $('mute-status').replaceChildren(bellIcon(true), ' Muted');
    this.muteMenu = $('mute-menu');
    const muteItem = (testid, choice, label) => el('button', { type: 'button', role: 'menuitem', class: 'menu-item', testid,
      'data-action': 'mute', 'data-choice': choice, text: label });
    this.muteMenu.replaceChildren(
      el('div', { class: 'menu-title', text: 'Mute notifications' }),
      ...MUTE_CHOICES.map((c) => muteItem(c.id === 'forever' ? 'mute-forever' : `mute-for-${c.id}`, c.id, c.label)),
      muteItem('mute-off', '', 'Unmute'),
    );
    $('group-info-button').replaceChildren(infoIcon());
    this.chatMenuButton = $('chat-menu-button');
    this.chatMenu = $('chat-menu');
    this.notifyItem = $('account-notifications');
    this.notifyPrompt = $('notify-prompt');
    this.menuFor = null; // {chatId, seq} of the open message menu
    this.forwardFrom = null; // {chatId, seq} being forwarded
    this.mention = null; // {start, prefix, options, active} while completing an @mention
    this.renderedChat = null;
    this._name = (id) => id;
    this.stick = true; // keep the view pinned to the newest message
    this._wire();
  }

  _wire() {
    const h = this.h;
    const creds = () => [$('auth-username').value.trim().toLowerCase(), $('auth-password').value];
    this.authForm.addEventListener('submit', (e) => {
      e.preventDefault();
      h.login(...creds());
    });
    $('signup-button').addEventListener('click', () => {
      if (this.authForm.reportValidity()) h.signup(...creds());
    });
    $('logout-button').addEventListener('click', () => h.logout());
    this._wireAccount();

    $('new-direct-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $('new-direct-username');
      h.newDirect(input.value.trim().toLowerCase(), () => this._newChatDone(e.target));
    });
    $('new-group-form').addEventListener('submit', (e) => {
      e.preventDefault();
      h.newGroup($('new-group-name').value.trim(), $('new-group-members').value, () => this._newChatDone(e.target));
    });

    const openFrom = (e) => {
      const li = e.target.closest('[data-chat-id]');
      if (li) h.openChat(li.dataset.chatId);
    };
    this.chatList.addEventListener('click', openFrom);
    this.chatList.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        openFrom(e);
      }
    });

    this.composer.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = this.input.value;
      if (!text.trim()) return;
      this.input.value = '';
      this.stick = true;
      h.sendText(text);
    });
    this.input.addEventListener('keydown', (e) => {
      if (this.mention && this._mentionKey(e)) return;
      if (e.key === 'Escape') {
        // leaves a reply or an edit (an edit's text goes with it)
        if (h.cancelCompose() === 'edit') this.input.value = '';
        return;
      }
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.composer.requestSubmit();
      }
    });
    this.input.addEventListener('input', () => {
      h.typing(this.input.value);
      this._updateMention();
    });
    this.input.addEventListener('blur', () => setTimeout(() => this._closeMention(), 150));
    this.suggestions.addEventListener('mousedown', (e) => e.preventDefault()); // keep the input's focus
    this.suggestions.addEventListener('click', (e) => {
      const o = e.target.closest('[data-user-id]');
      if (o) this._pickMention(o.dataset.userId);
    });
    $('composer-context-cancel').addEventListener('click', () => {
      if (h.cancelCompose() === 'edit') this.input.value = '';
      this.input.focus();
    });

    $('attach-button').addEventListener('click', () => this.fileInput.click());
    this.fileInput.addEventListener('change', () => {
      const files = [...this.fileInput.files];
      this.fileInput.value = '';
      if (files.length) h.files(files);
    });
    this.chatPane.addEventListener('dragover', (e) => {
      if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) e.preventDefault();
    });
    this.chatPane.addEventListener('drop', (e) => {
      const files = e.dataTransfer ? [...e.dataTransfer.files] : [];
      if (files.length) {
        e.preventDefault();
        h.files(files);
      }
    });

    this.list.addEventListener('scroll', () => {
      this.stick = this._nearBottom();
      if (this.list.scrollTop < 40) h.loadOlder();
    });
    this.olderBtn.addEventListener('click', () => h.loadOlder());

    this.items.addEventListener('click', (e) => {
      const retry = e.target.closest('[data-testid="message-retry"]');
      if (retry) return h.retry(retry.dataset.clientMsgId);
      const node = e.target.closest('[data-testid="message"]');
      const seq = node && node.dataset.seq ? Number(node.dataset.seq) : null;
      const menuBtn = e.target.closest('[data-testid="message-menu-button"]');
      if (menuBtn && seq) return this.openMenu(node.dataset.chatId, seq, menuBtn);
      const chip = e.target.closest('[data-testid="reaction"]');
      if (chip && seq) return h.react(node.dataset.chatId, seq, chip.dataset.emoji);
      const quote = e.target.closest('[data-testid="message-quote"]');
      if (quote && seq) return h.jumpTo(node.dataset.chatId, Number(quote.dataset.seq));
      const thumb = e.target.closest('[data-testid="media-thumb"]');
      if (thumb) this.openLightbox(thumb.dataset.full, thumb.alt);
    });
    this.items.addEventListener('keydown', (e) => {
      const quote = (e.key === 'Enter' || e.key === ' ') && e.target.closest('[data-testid="message-quote"]');
      const node = quote && quote.closest('[data-testid="message"]');
      if (!node) return;
      e.preventDefault();
      h.jumpTo(node.dataset.chatId, Number(quote.dataset.seq));
    });
    // media load errors do not bubble: listen in the capture phase
    this.items.addEventListener(
      'error',
      (e) => {
        const id = e.target.dataset && e.target.dataset.mediaId;
        if (id) h.mediaError(id);
      },
      true,
    );
    this.items.addEventListener('load', () => this.stick && this.scrollToBottom(), true);
    this.uploads.addEventListener('click', (e) => {
      const b = e.target.closest('[data-upload-id]');
      if (b) h.cancelUpload(b.dataset.uploadId);
    });

    this.lightbox.addEventListener('click', () => this.closeLightbox());
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      this.closeLightbox();
      this.closeMenu();
      this.closeForward();
      this.closeAccountMenu();
      this.closeMuteMenu();
      this.closeChatMenu();
      if (!this.deleteDialog.hidden && !this._deleteBusy) this.closeDelete();
      if (!this.exportDialog.hidden) this.closeExport();
    });

    this.menu.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-action]');
      if (!b || !this.menuFor) return;
      const { chatId, seq } = this.menuFor;
      this.closeMenu();
      const act = b.dataset.action;
      if (act === 'react') h.react(chatId, seq, b.dataset.emoji);
      else if (act === 'reply') h.startReply(chatId, seq);
      else if (act === 'edit') h.startEdit(chatId, seq);
      else if (act === 'forward') this.openForward(chatId, seq);
      else if (act === 'delete-everyone') h.deleteForEveryone(chatId, seq);
      else if (act === 'delete-me') h.deleteForMe(chatId, seq);
      else if (act === 'report') h.report(chatId, seq);
    });
    document.addEventListener('click', (e) => {
      if (!this.menu.hidden && !this.menu.contains(e.target) && !e.target.closest('[data-testid="message-menu-button"]')) {
        this.closeMenu();
      }
    }, true);
    this.list.addEventListener('scroll', () => this.closeMenu(), { passive: true });
    window.addEventListener('resize', () => this.closeMenu());

    this.forwardDialog.addEventListener('click', (e) => {
      const t = e.target.closest('[data-testid="forward-target"]');
      const from = this.forwardFrom;
      if (t && from) {
        this.closeForward();
        h.forward(from.chatId, from.seq, t.dataset.chatId);
      } else if (e.target === this.forwardDialog || e.target.closest('[data-testid="forward-cancel"]')) {
        this.closeForward();
      }
    });
  }

  // ---- account: log out everywhere, delete, export; a chat's disappearing setting --------------------------

  _wireAccount() {
    const h = this.h;
    this.accountButton.addEventListener('click', () => (this.accountMenu.hidden ? this.openAccountMenu() : this.closeAccountMenu()));
    this.accountMenu.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-action]');
      if (!b) return;
      this.closeAccountMenu();
      this.setAccountError('');
      if (b.dataset.action === 'profile') h.openProfile();
      else if (b.dataset.action === 'settings') h.openSettings();
      else if (b.dataset.action === 'notifications') h.enableNotifications();
      else if (b.dataset.action === 'export') h.exportData();
      else if (b.dataset.action === 'logout-all') h.logoutAll();
      else if (b.dataset.action === 'delete') this.openDelete();
    });
    document.addEventListener('click', (e) => {
      if (!this.accountMenu.hidden && !this.accountMenu.contains(e.target) && !this.accountButton.contains(e.target)) {
        this.closeAccountMenu();
      }
    }, true);

    $('delete-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const password = $('delete-password').value;
      if (password && !this._deleteBusy) h.deleteAccount(password);
    });
    $('delete-cancel').addEventListener('click', () => this.closeDelete());
    $('export-close').addEventListener('click', () => this.closeExport());
    $('export-retry').addEventListener('click', () => h.exportData());
    for (const dialog of [this.deleteDialog, this.exportDialog]) {
      dialog.addEventListener('click', (e) => {
        if (e.target !== dialog) return; // a click beside the card closes it
        if (dialog === this.exportDialog) this.closeExport();
        else if (!this._deleteBusy) this.closeDelete();
      });
    }

    // notifications are asked for only here, from a click (a user gesture), never on page load
    $('notify-enable').addEventListener('click', () => h.enableNotifications());
    $('notify-dismiss').addEventListener('click', () => h.dismissNotifyPrompt());

    // a chat's mute: the header's 🔔 opens the choices
    this.muteButton.addEventListener('click', () => (this.muteMenu.hidden ? this.openMuteMenu() : this.closeMuteMenu()));
    this.muteMenu.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-action="mute"]');
      const chatId = this.renderedChat;
      if (!b || !chatId) return;
      this.closeMuteMenu();
      h.setMute(chatId, b.dataset.choice || null);
    });
    document.addEventListener('click', (e) => {
      if (!this.muteMenu.hidden && !this.muteMenu.contains(e.target) && !this.muteButton.contains(e.target)) this.closeMuteMenu();
    }, true);

    // a chat's menu (⋮): group info, block / unblock the peer of a direct chat
    this.chatMenuButton.addEventListener('click', () => (this.chatMenu.hidden ? this.openChatMenu() : this.closeChatMenu()));
    this.chatMenu.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-action]');
      const chatId = this.renderedChat;
      if (!b || !chatId) return;
      this.closeChatMenu();
      if (b.dataset.action === 'info') h.openGroupInfo(chatId);
      else if (b.dataset.action === 'block') h.block(chatId, true);
      else if (b.dataset.action === 'unblock') h.block(chatId, false);
    });
    document.addEventListener('click', (e) => {
      if (!this.chatMenu.hidden && !this.chatMenu.contains(e.target) && !this.chatMenuButton.contains(e.target)) this.closeChatMenu();
    }, true);
    $('blocked-unblock').addEventListener('click', () => this.renderedChat && h.block(this.renderedChat, false));
    $('group-info-button').addEventListener('click', () => this.renderedChat && h.openGroupInfo(this.renderedChat));
    $('chat-title').addEventListener('click', () => {
      if (this.renderedChat && this.chatPane.dataset.kind === 'group') h.openGroupInfo(this.renderedChat);
    });
    $('my-avatar').addEventListener('click', () => h.openProfile());
    // avatar pictures that fail to load (an expired URL): initials, and the app fetches a fresh URL
    document.addEventListener('error', (e) => {
      const img = e.target;
      if (!img || img.tagName !== 'IMG' || img.dataset.testid !== 'avatar-image') return;
      avatarFailed(img);
      const holder = img.closest('.avatar');
      if (holder) {
        const { avatarKind, avatarId } = holder.dataset;
        holder.dataset.kind = 'initials';
        holder.textContent = initials(img.alt);
        if (avatarId && h.avatarError) h.avatarError(avatarKind, avatarId);
      }
    }, true);

    this.disappearSelect.addEventListener('change', () => {
      const chatId = this.renderedChat;
      const choice = disappearFromValue(this.disappearSelect.value);
      if (chatId && choice) h.setDisappearing(chatId, choice.seconds);
    });
  }

  openAccountMenu() {
    this.setNotifyState(this.h.notifyState()); // the permission may have changed in the browser's settings
    this.accountMenu.hidden = false;
    this.accountButton.setAttribute('aria-expanded', 'true');
    const first = this.accountMenu.querySelector('button');
    if (first) first.focus();
  }

  closeAccountMenu() {
    if (this.accountMenu.hidden) return;
    this.accountMenu.hidden = true;
    this.accountButton.setAttribute('aria-expanded', 'false');
  }

  /** The "Enable notifications" item and the one-time prompt: {state: unsupported|default|granted|denied, prompt}. */
  setNotifyState({ state, prompt }) {
    const item = this.notifyItem;
    const control = NOTIFY_CONTROL[state];
    item.hidden = !control;
    item.dataset.state = state;
    if (control) {
      item.textContent = control.label;
      item.title = control.hint;
      item.disabled = state !== 'default';
    }
    this.notifyPrompt.hidden = !(prompt && state === 'default');
  }

  openMuteMenu() {
    const chatId = this.renderedChat;
    if (!chatId || this.muteButton.disabled) return;
    const muted = this.chatPane.dataset.mutedUntil;
    $('mute-off', this.muteMenu).hidden = !muted;
    this.muteMenu.hidden = false;
    this.muteButton.setAttribute('aria-expanded', 'true');
    const first = this.muteMenu.querySelector('button');
    if (first) first.focus();
  }

  closeMuteMenu() {
    if (this.muteMenu.hidden) return;
    this.muteMenu.hidden = true;
    this.muteButton.setAttribute('aria-expanded', 'false');
  }

  openChatMenu() {
    if (!this.renderedChat) return;
    this.chatMenu.hidden = false;
    this.chatMenuButton.setAttribute('aria-expanded', 'true');
    const first = [...this.chatMenu.querySelectorAll('button')].find((b) => !b.hidden);
    if (first) first.focus();
  }

  closeChatMenu() {
    if (this.chatMenu.hidden) return;
    this.chatMenu.hidden = true;
    this.chatMenuButton.setAttribute('aria-expanded', 'false');
  }

  setAccountError(message) {
    const e = $('account-error');
    e.textContent = message || '';
    e.hidden = !message;
  }

  openDelete() {
    this.setDeleteBusy(false);
    this.setDeleteError('');
    $('delete-password').value = '';
    this.deleteDialog.hidden = false;
    $('delete-password').focus();
  }

  closeDelete() {
    this.deleteDialog.hidden = true;
    $('delete-password').value = '';
    this.setDeleteBusy(false);
  }

  setDeleteBusy(busy) {
    this._deleteBusy = busy;
    $('delete-confirm').disabled = busy;
    $('delete-cancel').disabled = busy;
    $('delete-confirm').textContent = busy ? 'Deleting…' : 'Delete my account';
  }

  setDeleteError(message) {
    const e = $('delete-error');
    e.textContent = message || '';
    e.hidden = !message;
    if (message) {
      $('delete-password').select();
      $('delete-password').focus();
    }
  }

  /** The export dialog: {state: 'preparing'|'ready'|'error', url?, message?, polls?}. */
  showExport({ state, url, message, polls = 0 }) {
    this.exportDialog.hidden = false;
    const status = $('export-status');
    const link = $('export-link');
    const href = state === 'ready' ? safeUrl(url) : null;
    status.dataset.state = state === 'ready' && !href ? 'error' : state;
    status.textContent =
      state === 'preparing' ? `Preparing your export…${polls >= 5 ? ' This can take a minute.' : ''}` :
      state === 'ready' && href ? 'Your export is ready: one JSON object per line (profile, settings, chats, messages). The link works for 15 minutes.' :
      'The export did not finish.';
    $('export-progress').hidden = state !== 'preparing';
    link.hidden = !href;
    if (href) link.href = href;
    else link.removeAttribute('href');
    const err = state === 'error' ? message || 'Something went wrong.' : state === 'ready' && !href ? 'The server gave no usable link.' : '';
    $('export-error').textContent = err;
    $('export-error').hidden = !err;
    $('export-retry').hidden = !err;
    if (href) link.focus();
  }

  closeExport() {
    if (this.exportDialog.hidden) return;
    this.exportDialog.hidden = true;
    $('export-link').removeAttribute('href');
    this.h.cancelExport();
  }

  // ---- message actions ---------------------------------------------------------

  /** The actions menu of a message, under its button: reactions, reply, forward, edit, delete. */
  openMenu(chatId, seq, anchor) {
    const a = this.h.actionsFor(chatId, seq);
    const m = this.h.message(chatId, seq);
    if (!a || !m) return;
    if (this.menuFor && this.menuFor.chatId === chatId && this.menuFor.seq === seq && !this.menu.hidden) return this.closeMenu();
    this.closeMenu();
    const mine = Object.entries(m.reactions || {}).find(([, users]) => users.includes(this.h.me && this.h.me()))?.[0];
    const item = (action, label, testid, danger) =>
      el('button', { type: 'button', role: 'menuitem', class: `menu-item${danger ? ' danger' : ''}`, testid, 'data-action': action, text: label });
    this.menu.replaceChildren(
      a.react
        ? el('div', { class: 'react-row', testid: 'react-options' },
            ...REACTIONS.map((e) => el('button', { type: 'button', role: 'menuitem', class: `react-option${e === mine ? ' mine' : ''}`,
              testid: 'react-option', 'data-action': 'react', 'data-emoji': e, title: e === mine ? 'Remove your reaction' : `React ${e}`, text: e })))
        : null,
      a.reply ? item('reply', 'Reply', 'action-reply') : null,
      a.forward ? item('forward', 'Forward…', 'action-forward') : null,
      a.edit ? item('edit', 'Edit', 'action-edit') : null,
      a.deleteForEveryone ? item('delete-everyone', 'Delete for everyone', 'action-delete-everyone', true) : null,
      a.deleteForMe ? item('delete-me', 'Delete for me', 'action-delete-me', true) : null,
      // reporting is moderation, not an action on the message: its own section, below the others
      this.h.canReport && this.h.canReport(chatId, seq)
        ? el('div', { class: 'menu-section' }, el('button', { type: 'button', role: 'menuitem', class: 'report-item',
            testid: 'action-report', 'data-action': 'report', text: 'Report…' }))
        : null,
    );
    this.menuFor = { chatId, seq };
    this.menuAnchor = anchor;
    anchor.setAttribute('aria-expanded', 'true');
    this.menu.dataset.chatId = chatId;
    this.menu.dataset.seq = String(seq);
    this.menu.hidden = false;
    const r = anchor.getBoundingClientRect();
    const w = this.menu.offsetWidth;
    const hgt = this.menu.offsetHeight;
    const left = Math.max(8, Math.min(r.right - w, window.innerWidth - w - 8));
    const below = r.bottom + 4;
    const top = below + hgt > window.innerHeight - 8 ? Math.max(8, r.top - hgt - 4) : below;
    this.menu.style.left = `${left}px`;
    this.menu.style.top = `${top}px`;
  }

  closeMenu() {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.menuFor = null;
    if (this.menuAnchor) this.menuAnchor.setAttribute('aria-expanded', 'false');
    this.menuAnchor = null;
  }

  openForward(chatId, seq) {
    this.forwardFrom = { chatId, seq };
    const list = $('forward-targets');
    list.replaceChildren(
      ...this.h.forwardTargets().map((c) =>
        el('li', {}, el('button', { type: 'button', class: 'picker-item', testid: 'forward-target', 'data-chat-id': c.chat_id,
          'data-kind': c.kind, text: c.name }))),
    );
    this.forwardDialog.hidden = false;
    const first = list.querySelector('button');
    if (first) first.focus();
  }

  closeForward() {
    this.forwardDialog.hidden = true;
    this.forwardFrom = null;
  }

  showActionError(message) {
    clearTimeout(this._errorTimer);
    this.actionError.textContent = message || '';
    this.actionError.hidden = !message;
    if (message) this._errorTimer = setTimeout(() => (this.actionError.hidden = true), 6_000);
  }

  /** Put the caret in the composer; `text` (an edit's original) replaces its content when given. */
  focusComposer(text) {
    if (text !== null && text !== undefined) this.input.value = text;
    this.input.focus();
    const end = this.input.value.length;
    this.input.setSelectionRange(end, end);
  }

  /** Scroll a loaded message into view and highlight it for a moment (a quote was clicked). */
  scrollToMessage(seq) {
    const node = this.items.querySelector(`[data-testid="message"][data-seq="${Number(seq)}"]`);
    if (!node) return false;
    node.scrollIntoView({ block: 'center' });
    this.stick = this._nearBottom();
    node.dataset.highlight = 'true';
    clearTimeout(node._flash);
    node._flash = setTimeout(() => delete node.dataset.highlight, 2_000);
    return true;
  }

  // ---- @mentions ---------------------------------------------------------------

  _updateMention() {
    const q = mentionQuery(this.input.value, this.input.selectionStart ?? this.input.value.length);
    const options = q ? this.h.mentionCandidates(q.prefix) : [];
    if (!q || !options.length) return this._closeMention();
    const keep = this.mention && options.includes(this.mention.options[this.mention.active]);
    const active = keep ? options.indexOf(this.mention.options[this.mention.active]) : 0;
    this.mention = { ...q, options, active };
    this._renderMention();
  }

  _renderMention() {
    const { options, active } = this.mention;
    this.suggestions.replaceChildren(
      ...options.map((u, i) => el('li', { class: `mention-option${i === active ? ' active' : ''}`, testid: 'mention-option',
        role: 'option', 'aria-selected': String(i === active), 'data-user-id': u, text: `@${u}` })),
    );
    this.suggestions.hidden = false;
  }

  _closeMention() {
    this.mention = null;
    this.suggestions.hidden = true;
    this.suggestions.replaceChildren();
  }

  /** Arrow keys move, Enter or Tab picks, Escape closes. Returns true when the key was used. */
  _mentionKey(e) {
    const m = this.mention;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      m.active = (m.active + (e.key === 'ArrowDown' ? 1 : m.options.length - 1)) % m.options.length;
      this._renderMention();
    } else if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && !e.isComposing) {
      this._pickMention(m.options[m.active]);
    } else if (e.key === 'Escape') {
      this._closeMention();
    } else return false;
    e.preventDefault();
    return true;
  }

  _pickMention(userId) {
    const m = this.mention;
    if (!m) return;
    const v = this.input.value;
    const caret = this.input.selectionStart ?? v.length;
    const insert = `@${userId} `;
    this.input.value = v.slice(0, m.start) + insert + v.slice(caret).replace(/^\s/, '');
    const at = m.start + insert.length;
    this.input.setSelectionRange(at, at);
    this.input.focus();
    this._closeMention();
    this.h.typing(this.input.value);
  }

  _newChatDone(form) {
    form.reset();
    $('new-chat').open = false;
  }

  // ---- views -----------------------------------------------------------------

  /** The sign-in form; `message` as an error, `notice` as news (signed out everywhere, account deleted). */
  showAuth(message = '', notice = '') {
    this.mainView.hidden = true;
    this.authView.hidden = false;
    this.authForm.reset();
    this.closeAccountMenu();
    this.closeMuteMenu();
    this.closeChatMenu();
    this.notifyPrompt.hidden = true;
    this.closeMenu();
    this.closeForward();
    this.deleteDialog.hidden = true;
    this.setDeleteBusy(false);
    $('delete-password').value = '';
    this.exportDialog.hidden = true;
    $('export-link').removeAttribute('href');
    this.setAccountError('');
    this.setAuthError(message);
    this.setAuthNotice(notice);
    this.setAuthBusy(false);
    this.items.replaceChildren();
    this.chatList.replaceChildren();
    this.renderedChat = null;
    $('auth-username').focus();
  }

  showMain(me) {
    this.authView.hidden = true;
    this.mainView.hidden = false;
    $('current-user').textContent = me;
  }

  setAuthBusy(busy) {
    for (const b of this.authForm.querySelectorAll('button')) b.disabled = busy;
  }

  setAuthError(message) {
    this.authError.textContent = message || '';
    this.authError.hidden = !message;
    if (message) this.setAuthNotice('');
  }

  setAuthNotice(message) {
    const n = $('auth-notice');
    n.textContent = message || '';
    n.hidden = !message;
  }

  setNewChatError(message) {
    const e = $('new-chat-error');
    e.textContent = message || '';
    e.hidden = !message;
  }

  /** open (connected and caught up) | syncing | connecting | waiting (backing off) | stopped */
  setConnection(state) {
    const s = $('connection-status');
    const label = {
      open: 'Online',
      syncing: 'Syncing…',
      connecting: 'Connecting…',
      waiting: 'Offline, reconnecting…',
    }[state] || 'Offline';
    s.dataset.state = state === 'open' ? 'online' : state === 'syncing' || state === 'connecting' ? 'connecting' : 'offline';
    s.textContent = label;
    s.title = label;
  }

  openLightbox(url, alt) {
    const src = safeUrl(url);
    if (!src) return;
    const img = $('lightbox-image');
    img.src = src;
    img.alt = alt || '';
    this.lightbox.hidden = false;
  }

  closeLightbox() {
    if (this.lightbox.hidden) return;
    this.lightbox.hidden = true;
    $('lightbox-image').removeAttribute('src');
  }

  _nearBottom() {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 60;
  }

  scrollToBottom() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  // ---- render ----------------------------------------------------------------

  /** @param {{store, openChatId, uploads, loadingOlder, now, people}} v */
  render(v) {
    this._name = v.people.name;
    this._renderChatList(v);
    this._renderChat(v);
    const me = v.store.me;
    const mine = $('my-avatar');
    setAvatar($('my-avatar-image'), userAvatar({ avatarUrl: v.people.userAvatar, name: v.people.name }, me));
    mine.dataset.pending = String(!!v.profilePending);
    $('current-user').title = v.people.name(me) === me ? '' : v.people.name(me);
  }

  _renderChatList({ store, openChatId, now, people }) {
    reconcile(
      this.chatList,
      store.chatList(),
      (c) => c.chat_id,
      () =>
        el(
          'li',
          { class: 'chat-item', testid: 'chat-list-item', role: 'button', tabindex: '0' },
          el('span', { class: 'avatar-wrap' },
            el('span', { class: 'avatar', testid: 'chat-avatar' }),
            el('span', { class: 'dot', testid: 'chat-presence-dot' })),
          el(
            'div',
            { class: 'chat-item-main' },
            el('div', { class: 'chat-item-title' },
              el('span', { class: 'chat-item-name', testid: 'chat-name' }),
              el('span', { class: 'muted-mark', testid: 'chat-muted', role: 'img', hidden: true }, bellIcon(true))),
            el('div', { class: 'chat-item-preview', testid: 'chat-last-message' }),
          ),
          el('span', { class: 'badge', testid: 'chat-unread' }),
        ),
      (li, c) => {
        const id = c.chat_id;
        const unread = store.unreadCount(id);
        li.dataset.chatId = id;
        li.dataset.kind = c.kind || '';
        li.dataset.unread = String(unread);
        li.classList.toggle('active', id === openChatId);
        li.setAttribute('aria-current', id === openChatId ? 'true' : 'false');
        const peer = store.peerOf(id);
        const dot = li.querySelector('.dot');
        dot.hidden = !peer;
        dot.dataset.status = peer ? presenceStatus(store.presenceOf(peer)) : 'unknown';
        setAvatar(li.querySelector('.avatar'), people.chatAvatar(id));
        const name = li.querySelector('.chat-item-name');
        name.textContent = people.title(id);
        name.title = peer ? `@${peer}` : '';
        li.querySelector('.chat-item-preview').textContent = previewText(
          store.lastMessage(id),
          store.me,
          c.kind === 'group',
          people.name,
        );
        const mutedUntil = store.mutedUntil(id, now);
        li.dataset.muted = String(!!mutedUntil);
        const mark = li.querySelector('.muted-mark');
        mark.hidden = !mutedUntil;
        mark.title = mutedUntil ? muteText(mutedUntil, now) : '';
        if (mutedUntil) mark.setAttribute('aria-label', mark.title);
        else mark.removeAttribute('aria-label');
        const badge = li.querySelector('.badge');
        badge.textContent = unread > 99 ? '99+' : String(unread);
        badge.hidden = unread === 0;
      },
    );
    $('chat-list-empty').hidden = store.chats.size > 0;
  }

  _renderChat(v) {
    const { store, openChatId: id, now } = v;
    const chat = id ? store.chat(id) : null;
    this.noChat.hidden = !!chat;
    this.chatPane.hidden = !chat;
    if (!chat) {
      this.renderedChat = null;
      return;
    }
    if (this.renderedChat !== id) {
      this.closeMenu();
      this.closeMuteMenu();
      this._closeMention();
      this.items.replaceChildren();
      this.renderedChat = id;
      this.stick = true;
      this.chatPane.dataset.chatId = id;
      this.input.value = '';
    }

    // header
    const people = v.people;
    const peer = store.peerOf(id);
    const title = $('chat-title');
    title.textContent = people.title(id);
    title.title = peer ? `@${peer}` : chat.kind === 'group' ? 'Group info' : '';
    title.classList.toggle('clickable', chat.kind === 'group');
    this.chatPane.dataset.kind = chat.kind || '';
    setAvatar($('header-avatar'), people.chatAvatar(id));
    const presence = peer ? store.presenceOf(peer) : null;
    const dot = $('presence-dot');
    dot.hidden = chat.kind !== 'direct';
    dot.dataset.status = presenceStatus(presence);
    const sub = $('presence-text');
    if (chat.kind === 'group') {
      const n = chat.members ? chat.members.length : 0;
      sub.textContent = chat.members ? `${n} member${n === 1 ? '' : 's'}: ${chat.members.map((m) => people.name(m.user_id)).join(', ')}` : '';
      sub.dataset.status = '';
    } else {
      sub.textContent = presenceText(presence, now);
      sub.dataset.status = presenceStatus(presence);
    }
    const rights = groupRights(chat, store.me);
    $('group-info-button').hidden = chat.kind !== 'group';
    const blocked = !!peer && people.isBlocked(peer);
    this.chatPane.dataset.blocked = String(blocked);
    $('chat-info').hidden = chat.kind !== 'group';
    $('chat-block').hidden = !peer || blocked;
    $('chat-unblock').hidden = !peer || !blocked;
    $('chat-block').textContent = peer ? `Block ${people.name(peer)}` : 'Block';
    $('chat-unblock').textContent = peer ? `Unblock ${people.name(peer)}` : 'Unblock';
    $('chat-block').disabled = $('chat-unblock').disabled = !!v.blocking;
    $('blocked-unblock').disabled = !!v.blocking;
    this.chatMenuButton.hidden = !chat.kind;
    $('blocked-notice').hidden = !blocked;
    $('blocked-text').textContent = blocked ? `You blocked ${people.name(peer)}. They cannot send you messages.` : '';
    this._renderDisappearing(chat, store, v.disappearing);
    this._renderMute(chat, store, now, v.muting);

    // messages
    const l = this.list;
    const first = this.items.firstElementChild;
    const anchorTop = first ? first.offsetTop : 0;
    const isGroup = chat.kind === 'group';
    reconcile(
      this.items,
      store.timeline(id),
      (m) => (m.pending ? `p:${m.client_msg_id}` : `s:${m.seq}`),
      () => el('div', { testid: 'message' }),
      (node, m) => this._updateMessage(node, m, store, isGroup, people),
    );
    if (this.stick) this.scrollToBottom();
    else if (first && first.isConnected) l.scrollTop += first.offsetTop - anchorTop;

    const older = store.hasOlder(id);
    this.olderBtn.hidden = !older;
    this.olderBtn.disabled = !!v.loadingOlder;
    this.olderBtn.textContent = v.loadingOlder ? 'Loading…' : 'Load older messages';
    $('history-start').hidden = older || store.messages(id).length === 0;

    // typing, uploads, composer
    const typers = store.typingUsers(id, now);
    this.typing.textContent = typingText(typers.map(people.name));
    this.typing.hidden = typers.length === 0;
    this.typing.dataset.users = typers.join(',');

    reconcile(
      this.uploads,
      v.uploads.filter((u) => u.chat_id === id),
      (u) => u.id,
      (u) =>
        el(
          'div',
          { class: 'upload', testid: 'upload-item' },
          el('span', { class: 'upload-name', text: u.filename }),
          el('progress', { testid: 'upload-progress', max: '1', value: '0' }),
          el('span', { class: 'upload-status', testid: 'upload-status' }),
          el('button', { type: 'button', class: 'link', testid: 'upload-dismiss', 'data-upload-id': u.id, text: '✕', title: 'Dismiss' }),
        ),
      (node, u) => {
        node.dataset.state = u.state;
        const p = node.querySelector('progress');
        p.value = u.progress;
        p.dataset.progress = String(Math.round(u.progress * 100));
        node.querySelector('.upload-status').textContent =
          u.state === 'error' ? u.error : u.state === 'done' ? 'Sent' : `${Math.round(u.progress * 100)} %`;
      },
    );

    this._renderContext(v.compose, store);

    // the composer: off after leaving, in a group where only admins send, and towards someone this user blocked
    const canSend = !chat.left && rights.sendReason !== 'admins' && !blocked;
    this.input.disabled = !canSend;
    $('send-button').disabled = !canSend;
    $('attach-button').disabled = !canSend;
    this.input.placeholder = blocked ? 'Unblock to send messages' : rights.sendReason === 'admins' ? 'Only admins can send messages' : 'Message';
    $('left-notice').hidden = !chat.left;
    $('send-restricted').hidden = chat.left || rights.sendReason !== 'admins';
    this.composer.dataset.disabled = canSend ? '' : chat.left ? 'left' : blocked ? 'blocked' : 'admins';
  }

  /** The chat's disappearing setting: the select (showing a change in flight), and a mark while it is on. */
  _renderDisappearing(chat, store, inFlight) {
    const busy = inFlight && inFlight.chatId === chat.chat_id;
    const seconds = busy ? inFlight.seconds : chat.disappear_after;
    const select = this.disappearSelect;
    const value = seconds ? String(seconds) : '';
    if (![...select.options].some((o) => o.value === value)) {
      select.append(el('option', { value, text: disappearLabel(seconds) })); // a duration this client does not offer
    }
    if (select.value !== value) select.value = value;
    select.disabled = !!busy || !store.canSetDisappearing(chat.chat_id);
    select.dataset.value = chat.disappear_after ? String(chat.disappear_after) : '';
    this.chatPane.dataset.disappearAfter = chat.disappear_after ? String(chat.disappear_after) : '';
    const status = $('disappear-status');
    status.hidden = !chat.disappear_after;
    status.textContent = chat.disappear_after ? `◷ ${disappearLabel(chat.disappear_after)}` : '';
    status.title = chat.disappear_after ? `New messages disappear after ${disappearLabel(chat.disappear_after)}` : '';
  }

  /** The chat's mute: the 🔕 mark (its title says until when) and the 🔔 button, busy while a change is in flight. */
  _renderMute(chat, store, now, inFlight) {
    const until = store.mutedUntil(chat.chat_id, now);
    const text = until ? muteText(until, now) : '';
    this.chatPane.dataset.mutedUntil = until || '';
    const status = $('mute-status');
    status.hidden = !until;
    status.title = text;
    const busy = !!inFlight && inFlight.has(chat.chat_id);
    const b = this.muteButton;
    b.disabled = busy || chat.left || !chat.kind;
    b.dataset.muted = String(!!until);
    b.title = until ? `${text}. Change or unmute…` : 'Mute notifications…';
    b.setAttribute('aria-label', b.title);
    if (b.disabled) this.closeMuteMenu();
    else if (!this.muteMenu.hidden) $('mute-off', this.muteMenu).hidden = !until;
  }

  _renderContext(compose, store) {
    const target = compose ? store.message(compose.chatId, compose.seq) : null;
    const mode = target && !target.hidden && !target.deleted ? compose.mode : '';
    this.context.hidden = !mode;
    this.context.dataset.mode = mode;
    this.composer.dataset.mode = mode;
    $('send-button').textContent = mode === 'edit' ? 'Save' : 'Send';
    if (!mode) return;
    const who = target.sender_id === store.me ? 'yourself' : this._name(target.sender_id);
    $('composer-context-title').textContent = mode === 'edit' ? 'Editing message' : `Replying to ${who}`;
    $('composer-context-text').textContent = target.text || KIND_LABEL[target.kind] || '';
    this.context.dataset.seq = String(target.seq);
  }

  _updateMessage(node, m, store, isGroup, people) {
    const me = store.me;
    const own = m.sender_id === me;
    const tick = store.tickState(m);
    node.className = `msg ${m.kind === 'system' ? 'system' : own ? 'own' : 'other'}`;
    node.dataset.chatId = m.chat_id;
    node.dataset.seq = m.pending ? '' : String(m.seq);
    node.dataset.sender = m.sender_id || '';
    node.dataset.kind = m.kind;
    node.dataset.own = String(own);
    node.dataset.state = m.pending ? m.state : 'sent';
    if (m.pending) node.dataset.clientMsgId = m.client_msg_id;
    if (tick) node.dataset.tick = tick;
    else delete node.dataset.tick;

    const quote = store.quoteOf(m);
    // the names shown (sender, quote, who reacted) are part of what is drawn: a profile that arrives redraws it
    const names = [m.sender_id, quote && quote.sender_id, ...Object.values(m.reactions || {}).flat()]
      .filter(Boolean).map((u) => people.name(u));
    const sig = JSON.stringify([m.kind, m.text, m.media, m.sender_id, m.sent_at || m.created_at, isGroup, !!m.pending,
      !!m.deleted, m.edited_at, m.reactions, quote, !!m.forwarded, m.mentions, m.expires_at, !!m.disappeared, names]);
    if (node._sig !== sig) {
      node._sig = sig;
      node.replaceChildren(this._messageBody(m, own, isGroup, me, quote, people.name));
    }
    const failure = node.querySelector('.send-error');
    if (failure) {
      const why = m.pending && m.state === 'failed' ? m.error || 'The server refused it.' : '';
      failure.textContent = why ? `Not sent: ${why}` : '';
      failure.hidden = !why;
    }
    if (m.deleted) node.dataset.deleted = 'true';
    else delete node.dataset.deleted;
    if (m.edited_at) node.dataset.edited = 'true';
    else delete node.dataset.edited;
    if (m.expires_at) node.dataset.expiresAt = m.expires_at;
    else delete node.dataset.expiresAt;
    if (m.disappeared) node.dataset.disappeared = 'true';
    else delete node.dataset.disappeared;
    const mark = node.querySelector('.expires');
    if (mark) {
      const left = timeLeftText(m.expires_at, Date.now());
      mark.title = `Disappears ${left ? `in ${left} ` : ''}(${new Date(m.expires_at).toLocaleString()})`;
    }
    const t = node.querySelector('.tick');
    if (t) {
      const [glyph, title] = TICKS[tick] || ['', ''];
      t.dataset.tick = tick || '';
      t.textContent = glyph;
      t.title = title;
      t.setAttribute('aria-label', title);
      const retry = node.querySelector('[data-testid="message-retry"]');
      if (retry) retry.hidden = tick !== 'failed';
    }
  }

  _messageBody(m, own, isGroup, me, quote, name = (id) => id) {
    if (m.kind === 'system') return el('div', { class: 'system-text', testid: 'message-text', text: m.text || '' });
    const menu = m.pending ? null : el('button', { type: 'button', class: 'menu-btn', testid: 'message-menu-button',
      title: 'Message actions', 'aria-label': 'Message actions', 'aria-haspopup': 'menu', text: '⌄' });
    if (m.deleted) {
      return el('div', { class: 'bubble deleted' }, menu,
        isGroup && !own ? el('div', { class: 'sender', testid: 'message-sender', text: name(m.sender_id), title: `@${m.sender_id}` }) : null,
        el('div', { class: 'text', testid: 'message-deleted', text: m.disappeared ? 'This message disappeared' : 'This message was deleted' }));
    }
    const reactions = Object.entries(m.reactions || {});
    const who = (users) => users.map((u) => (u === me ? 'you' : name(u))).join(', ');
    return el(
      'div',
      { class: 'bubble' },
      menu,
      isGroup && !own ? el('div', { class: 'sender', testid: 'message-sender', text: name(m.sender_id), title: `@${m.sender_id}` }) : null,
      m.forwarded ? el('div', { class: 'forwarded', testid: 'message-forwarded', text: '↪ Forwarded' }) : null,
      quote
        ? el('div', { class: `quote${quote.deleted ? ' deleted' : ''}`, testid: 'message-quote', 'data-seq': quote.seq, role: 'link',
            tabindex: '0', title: 'Show the original message' },
            el('div', { class: 'quote-sender', testid: 'quote-sender', text: quote.sender_id === me ? 'You' : name(quote.sender_id) }),
            el('div', { class: 'quote-text', testid: 'quote-text',
              text: quote.deleted ? 'deleted message' : quote.text || KIND_LABEL[quote.kind] || '' }))
        : null,
      m.media || ['image', 'video', 'file'].includes(m.kind) ? this._media(m) : null,
      m.text ? el('div', { class: 'text', testid: 'message-text' }, ...mentionNodes(m.text, m.mentions, me)) : null,
      reactions.length
        ? el('div', { class: 'reactions', testid: 'message-reactions' },
            ...reactions.map(([emoji, users]) => el('button', {
              type: 'button',
              class: `reaction${users.includes(me) ? ' mine' : ''}`,
              testid: 'reaction',
              'data-emoji': emoji,
              'data-count': users.length,
              'data-mine': String(users.includes(me)),
              'data-users': users.join(','),
              title: `${who(users)} reacted with ${emoji}${users.includes(me) ? ' (click to remove yours)' : ''}`,
              text: `${emoji} ${users.length}`,
            })))
        : null,
      el(
        'div',
        { class: 'meta' },
        m.edited_at ? el('span', { class: 'edited', testid: 'message-edited', text: 'edited' }) : null,
        m.expires_at ? el('span', { class: 'expires', testid: 'message-expires', text: '◷', 'aria-label': 'Disappearing message' }) : null,
        el('time', { testid: 'message-time', datetime: m.sent_at || m.created_at || '', text: hhmm(m.sent_at || m.created_at) }),
        own ? el('span', { class: 'tick', testid: 'message-tick' }) : null,
        own && m.pending
          ? el('button', { type: 'button', class: 'link', testid: 'message-retry', 'data-client-msg-id': m.client_msg_id, text: 'Retry', hidden: true })
          : null,
      ),
      own && m.pending ? el('div', { class: 'send-error', testid: 'message-error', role: 'alert', hidden: true }) : null,
    );
  }

  _media(m) {
    const md = m.media;
    const label = { image: 'Image', video: 'Video' }[m.kind] || 'File';
    if (!md || !md.status || md.status === 'pending') {
      return el('div', { class: 'media-placeholder', testid: 'media-pending', 'data-media-id': md && md.media_id }, `${label} processing…`);
    }
    if (md.status === 'rejected') {
      return el('div', { class: 'media-placeholder rejected', testid: 'media-rejected' }, `${label} rejected: ${md.filename || ''}`);
    }
    const v = md.variants || {};
    const url = (name) => v[name] && safeUrl(v[name].url);
    if (m.kind === 'image') {
      const shown = v.small ? 'small' : v.thumb ? 'thumb' : null;
      const src = (shown && url(shown)) || safeUrl(md.url);
      return el('img', {
        class: 'thumb',
        testid: 'media-thumb',
        src,
        alt: md.filename || 'image',
        width: shown && v[shown].width,
        height: shown && v[shown].height,
        'data-full': url('large') || safeUrl(md.url) || src,
        'data-media-id': md.media_id,
        'data-variant': shown || 'original',
      });
    }
    if (m.kind === 'video') {
      const variant = v['720p'] ? '720p' : v['360p'] ? '360p' : null;
      return el('video', {
        class: 'video',
        testid: 'media-video',
        controls: true,
        preload: 'none',
        playsinline: true,
        poster: url('poster'),
        src: (variant && url(variant)) || safeUrl(md.url),
        'data-media-id': md.media_id,
        'data-variant': variant || 'original',
      });
    }
    return el(
      'a',
      {
        class: 'file',
        testid: 'media-file',
        href: safeUrl(md.url),
        download: md.filename || '',
        target: '_blank',
        rel: 'noopener noreferrer',
        'data-media-id': md.media_id,
      },
      `↓ ${md.filename || 'file'}`,
      el('span', { class: 'size', text: ` ${formatSize(md.size)}` }),
    );
  }
}
