/**
 * A static file server for the browser test: the built site, as any web
 * server would serve it (no Vite in between).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  '.safetensors': 'application/octet-stream', '.svg': 'image/svg+xml', '.png': 'image/png',
};

/** A running server; `close` stops it. */
export interface StaticServer {
  /** e.g. `http://127.0.0.1:40123/`. */
  url: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Serves `root` on a free local port.
 *
 * @param root - the folder.
 * @param isolated - send the headers that make the page cross-origin isolated (COOP/COEP), as some hosts do.
 * @defaultValue isolated false
 */
export async function serveStatic(root: string, isolated = false): Promise<StaticServer> {
  const extra: Record<string, string> = isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    const file = path.resolve(root, rel);
    if (!file.startsWith(path.resolve(root)) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', ...extra });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
