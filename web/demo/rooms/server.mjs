// The app server of the Telnyx-style demo (web/demo/rooms/): what a Telnyx Video app's own
// server does, against a Parlor server's Rooms REST API (/v2) instead of api.telnyx.com. It
// serves the page and three JSON endpoints, with the API key and secret kept here:
//
//   POST /api/rooms                 {name}                    → {id, unique_name}  (found or created)
//   POST /api/client_token          {room_id}                 → {token, token_expires_at, refresh_token, refresh_token_expires_at}
//   POST /api/refresh_client_token  {room_id, refresh_token}  → {token, token_expires_at}
//
// Run it beside `parlor serve` (no npm packages needed):
//   PARLOR_URL=http://127.0.0.1:7600 PARLOR_API_KEY=<key> PARLOR_API_SECRET=<secret> \
//     node web/demo/rooms/server.mjs            # then open http://127.0.0.1:3000/
// PORT (default 3000) and HOST (default 127.0.0.1) pick where it listens. The page loads
// the SDK from PARLOR_URL (/sdk/parlor.js), so its default server is that Parlor server.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Join tokens live this long; the page refreshes them 20 s before (as Telnyx apps do). */
export const TOKEN_TTL_SECS = 60;
const REFRESH_TOKEN_TTL_SECS = 3600;
const FILES = {
  '/': ['index.html', 'text/html'],
  '/index.html': ['index.html', 'text/html'],
  '/app.js': ['app.js', 'text/javascript'],
  '/app.css': ['app.css', 'text/css'],
};

/**
 * Starts the app server; resolves with `{ url, close() }`. `parlorUrl`: the Parlor server;
 * `apiKey`/`apiSecret`: its project's credentials (sent as `Bearer key:secret`).
 */
export async function startAppServer({ parlorUrl, apiKey, apiSecret, port = 3000, host = '127.0.0.1', tokenTtlSecs = TOKEN_TTL_SECS }) {
  const base = parlorUrl.replace(/\/+$/, '');
  const rooms = async (method, p, body) => {
    const r = await fetch(`${base}/v2${p}`, {
      method,
      headers: { Authorization: `Bearer ${apiKey}:${apiSecret}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await r.json().catch(() => ({}));
    if (!r.ok) {
      const e = json.errors?.[0];
      throw Object.assign(new Error(e ? `${e.title}: ${e.detail ?? ''}` : `Rooms API ${r.status}`), { status: r.status });
    }
    return json.data;
  };

  const api = {
    async '/api/rooms'({ name }) {
      const unique = String(name || '').trim().slice(0, 64) || `room-${Date.now().toString(36)}`;
      const found = await rooms('GET', `/rooms?filter[unique_name]=${encodeURIComponent(unique)}`);
      const room = found[0] ?? (await rooms('POST', '/rooms', { unique_name: unique, max_participants: 10 }));
      return { id: room.id, unique_name: room.unique_name };
    },
    async '/api/client_token'({ room_id }) {
      return rooms('POST', `/rooms/${encodeURIComponent(room_id)}/actions/generate_join_client_token`, {
        token_ttl_secs: tokenTtlSecs,
        refresh_token_ttl_secs: REFRESH_TOKEN_TTL_SECS,
      });
    },
    async '/api/refresh_client_token'({ room_id, refresh_token }) {
      return rooms('POST', `/rooms/${encodeURIComponent(room_id)}/actions/refresh_client_token`, {
        refresh_token,
        token_ttl_secs: tokenTtlSecs,
      });
    },
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const send = (status, type, body) => res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store' }).end(body);
    try {
      if (req.method === 'GET' && FILES[url.pathname]) {
        const [file, type] = FILES[url.pathname];
        const text = readFileSync(path.join(here, file), 'utf8').replaceAll('{{PARLOR}}', base).replaceAll('{{TOKEN_TTL}}', String(tokenTtlSecs));
        return send(200, type, text);
      }
      const handler = req.method === 'POST' ? api[url.pathname] : undefined;
      if (!handler) return send(404, 'application/json', JSON.stringify({ message: 'not found' }));
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const data = await handler(raw ? JSON.parse(raw) : {});
      return send(200, 'application/json', JSON.stringify(data));
    } catch (e) {
      return send(e.status && e.status < 500 ? e.status : 502, 'application/json', JSON.stringify({ message: e.message }));
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: actual } = server.address();
  return {
    url: `http://${host}:${actual}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { PARLOR_URL = 'http://127.0.0.1:7600', PARLOR_API_KEY, PARLOR_API_SECRET, PORT = '3000', HOST = '127.0.0.1' } = process.env;
  if (!PARLOR_API_KEY || !PARLOR_API_SECRET) {
    console.error('set PARLOR_API_KEY and PARLOR_API_SECRET (the Parlor project the Rooms API authenticates)');
    process.exit(2);
  }
  const app = await startAppServer({ parlorUrl: PARLOR_URL, apiKey: PARLOR_API_KEY, apiSecret: PARLOR_API_SECRET, port: Number(PORT), host: HOST });
  console.log(`Telnyx-style demo on ${app.url} (Parlor: ${PARLOR_URL})`);
}
