// Account and chat settings as pure logic (PROTOCOL.md "Account lifecycle"): the choices of disappearing
// messages, how long until a message disappears, and polling an export until its file is written.
// No DOM and no network: the caller passes the REST call, the sleep and the time, so `node --test` covers it.

/** What `update_chat` accepts as `disappear_after` (null turns it off), with the labels the client shows. */
export const DISAPPEAR_OPTIONS = [
  { seconds: null, label: 'Off' },
  { seconds: 86_400, label: '24 hours' },
  { seconds: 604_800, label: '7 days' },
  { seconds: 7_776_000, label: '90 days' },
];

/** A chat's `disappear_after` as one of the choices: a value the client does not know reads as its seconds. */
export function disappearLabel(seconds) {
  if (seconds === null || seconds === undefined) return 'Off';
  const known = DISAPPEAR_OPTIONS.find((o) => o.seconds === seconds);
  return known ? known.label : `${seconds} s`;
}

/** The `disappear_after` of a <select>'s value ('' is off); null for a value that is no choice. */
export function disappearFromValue(value) {
  if (value === '' || value === null || value === undefined) return { seconds: null };
  const n = Number(value);
  return DISAPPEAR_OPTIONS.some((o) => o.seconds === n) ? { seconds: n } : null;
}

/** How long until `expiresAt` (ISO 8601): "45 min", "23 h", "7 days"; '' when unknown or past. */
export function timeLeftText(expiresAt, now) {
  const t = Date.parse(expiresAt || '');
  if (Number.isNaN(t) || t <= now) return '';
  const left = t - now;
  if (left <= 60 * 60_000) return `${Math.ceil(left / 60_000)} min`;
  if (left <= 48 * 3_600_000) return `${Math.ceil(left / 3_600_000)} h`;
  return `${Math.ceil(left / 86_400_000)} days`;
}

// ---- export --------------------------------------------------------------------

/** Polls of an export's status: every second at first, then slower; about 2.5 minutes in all. */
export const EXPORT_MAX_POLLS = 40;

/** How long to wait before poll number `attempt` (0-based). */
export function exportPollDelay(attempt) {
  if (attempt < 5) return 1_000;
  if (attempt < 10) return 2_000;
  return 5_000;
}

export class ExportError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code; // cancelled | timeout | failed
  }
}

/** A failed status read worth trying again (the network, throttling, a server hiccup); the rest end the export. */
const transient = (e) => !e || e.status === 0 || e.status === 429 || e.status >= 500;

/**
 * Poll an export until it is ready; answers its URL.
 * @param {() => Promise<{status, url?}>} getStatus  GET /api/me/export/{export_id}
 * @param {object} o
 * @param {(ms: number) => Promise<void>} o.sleep
 * @param {(attempt: number, status: object|null) => void} [o.onPoll]  after each poll that is not the last
 * @param {() => boolean} [o.cancelled]  checked around every wait and read
 */
export async function pollExport(getStatus, { sleep, onPoll = () => {}, cancelled = () => false,
  maxPolls = EXPORT_MAX_POLLS, delay = exportPollDelay } = {}) {
  const stop = () => {
    if (cancelled()) throw new ExportError('cancelled', 'The export was cancelled.');
  };
  for (let attempt = 0; attempt < maxPolls; attempt++) {
    await sleep(delay(attempt));
    stop();
    let state = null;
    try {
      state = await getStatus();
    } catch (e) {
      stop();
      if (!transient(e)) throw new ExportError('failed', e.message || 'The export failed.');
    }
    stop();
    if (state && state.status === 'ready') {
      if (typeof state.url === 'string' && state.url) return state.url;
      throw new ExportError('failed', 'The export is ready but has no link.');
    }
    if (state && state.status !== 'pending') throw new ExportError('failed', `Unexpected export status: ${state.status}`);
    onPoll(attempt + 1, state);
  }
  throw new ExportError('timeout', 'The export is taking too long. Please try again later.');
}
