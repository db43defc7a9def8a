// Mutes and browser notifications as pure logic (PROTOCOL.md "Push notifications to devices without a live
// socket"): the mute choices and the `until` each sends, how a mute reads, which live messages raise a browser
// notification and what it says. No DOM, no network, no timers: the caller passes the time and the browser's
// state, so `node --test` covers every rule.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The mute choices the chat header offers. `forever` is a far-off time: the protocol has no "forever". */
export const MUTE_CHOICES = [
  { id: '8h', label: 'For 8 hours', ms: 8 * HOUR },
  { id: '1w', label: 'For 1 week', ms: 7 * DAY },
  { id: 'forever', label: 'Until I turn it back on', years: 100 },
];

/** A mute ending further off than this was meant as "until I turn it back on", and reads so. */
export const FOREVER_AFTER_MS = 10 * 365 * DAY;

const parse = (iso) => {
  const t = Date.parse(iso || '');
  return Number.isNaN(t) ? 0 : t;
};

/** An ISO 8601 UTC time to the second ("2026-12-05T06:00:00Z"), as the server writes `muted_until`. */
export const isoSeconds = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** The `until` of a `mute` for one of MUTE_CHOICES, from `now` (ms); null for an unknown choice. */
export function muteUntil(choiceId, now) {
  const c = MUTE_CHOICES.find((x) => x.id === choiceId);
  if (!c) return null;
  if (c.years) {
    const d = new Date(now);
    d.setUTCFullYear(d.getUTCFullYear() + c.years);
    return isoSeconds(d.getTime());
  }
  return isoSeconds(now + c.ms);
}

/** Whether a `muted_until` (ISO, or null) still holds at `now` by this device's clock. */
export const mutedAt = (mutedUntil, now) => parse(mutedUntil) > now;

/** How a mute reads: "Muted until 14:05", "… until Tue 14:05", "… until 5 Dec 2026, 14:05", or "… you turn it back on". */
export function muteText(mutedUntil, now, locale = undefined) {
  const t = parse(mutedUntil);
  if (t <= now) return '';
  if (t - now > FOREVER_AFTER_MS) return 'Muted until you turn it back on';
  const d = new Date(t);
  const time = d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === new Date(now).toDateString()) return `Muted until ${time}`;
  if (t - now < 6 * DAY) return `Muted until ${d.toLocaleDateString(locale, { weekday: 'short' })} ${time}`;
  return `Muted until ${d.toLocaleDateString(locale, { day: 'numeric', month: 'short', year: 'numeric' })}, ${time}`;
}

// ---- browser notifications --------------------------------------------------------

/** The kinds that notify, as they push: not relations (edit, delete, reaction), not `system`. */
export const NOTIFY_KINDS = new Set(['text', 'image', 'video', 'file']);
export const BODY_CHARS = 100;
const LABELS = { text: 'New message', image: 'Photo', video: 'Video', file: 'File' };

/**
 * Whether a message that arrived live raises a browser notification: the page is hidden, permission is granted,
 * someone else sent a text or media message, and the chat is not muted unless the message mentions this user.
 * @param {object} m  the message
 * @param {{me: string, hidden: boolean, permission: string, muted: boolean}} o
 */
export function shouldNotify(m, { me, hidden, permission, muted }) {
  if (!m || permission !== 'granted' || !hidden) return false;
  if (!m.sender_id || m.sender_id === me || !NOTIFY_KINDS.has(m.kind) || m.deleted) return false;
  return !muted || (Array.isArray(m.mentions) && m.mentions.includes(me));
}

/**
 * What the notification says: title = the sender (`name`: their display name, else their id); body = the text's first 100 code points (a caption counts),
 * else what was sent ("Photo", "File: plan.pdf"); tag = the chat, so one chat's notifications replace each other.
 * `previews: false` (the user's `push_previews` setting) keeps the text out.
 */
export function notificationFor(m, { previews = true, name: senderName = '' } = {}) {
  const text = previews && typeof m.text === 'string' ? [...m.text].slice(0, BODY_CHARS).join('') : '';
  const name = m.kind === 'file' && m.media && m.media.filename ? `File: ${m.media.filename}` : null;
  const body = text.trim() ? text : (previews && name) || LABELS[m.kind] || LABELS.text;
  return { title: senderName || m.sender_id, body, tag: m.chat_id };
}

/**
 * The "Enable notifications" control for the browser's state: `unsupported` (no Notification API: nothing shown),
 * `default` (may ask, from a click), `granted`, `denied` (the browser's site settings decide).
 * @param {object|undefined} api  window.Notification
 */
export function notificationState(api) {
  if (typeof api !== 'function') return 'unsupported';
  const p = api.permission;
  return p === 'granted' || p === 'denied' ? p : 'default';
}

/** The control's label and hint per state. */
export const NOTIFY_CONTROL = {
  default: { label: 'Enable notifications', hint: 'Show a notification for new messages while this tab is in the background' },
  granted: { label: 'Notifications are on', hint: 'Turn them off in the browser’s site settings' },
  denied: { label: 'Notifications are blocked', hint: 'Allow them in the browser’s site settings' },
};
