/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type Browser } from './support/browser.js';
import { makeCertAuthority, type CertAuthority } from './support/certs.js';
import { startCli, type Child } from './support/cli.js';
import { startDistributors, type Distributors } from './support/distributors.js';
import { startControlPlaneProcess, WatchedConfig, type ControlPlaneProcess } from './support/fleet.js';
import { startPacedLoad, type Load } from './support/load.js';

// The fleet dashboard in real headless Chromium against real processes: a control plane, three
// gateways and three httpgrpc distributors behind a real DNS server, with steady load. The page is
// loaded once; everything after that must reach it live (server-sent events), without a reload.

const TYPES = ['Cluster', 'ClusterLoadAssignment', 'Listener', 'RouteConfiguration'];
const GATEWAYS = ['gw-1', 'gw-2', 'gw-3'];
export const SCREENSHOT_DIR = join(import.meta.dirname, '..', 'test-output');

describe('fleet dashboard in Chromium', () => {
  let cluster: Distributors;
  let ca: CertAuthority;
  let config: WatchedConfig;
  let cp: ControlPlaneProcess;
  let browser: Browser;
  const dirs: string[] = [];
  const gateways: Child[] = [];
  const loads: Load[] = [];
  const base = (): string =>
    `gateway:\n  proxy:\n    default: { url: "http://127.0.0.1:9" }\n    distributor:\n      url: ${cluster.url}\n`;
  // A backend whose CA file is mounted (a relative path, read from the working directory) on gw-1
  // and gw-2 only: gw-3 cannot serve it.
  const withRuler = (): string => `${base()}    ruler:\n      url: https://127.0.0.1:9\n      tls_ca_path: ca.pem\n`;

  beforeAll(async () => {
    cluster = await startDistributors(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    ca = makeCertAuthority('dashboard test CA');
    config = new WatchedConfig(base());
    cp = await startControlPlaneProcess(config, 0, ['-control-plane.load-reporting-interval=1s', '-control-plane.dns.lookup-period=1s']);
    for (const [i, id] of GATEWAYS.entries()) {
      const dir = mkdtempSync(join(tmpdir(), `mgw-${id}-`));
      dirs.push(dir);
      if (i < 2) copyFileSync(ca.caPath, join(dir, 'ca.pem'));
      gateways.push(
        await startCli(['-target=gateway', `-gateway.xds.server-address=${cp.xdsAddress}`, `-gateway.xds.node-id=${id}`, '-gateway.xds.cluster=edge'], {}, { cwd: dir, keepOutput: 20_000 }),
      );
    }
    for (const g of gateways) loads.push(startPacedLoad(g.url, '/api/v1/push', 40, 150_000));
    browser = await launchBrowser();
    await browser.page.goto(`${cp.child.url}/control-plane/`);
    // Set once: still there at the end means the page was never reloaded.
    await browser.page.evaluate(() => ((window as unknown as { loadedOnce: number }).loadedOnce = 1));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    await browser?.close();
    for (const g of gateways) await g.stop();
    await cp?.child.stop();
    await cluster?.close();
    config?.remove();
    ca?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const page = () => browser.page;
  const cellState = (node: string, type: string): Promise<string | null> =>
    page().getAttribute(`tr[data-node="${node}"] td[data-type="${type}"]`, 'data-state', { timeout: 1000 }).catch(() => null);

  it('shows all three gateways synced on every type, with request rates above 0', async () => {
    await page().waitForFunction(
      ({ ids, types }) =>
        ids.every((id) => {
          const row = document.querySelector(`tr[data-node="${id}"]`);
          const rps = Number(row?.querySelector('td[data-rps]')?.getAttribute('data-rps') || 0);
          return row && rps > 0 && types.every((t) => row.querySelector(`td[data-type="${t}"]`)?.getAttribute('data-state') === 'synced');
        }),
      { ids: GATEWAYS, types: TYPES },
      { timeout: 30_000, polling: 200 },
    );
    expect(await page().textContent('[data-count="connected"] b')).toBe('3');
    expect(await page().textContent('[data-count="synced"] b')).toBe('3');
  }, 40_000);

  it("shows each distributor's share of the traffic as the distributors counted it, within 5 points", async () => {
    const addresses = cluster.servers.map((s) => `${s.host}:${cluster.port}`);
    await page().waitForFunction(
      (eps) => eps.every((a) => Number(document.querySelector(`[data-backend="distributor"] tr[data-endpoint="${a}"]`)?.getAttribute('data-share') || 0) > 0),
      addresses,
      { timeout: 20_000, polling: 200 },
    );
    const shares = await page().$$eval('[data-backend="distributor"] tr[data-endpoint]', (rows) =>
      Object.fromEntries(rows.map((r) => [r.getAttribute('data-endpoint'), Number(r.getAttribute('data-share'))])),
    );
    const total = cluster.servers.reduce((a, s) => a + s.requestCount, 0);
    for (const s of cluster.servers) {
      const counted = s.requestCount / total;
      expect(Math.abs(shares[`${s.host}:${cluster.port}`]! - counted) * 100).toBeLessThanOrEqual(5);
    }
    expect(await page().locator('[data-backend="distributor"] .uplot').count()).toBe(1);
  }, 30_000);

  it('shows a 4th distributor added to DNS, with traffic, without a reload', async () => {
    const fourth = await cluster.add('127.0.0.5');
    await page().waitForFunction(
      (a) => Number(document.querySelector(`[data-backend="distributor"] tr[data-endpoint="${a}"]`)?.getAttribute('data-share') || 0) > 0,
      `127.0.0.5:${cluster.port}`,
      { timeout: 30_000, polling: 200 },
    );
    expect(fourth.requestCount).toBeGreaterThan(0);
    await page().waitForFunction(() => [...document.querySelectorAll('#history li')].some((li) => li.textContent?.includes('distributor: +127.0.0.5:')), null, {
      timeout: 10_000,
    });
    expect(await page().evaluate(() => (window as unknown as { loadedOnce?: number }).loadedOnce)).toBe(1);
  }, 40_000);

  it('shows the gateway that cannot serve a resource as NACKed with its error, the others synced', async () => {
    config.replaceAtomically(withRuler());
    await page().waitForSelector('tr[data-node="gw-3"] td[data-type="Cluster"][data-state="nacked"] .nack-msg', { timeout: 30_000 });
    const message = await page().textContent('tr[data-node="gw-3"] td[data-type="Cluster"] .nack-msg');
    expect(message).toContain('Cluster "ruler": tls_ca_path "ca.pem" cannot be read on this gateway (ENOENT)');
    await page().waitForFunction(
      () => ['gw-1', 'gw-2'].every((id) => document.querySelector(`tr[data-node="${id}"] td[data-type="Cluster"]`)?.getAttribute('data-state') === 'synced'),
      null,
      { timeout: 20_000 },
    );
    expect(await cellState('gw-3', 'ClusterLoadAssignment')).not.toBe('nacked');
    expect(await page().textContent('[data-count="CDS"]')).toContain('1 NACKed');
  }, 40_000);

  it('shows an invalid config edit as file:line with the last good config still served, while the fleet keeps serving', async () => {
    const failedBefore = loads.map((l) => l.failures.length);
    const sentBefore = loads.map((l) => l.sent());
    config.writeInPlace(`${withRuler()}    distributer:\n      url: http://127.0.0.1:9\n`);
    await page().waitForSelector('#config-error:not([hidden])', { timeout: 20_000 });
    const text = (await page().textContent('#config-error'))!;
    expect(text).toMatch(/config\.yaml:\d+:\d+: /);
    expect(text).toContain('distributer');
    expect(text).toContain('The last good config is still served.');
    // Keeps serving: every gateway's load goes on without failures.
    await page().waitForTimeout(0);
    for (const [i, l] of loads.entries()) {
      const target = sentBefore[i]! + 40;
      const deadline = Date.now() + 20_000;
      while (l.sent() < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(l.sent()).toBeGreaterThanOrEqual(target);
      expect(l.failures.slice(failedBefore[i]!)).toEqual([]);
    }
  }, 120_000);

  it('logged no console errors, and leaves a screenshot next to the test output', async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page().screenshot({ path: join(SCREENSHOT_DIR, 'dashboard.png'), fullPage: true });
    expect(browser.errors).toEqual([]);
    expect(await page().evaluate(() => (window as unknown as { loadedOnce?: number }).loadedOnce)).toBe(1);
    expect(loads.flatMap((l) => l.failures)).toEqual([]);
  }, 30_000);
});
