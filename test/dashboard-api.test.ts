import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { HttpBackend } from './support/http-backend.js';
import { startGateway, type RunningGateway } from './support/gateway.js';
import { backendViews, describeChanges, FleetHistory, HISTORY_LENGTH } from '../control-plane/dashboard/fleet-history.js';
import { parseBackendUrl } from '../core/backend-url.js';
import type { Backend } from '../core/model.js';

// The dashboard's server side: the change descriptions of the snapshot history (pure), and the page,
// its assets and the event stream served on the gateway's own port in embedded mode.

function backend(name: Backend['name'], url: string): Backend {
  const parsed = parseBackendUrl(url);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return { name, url, target: parsed.target, enableKeepalive: true, tls: { enabled: false, caPath: '', certPath: '', keyPath: '', serverName: '', insecureSkipVerify: false }, timeoutMs: 1000 };
}

describe('snapshot history in words', () => {
  const dist = backend('distributor', 'dns:///distributor:9095');
  const key = 'dns:///distributor:9095';
  const eps = (...last: number[]) => new Map([[key, last.map((n) => ({ address: `127.0.0.${n}`, port: 9095 }))]]);

  it('says what changed: endpoints in and out, a URL moved, backends added and removed', () => {
    const a = backendViews([dist, backend('query_frontend', 'http://a:8080')], eps(2, 3, 4));
    const b = backendViews([dist, backend('query_frontend', 'http://b:8080'), backend('ruler', 'http://r:80')], eps(2, 3, 5));
    expect(describeChanges(a, b)).toEqual([
      'distributor: +127.0.0.5:9095 -127.0.0.4:9095',
      'query_frontend url http://a:8080 → http://b:8080',
      'ruler: added, url http://r:80 (1 endpoints)',
    ]);
    expect(describeChanges(b, a)).toContain('ruler: removed (was http://r:80)');
    expect(a[0]!.endpoints[0]).toEqual({ address: '127.0.0.2:9095', source: 'dns distributor' });
  });

  it('keeps the last 50, newest first, and skips publishes that changed no version', () => {
    let t = 0;
    const h = new FleetHistory(() => ++t * 1000);
    h.published([dist], eps(2), { Cluster: 'c0' });
    h.published([dist], eps(2), { Cluster: 'c0' });
    expect(h.history()).toHaveLength(1);
    expect(h.history()[0]!.changes[0]).toBe('first snapshot: distributor (1)');
    for (let i = 1; i <= 60; i++) h.published([dist], eps(2, 2 + (i % 2)), { ClusterLoadAssignment: `e${i}` });
    expect(h.history()).toHaveLength(HISTORY_LENGTH);
    expect(h.history()[0]!.versions).toEqual({ ClusterLoadAssignment: 'e60' });
    expect(h.history()[0]!.changes).toEqual(['distributor: -127.0.0.3:9095']);
  });
});

describe('dashboard on the gateway port in embedded mode', () => {
  let qf: HttpBackend;
  let gw: RunningGateway;
  const dir = mkdtempSync(join(tmpdir(), 'mgw-dash-'));
  beforeAll(async () => {
    qf = await HttpBackend.start('qf');
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `gateway:\n  proxy:\n    default: { url: "${qf.url}" }\n`);
    gw = await startGateway([`-config.file=${file}`]);
  });
  afterAll(async () => {
    await gw?.stop();
    await qf?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page and its assets from the package (uPlot included), and 404 for anything else', async () => {
    const page = await request(`${gw.url}/control-plane/`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const html = await page.body.text();
    for (const asset of html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)) {
      const res = await request(`${gw.url}/control-plane/${asset[1]}`);
      expect(res.statusCode, asset[1]).toBe(200);
      expect((await res.body.text()).length).toBeGreaterThan(100);
    }
    expect(html).toContain('assets/uPlot.iife.min.js');
    const missing = await request(`${gw.url}/control-plane/assets/..%2Fpackage.json`);
    expect(missing.statusCode).toBe(404);
    await missing.body.dump();
  });

  it('streams events: the first frame at once, with the fleet summary (the gateway itself is a node)', async () => {
    const res = await request(`${gw.url}/control-plane/api/v1/events`);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    let text = '';
    for await (const chunk of res.body) {
      text += chunk.toString();
      if (text.includes('\n\n')) break;
    }
    res.body.destroy();
    const first = JSON.parse(/data: (.*)\n/.exec(text)![1]!) as { summary: { connected: number }; nodes: number; config: string };
    expect(first.summary.connected).toBe(1);
    expect(typeof first.config).toBe('string');
  });
});
