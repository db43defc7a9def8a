// Where the client finds the server.
//
// Default: the same origin that served these files, i.e. REST at /api and the
// WebSocket at ws(s)://<host>/ws (the local stack, `make run`).
//
// For a deployed AWS stage, either fill in STAGE below (or have the deploy step
// write this file), or define `window.PARLEY_CONFIG = { apiBase, wsBase }` in a
// classic <script src="..."> placed before app.js in index.html. Both bases are
// used as given, without a trailing slash:
//   apiBase: 'https://{rest-id}.execute-api.{region}.amazonaws.com/api'
//   wsBase:  'wss://{ws-id}.execute-api.{region}.amazonaws.com/api'
const STAGE = {
  apiBase: '',
  wsBase: '',
};

const loc = globalThis.location;
const given = globalThis.PARLEY_CONFIG || {};
const trim = (s) => String(s).replace(/\/+$/, '');

export const API_BASE = trim(given.apiBase || STAGE.apiBase || '/api');
export const WS_BASE = trim(
  given.wsBase || STAGE.wsBase || `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`,
);
