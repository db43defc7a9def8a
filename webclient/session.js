// Tokens live in sessionStorage: one session per tab, so two tabs can be two users.
const KEY = 'parley.session';
const DEVICE_KEY = 'parley.device';

export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (s && s.user_id && s.id_token && s.refresh_token) return s;
  } catch {
    /* corrupt entry */
  }
  return null;
}

export function saveSession(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

/** A login reply (or a refresh reply merged into the session) with absolute expiry times. */
export function withExpiry(session, expiresIn) {
  const lifetimeMs = Math.max(1, Number(expiresIn) || 3600) * 1000;
  return { ...session, lifetime_ms: lifetimeMs, expires_at: Date.now() + lifetimeMs };
}

/** When to refresh: a minute (or a fifth of the lifetime, if shorter) before expiry. */
export function refreshDelay(session, now = Date.now()) {
  const lead = Math.min(60_000, (session.lifetime_ms || 3_600_000) / 5);
  return Math.max(0, session.expires_at - lead - now);
}

/** A per-tab device id for the WebSocket `device` parameter (at most 64 chars). */
export function deviceId() {
  let d = sessionStorage.getItem(DEVICE_KEY);
  if (!d) {
    d = `web-${randomId()}`;
    sessionStorage.setItem(DEVICE_KEY, d);
  }
  return d;
}

/** A random id (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function randomId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
