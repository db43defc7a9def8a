// REST calls (PROTOCOL.md "Identity" and "REST mirror") and the presigned S3 upload.
import { API_BASE } from './config.js';

const CHATS_PAGE = 100; // the most GET /chats gives at once

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status; // 0 = network failure
    this.code = code;
  }
}

export async function call(method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    /* empty or non-JSON body */
  }
  if (!res.ok) {
    throw new ApiError(res.status, (data && data.code) || `http_${res.status}`, (data && data.message) || res.statusText);
  }
  return data;
}

export const signup = (username, password) => call('POST', '/auth/signup', { body: { username, password } });
export const login = (username, password) => call('POST', '/auth/login', { body: { username, password } });
export const refresh = (refreshToken) => call('POST', '/auth/refresh', { body: { refresh_token: refreshToken } });

/** Authenticated REST helpers; `request(method, path, body)` adds the token and retries once after a refresh. */
export function restClient(request) {
  const enc = encodeURIComponent;
  return {
    me: () => request('GET', '/me'),
    /** Every chat, `{chats}`, fetched a page at a time: each page's `next` is the cursor of the following one. */
    chats: async () => {
      const chats = [];
      let cursor = null;
      do {
        const page = await request('GET', `/chats?limit=${CHATS_PAGE}${cursor ? `&cursor=${enc(cursor)}` : ''}`);
        chats.push(...(page.chats || []));
        cursor = page.next;
      } while (cursor);
      return { chats };
    },
    chat: (id) => request('GET', `/chats/${enc(id)}`),
    createChat: (body) => request('POST', '/chats', body),
    receipts: (id) => request('GET', `/chats/${enc(id)}/receipts`),
    newUpload: (body) => request('POST', '/media', body),
    media: (id) => request('GET', `/media/${enc(id)}`),
    // account lifecycle: a POST carries `{}`, since a POST without a body is refused (415)
    logoutAll: () => request('POST', '/auth/logout_all', {}),
    deleteAccount: (password) => request('DELETE', '/me', { password }),
    requestExport: () => request('POST', '/me/export', {}),
    exportStatus: (id) => request('GET', `/me/export/${enc(id)}`),
    // people: profiles, settings, blocks, reports
    users: (ids) => request('GET', `/users?ids=${ids.map(enc).join(',')}`),
    updateProfile: (changes) => request('PUT', '/me/profile', changes),
    updateSettings: (changes) => request('PUT', '/me/settings', changes),
    blocks: () => request('GET', '/blocks'),
    block: (userId) => request('POST', '/blocks', { user_id: userId }),
    unblock: (userId) => request('DELETE', `/blocks/${enc(userId)}`),
    report: (body) => request('POST', '/reports', body),
  };
}

/**
 * POST a file to an S3 presigned POST (`url` + `fields`), reporting progress 0..1.
 * XMLHttpRequest because fetch has no upload progress. onStart(xhr) allows xhr.abort().
 */
export function uploadToPresignedPost(url, fields, file, onProgress, onStart) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields || {})) form.append(k, v);
    form.append('file', file); // S3 requires the file to be the last field
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        if (onProgress) onProgress(1);
        resolve();
      } else reject(new ApiError(xhr.status, 'upload_failed', `Upload failed (${xhr.status})`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'Upload failed: network error'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload aborted'));
    xhr.send(form);
    if (onStart) onStart(xhr); // lets the caller abort
  });
}
