import test from 'node:test';
import assert from 'node:assert/strict';

globalThis.location = { protocol: 'http:', host: 'x' }; // config.js reads the page's origin
const { restClient } = await import('../api.js');

test('the chat list is fetched a page of 100 at a time, following next until it is absent', async () => {
  const asked = [];
  const pages = {
    '/chats?limit=100': { chats: [{ chat_id: 'a' }, { chat_id: 'b' }], next: 'c/2=' },
    '/chats?limit=100&cursor=c%2F2%3D': { chats: [{ chat_id: 'c' }] },
  };
  const rest = restClient(async (method, path) => {
    asked.push(`${method} ${path}`);
    return pages[path];
  });
  const r = await rest.chats();
  assert.deepEqual(r.chats.map((c) => c.chat_id), ['a', 'b', 'c']);
  assert.deepEqual(asked, ['GET /chats?limit=100', 'GET /chats?limit=100&cursor=c%2F2%3D']);
});
