// The people and group dialogs: one's profile, privacy settings, reporting a message, a group's info panel, and the
// invite link's join status. Rendering only, as ui.js: text through textContent and attributes, never innerHTML.
// What they send goes through the handlers (app.js); each answers a promise whose error the dialog shows.
import { el, setAvatar } from './ui.js';
import { REPORT_CATEGORIES, groupRights, inviteExpiryText, memberRows, userAvatar } from './people.js';

const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

function say(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

const AVATAR_STATUS = {
  uploading: (job) => `Uploading… ${Math.round((job.progress || 0) * 100)} %`,
  processing: () => 'Processing the picture…',
  saving: () => 'Saving…',
  done: () => 'Picture updated.',
  error: (job) => job.error || 'The picture could not be used.',
};

/** An avatar upload's state in a status line: data-state = uploading/processing/saving/done/error ('' when none). */
function showJob(node, job) {
  node.dataset.state = job ? job.state : '';
  say(node, job ? AVATAR_STATUS[job.state](job) : '');
}

export class Panels {
  constructor(h) {
    this.h = h;
    this.profileDialog = $('profile-dialog');
    this.settingsDialog = $('settings-dialog');
    this.reportDialog = $('report-dialog');
    this.groupDialog = $('group-dialog');
    this.profile = null; // the profile the editor was filled from
    this.settings = null; // the settings the panel was filled from
    this.reportFor = null; // {chatId, seq}
    this.groupChat = null; // chat_id of the open info panel
    this.dirty = new Set(); // group form fields the user typed in since they were filled
    this._busy = new Set();
    $('report-category').replaceChildren(...REPORT_CATEGORIES.map((c) => el('option', { value: c.id, text: c.label })));
    this._wire();
  }

  _wire() {
    const h = this.h;
    // profile
    $('profile-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this._run('profile', $('profile-save'), $('profile-error'), () => h.saveProfile({
        display_name: $('profile-display-name').value,
        about: $('profile-about').value,
      }), (profile) => {
        if (profile) this.fillProfile(profile);
        $('profile-saved').hidden = false;
      });
    });
    for (const id of ['profile-display-name', 'profile-about']) $(id).addEventListener('input', () => ($('profile-saved').hidden = true));
    $('profile-close').addEventListener('click', () => this.closeProfile());
    $('profile-avatar-change').addEventListener('click', () => $('profile-avatar-input').click());
    $('profile-avatar-input').addEventListener('change', () => {
      const input = $('profile-avatar-input');
      const [file] = input.files;
      input.value = '';
      if (file) h.uploadAvatar('profile', file);
    });
    $('profile-avatar-remove').addEventListener('click', () => h.removeAvatar('profile'));

    // settings
    $('settings-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this._run('settings', $('settings-save'), $('settings-error'), () => h.saveSettings(this.settingsForm()), (settings) => {
        if (settings) this.fillSettings(settings);
        $('settings-saved').hidden = false;
      });
    });
    this.settingsDialog.addEventListener('change', () => ($('settings-saved').hidden = true));
    $('settings-close').addEventListener('click', () => this.closeSettings());

    // report
    $('report-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const r = this.reportFor;
      if (!r || !$('report-done').hidden) return;
      this._run('report', $('report-submit'), $('report-error'),
        () => h.sendReport(r.chatId, r.seq, $('report-category').value, $('report-details').value), () => {
          $('report-done').hidden = false;
          $('report-submit').hidden = true;
          $('report-cancel').textContent = 'Close';
          $('report-cancel').focus();
        });
    });
    $('report-cancel').addEventListener('click', () => this.closeReport());

    // group info
    const group = () => this.groupChat;
    $('group-info-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const chatId = group();
      if (!chatId) return;
      this._run('group-info', $('group-info-save'), $('group-error'),
        () => h.updateGroupInfo(chatId, { name: $('group-name').value, description: $('group-description').value }),
        () => {
          this.dirty.clear();
          this.h.render();
        });
    });
    for (const id of ['group-name', 'group-description']) $(id).addEventListener('input', () => this.dirty.add(id));
    for (const [id, key] of [['group-send', 'send'], ['group-edit-info', 'edit_info']]) {
      $(id).addEventListener('change', () => {
        const chatId = group();
        if (!chatId) return;
        this._run(id, $(id), $('group-error'), () => h.updateGroupSettings(chatId, { [key]: $(id).value }),
          () => {}, () => this.h.render()); // a refusal puts the select back from the chat
      });
    }
    $('group-members').addEventListener('click', (e) => {
      const b = e.target.closest('[data-testid="member-role-toggle"]');
      const chatId = group();
      if (!b || !chatId || b.disabled) return;
      this._run(`role:${b.dataset.userId}`, b, $('group-error'), () => h.setRole(chatId, b.dataset.userId, b.dataset.role), () => {});
    });
    $('group-invite-create').addEventListener('click', () => {
      const chatId = group();
      if (chatId) this._run('invite', $('group-invite-create'), $('group-error'), () => h.createInvite(chatId), () => $('group-invite-link').select());
    });
    $('group-invite-revoke').addEventListener('click', () => {
      const chatId = group();
      if (chatId) this._run('revoke', $('group-invite-revoke'), $('group-error'), () => h.revokeInvite(chatId), () => {});
    });
    $('group-invite-copy').addEventListener('click', () => this._copyInvite());
    $('group-close').addEventListener('click', () => this.closeGroup());
    $('group-avatar-change').addEventListener('click', () => $('group-avatar-input').click());
    $('group-avatar-input').addEventListener('change', () => {
      const input = $('group-avatar-input');
      const [file] = input.files;
      input.value = '';
      if (file && group()) h.uploadAvatar(group(), file);
    });
    $('group-avatar-remove').addEventListener('click', () => group() && h.removeAvatar(group()));

    // join status
    $('join-dismiss').addEventListener('click', () => this.setJoin(null));

    // Escape, or a click beside the card, closes a dialog
    const closers = [
      [this.profileDialog, () => this.closeProfile()],
      [this.settingsDialog, () => this.closeSettings()],
      [this.reportDialog, () => this.closeReport()],
      [this.groupDialog, () => this.closeGroup()],
    ];
    for (const [dialog, close] of closers) dialog.addEventListener('click', (e) => e.target === dialog && close());
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      for (const [dialog, close] of closers) if (!dialog.hidden) close();
    });
  }

  /**
   * Run a request for a control: the control is disabled meanwhile, an error shows in `errorNode`, `done` gets the
   * result. `always` runs after either. One request per key at a time.
   */
  async _run(key, control, errorNode, call, done, always = () => {}) {
    if (this._busy.has(key)) return;
    this._busy.add(key);
    say(errorNode, '');
    if (control) control.disabled = true;
    try {
      done(await call());
    } catch (e) {
      say(errorNode, (e && e.message) || 'Something went wrong.');
    } finally {
      this._busy.delete(key);
      if (control) control.disabled = false;
      always();
      this.h.render();
    }
  }

  get busyKeys() {
    return this._busy;
  }

  // ---- profile -------------------------------------------------------------------------

  openProfile(userId) {
    this.closeAll();
    $('profile-user-id').textContent = userId;
    say($('profile-error'), '');
    $('profile-saved').hidden = true;
    this.profileDialog.hidden = false;
    $('profile-display-name').focus();
  }

  /** Fill the editor from the profile the server answered (GET /api/me, PUT /api/me/profile). */
  fillProfile(profile) {
    this.profile = profile || {};
    $('profile-display-name').value = this.profile.display_name || '';
    $('profile-about').value = this.profile.about || '';
  }

  /** Fill it again from a fresher profile, unless the user has typed since it was filled from `before`. */
  refillProfile(before, profile) {
    const same = $('profile-display-name').value === ((before && before.display_name) || '')
      && $('profile-about').value === ((before && before.about) || '');
    if (same) this.fillProfile(profile);
    else this.profile = profile || {};
  }

  setProfileError(message) {
    say($('profile-error'), message);
  }

  closeProfile() {
    this.profileDialog.hidden = true;
  }

  /** The picture (the upload's preview while it is processed) and the upload's state. */
  _renderProfile(v) {
    const me = v.store.me;
    const job = v.avatarJobs.get('profile');
    const a = userAvatar({ avatarUrl: v.people.userAvatar, name: v.people.name }, me);
    const preview = job && job.state !== 'error' && job.state !== 'done' && job.preview;
    setAvatar($('profile-avatar'), preview ? { ...a, url: preview } : a);
    $('profile-avatar').dataset.pending = String(!!preview);
    showJob($('profile-avatar-status'), job);
    const busy = !!job && ['uploading', 'processing', 'saving'].includes(job.state);
    $('profile-avatar-change').disabled = busy;
    $('profile-avatar-remove').hidden = !v.people.userAvatar(me) || busy;
  }

  // ---- settings -------------------------------------------------------------------------

  openSettings() {
    this.closeAll();
    say($('settings-error'), '');
    $('settings-saved').hidden = true;
    this.settings = null;
    $('settings-save').disabled = true; // until the current settings are in (GET /api/me)
    this.settingsDialog.hidden = false;
    $('settings-last-seen').focus();
  }

  fillSettings(settings) {
    this.settings = settings;
    $('settings-last-seen').value = settings.last_seen;
    $('settings-read-receipts').checked = !!settings.read_receipts;
    $('settings-groups-add').value = settings.groups_add;
    $('settings-push-previews').checked = !!settings.push_previews;
    $('settings-save').disabled = false;
    this.settingsDialog.dataset.loaded = 'true';
  }

  setSettingsError(message) {
    say($('settings-error'), message);
  }

  settingsForm() {
    return {
      last_seen: $('settings-last-seen').value,
      read_receipts: $('settings-read-receipts').checked,
      groups_add: $('settings-groups-add').value,
      push_previews: $('settings-push-previews').checked,
    };
  }

  closeSettings() {
    this.settingsDialog.hidden = true;
    delete this.settingsDialog.dataset.loaded;
  }

  // ---- report ----------------------------------------------------------------------------

  /** The reason dialog for a message: {chatId, seq, sender (a name), text (what it says)}. */
  openReport({ chatId, seq, sender, text }) {
    this.closeAll();
    this.reportFor = { chatId, seq };
    const preview = $('report-preview');
    preview.replaceChildren(el('strong', { text: sender }), el('span', { text: text ? `: ${text}` : '' }));
    $('report-category').value = REPORT_CATEGORIES[0].id;
    $('report-details').value = '';
    say($('report-error'), '');
    $('report-done').hidden = true;
    $('report-submit').hidden = false;
    $('report-submit').disabled = false;
    $('report-cancel').textContent = 'Cancel';
    this.reportDialog.dataset.chatId = chatId;
    this.reportDialog.dataset.seq = String(seq);
    this.reportDialog.hidden = false;
    $('report-category').focus();
  }

  closeReport() {
    this.reportDialog.hidden = true;
    this.reportFor = null;
  }

  // ---- group info -------------------------------------------------------------------------

  openGroup(chatId) {
    this.closeAll();
    this.groupChat = chatId;
    this.dirty.clear();
    say($('group-error'), '');
    this.groupDialog.dataset.chatId = chatId;
    this.groupDialog.hidden = false;
    this._filled = null;
  }

  closeGroup() {
    this.groupDialog.hidden = true;
    this.groupChat = null;
    delete this.groupDialog.dataset.chatId;
  }

  setGroupError(message) {
    say($('group-error'), message);
  }

  _renderGroup(v) {
    const { store, people, now } = v;
    const chatId = this.groupChat;
    const chat = chatId ? store.chat(chatId) : null;
    if (!chat || chat.kind !== 'group') return this.closeGroup();
    const rights = groupRights(chat, store.me);
    this.groupDialog.dataset.admin = String(rights.admin);

    // picture, name and description: as edit_info allows
    const job = v.avatarJobs.get(chatId);
    const a = people.chatAvatar(chatId);
    const preview = job && job.state !== 'error' && job.state !== 'done' && job.preview;
    setAvatar($('group-avatar'), preview ? { ...a, url: preview } : a);
    showJob($('group-avatar-status'), job);
    const busyPicture = !!job && ['uploading', 'processing', 'saving'].includes(job.state);
    $('group-avatar-change').disabled = !rights.editInfo || busyPicture;
    $('group-avatar-remove').hidden = !chat.avatar_media_id;
    $('group-avatar-remove').disabled = !rights.editInfo || busyPicture;
    const name = $('group-name');
    const description = $('group-description');
    // the fields follow the chat (another member's change) unless the user is typing in them
    if (!this.dirty.has('group-name') && document.activeElement !== name) name.value = chat.name || '';
    if (!this.dirty.has('group-description') && document.activeElement !== description) description.value = chat.description || '';
    const infoBusy = this._busy.has('group-info');
    name.disabled = description.disabled = !rights.editInfo;
    $('group-info-save').disabled = !rights.editInfo || infoBusy;
    $('group-info-save').hidden = !rights.editInfo;
    $('group-info-note').hidden = rights.editInfo;

    // settings: admins only
    const settings = { send: 'all', edit_info: 'all', ...(chat.settings || {}) };
    for (const [id, key] of [['group-send', 'send'], ['group-edit-info', 'edit_info']]) {
      const select = $(id);
      if (!this._busy.has(id)) select.value = settings[key];
      select.dataset.value = settings[key];
      select.disabled = !rights.changeSettings || this._busy.has(id);
    }
    $('group-settings-note').hidden = rights.changeSettings;

    // the invite link: admins make and revoke it; the server lists none, so this tab knows the one it made
    const invite = v.invites.get(chatId);
    $('group-invite').hidden = !invite;
    $('group-invite-link').value = invite ? invite.link : '';
    say($('group-invite-expires'), invite ? inviteExpiryText(invite.expires_at, now) : '');
    $('group-invite-create').disabled = !rights.admin || this._busy.has('invite');
    $('group-invite-create').textContent = invite ? 'Create a new link' : 'Create link';
    $('group-invite-revoke').hidden = !invite;
    $('group-invite-revoke').disabled = !rights.admin || this._busy.has('revoke');
    $('group-invite-hint').textContent = rights.admin ? 'Anyone with the link can join the group.' : 'Only admins can make invite links.';

    // members with their roles; admins make others admins or members again
    const rows = memberRows(chat, people, store.me);
    $('group-member-count').textContent = `${rows.length} member${rows.length === 1 ? '' : 's'}`;
    const list = $('group-members');
    const existing = new Map([...list.children].map((li) => [li.dataset.userId, li]));
    const keep = new Set();
    let prev = null;
    for (const r of rows) {
      keep.add(r.user_id);
      let li = existing.get(r.user_id);
      if (!li) {
        li = el('li', { class: 'member', testid: 'group-member' },
          el('span', { class: 'avatar' }),
          el('span', { class: 'member-main' },
            el('span', { class: 'member-name', testid: 'member-name' }),
            el('span', { class: 'member-id', testid: 'member-id' })),
          el('span', { class: 'member-role', testid: 'member-role' }),
          el('button', { type: 'button', class: 'link', testid: 'member-role-toggle' }));
        li.dataset.userId = r.user_id;
      }
      li.dataset.role = r.role;
      setAvatar(li.querySelector('.avatar'), userAvatar({ avatarUrl: people.userAvatar, name: people.name }, r.user_id));
      li.querySelector('.member-name').textContent = r.me ? `${r.name} (you)` : r.name;
      li.querySelector('.member-id').textContent = `@${r.user_id}`;
      const role = li.querySelector('.member-role');
      role.textContent = r.role === 'admin' ? 'admin' : '';
      role.hidden = r.role !== 'admin';
      const toggle = li.querySelector('[data-testid="member-role-toggle"]');
      const next = r.role === 'admin' ? 'member' : 'admin';
      toggle.dataset.userId = r.user_id;
      toggle.dataset.role = next;
      toggle.textContent = next === 'admin' ? 'Make admin' : 'Remove admin';
      toggle.hidden = r.me && !rights.admin; // a member sees no button on their own row
      toggle.disabled = !rights.manageMembers || this._busy.has(`role:${r.user_id}`);
      toggle.title = rights.manageMembers ? '' : 'Only admins change roles';
      const ref = prev ? prev.nextSibling : list.firstChild;
      if (li !== ref) list.insertBefore(li, ref);
      prev = li;
    }
    for (const [id, li] of existing) if (!keep.has(id)) li.remove();
  }

  async _copyInvite() {
    const input = $('group-invite-link');
    input.select();
    let ok = false;
    try {
      await navigator.clipboard.writeText(input.value);
      ok = true;
    } catch {
      try {
        ok = document.execCommand('copy'); // older browsers, or no clipboard permission
      } catch {
        ok = false;
      }
    }
    const b = $('group-invite-copy');
    b.textContent = ok ? 'Copied' : 'Select and copy';
    clearTimeout(this._copyTimer);
    this._copyTimer = setTimeout(() => (b.textContent = 'Copy'), 2_000);
  }

  // ---- joining by link ----------------------------------------------------------------------

  /** The join status: null hides it; {state: joining|error, text}. */
  setJoin(s) {
    const box = $('join-status');
    box.hidden = !s;
    box.dataset.state = s ? s.state : '';
    $('join-text').textContent = s ? s.text : '';
    $('join-dismiss').hidden = !s || s.state === 'joining';
  }

  // ---- all ----------------------------------------------------------------------------------

  closeAll() {
    this.closeProfile();
    this.closeSettings();
    this.closeReport();
    this.closeGroup();
  }

  /** Redraw what the open dialogs show from the state (a chat changed, a profile or an upload moved on). */
  render(v) {
    if (!this.profileDialog.hidden) this._renderProfile(v);
    if (!this.groupDialog.hidden) this._renderGroup(v);
  }
}
