/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { RolloutStatus } from '../control-plane/rollout/rollouts.js';
import { HttpBackend } from './support/http-backend.js';
import { refusedPort, startControlPlaneProcess, startGatewayProcess, WatchedConfig, type ControlPlaneProcess } from './support/fleet.js';
import type { Child } from './support/cli.js';
import { startPacedLoad, type Load } from './support/load.js';
import { eventually } from './support/poll.js';
import { launchBrowser, type Browser } from './support/browser.js';

// Real processes: one control plane with rollouts on (canary fraction 0.2, bake 20 s, as the issue
// fixes them), ten gateways under steady load, HTTP backends on loopback. A bad query_frontend edit
// (a port that refuses) reaches the 2 canaries only and is rolled back; a good one is promoted.

const BAKE_S = 20;
const REPORT_S = 1;

describe('rollouts on a fleet of 10 gateways', () => {
  let qfA: HttpBackend;
  let qfB: HttpBackend;
  let qfC: HttpBackend;
  let dist: HttpBackend;
  let config: WatchedConfig;
  let cp: ControlPlaneProcess;
  let browser: Browser;
  const gateways: Child[] = [];
  const yaml = (qf: string, timeout = '5m'): string => `gateway:\n  proxy:\n    query_frontend: { url: "${qf}", timeout: ${timeout} }\n    distributor: { url: "${dist.url}" }\n`;

  const rollout = async (): Promise<RolloutStatus> => (await (await request(`${cp.child.url}/control-plane/api/v1/rollout`)).body.json()) as RolloutStatus;
  const backendOf = async (g: Child): Promise<string> => {
    const res = await request(`${g.url}/prometheus/api/v1/labels`, { headers: { 'x-scope-orgid': 't' } });
    await res.body.dump();
    return String(res.headers['x-backend'] ?? res.statusCode);
  };
  const loads = (): Load[] => gateways.map((g) => startPacedLoad(g.url, '/prometheus/api/v1/query', 10, 120_000));

  beforeAll(async () => {
    qfA = await HttpBackend.start('qf-a', '127.0.0.6');
    qfB = await HttpBackend.start('qf-b', '127.0.0.7');
    qfC = await HttpBackend.start('qf-c', '127.0.0.8');
    dist = await HttpBackend.start('dist', '127.0.0.5');
    config = new WatchedConfig(yaml(qfA.url));
    cp = await startControlPlaneProcess(config, 0, [
      '-control-plane.rollout.canary-fraction=0.2',
      `-control-plane.rollout.bake-time=${BAKE_S}s`,
      '-control-plane.rollout.min-requests=30',
      `-control-plane.load-reporting-interval=${REPORT_S}s`,
    ]);
    for (let i = 0; i < 10; i++) gateways.push(await startGatewayProcess(cp.xdsAddress, [`-gateway.xds.node-id=gw-${i}`, '-gateway.xds.cluster=rollout-test']));
    for (const g of gateways) await eventually(async () => (await backendOf(g)) === 'qf-a', 'qf-a on every gateway');
    browser = await launchBrowser();
    await browser.page.goto(`${cp.child.url}/control-plane/`);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(gateways.map((g) => g.stop()));
    await cp?.child.stop();
    await Promise.all([qfA, qfB, qfC, dist].map((b) => b?.close()));
    config?.remove();
  });

  it('a bad edit reaches only the 2 canaries, is rolled back within bake + one report interval, and the other 8 see no failure', async () => {
    const load = loads();
    let r: RolloutStatus;
    try {
      await eventually(async () => (await rollout()).recent.length === 0 && qfA.received.length > 100, 'steady load on the current config');
      config.replaceAtomically(yaml(`http://127.0.0.9:${await refusedPort()}`));
      // The page, live: the rollout baking, its two canaries marked in the fleet table (they run the
      // candidate), then the decision and why.
      const page = browser.page;
      await page.waitForFunction(() => document.querySelector('#rollout [data-stage="baking"]') !== null, undefined, { timeout: 60_000 });
      await page.waitForFunction(() => document.querySelectorAll('#nodes tr[data-config="candidate"]').length === 2, undefined, { timeout: 60_000 });
      await page.waitForFunction(() => document.querySelector('#rollout-recent li[data-outcome="rolled-back"]') !== null, undefined, { timeout: 120_000 });
      const shown = await page.$eval('#rollout', (el) => (el as HTMLElement).innerText);
      expect(shown).toContain('rolled-back');
      expect(shown).toContain('query_frontend');
      expect(shown).toContain('rejected');
      await page.waitForFunction(() => document.querySelectorAll('#nodes tr[data-config="candidate"]').length === 0, undefined, { timeout: 60_000 });
      r = (await eventually(async () => {
        const s = await rollout();
        return s.recent[0]?.outcome === 'rolled-back' ? s : undefined;
      }, 'the bad edit rolled back', 120_000, 200))!;
      // Traffic after the rollback: every gateway on the current config, answering.
      for (const g of gateways) await eventually(async () => (await backendOf(g)) === 'qf-a', 'qf-a again on every gateway', 30_000);
    } finally {
      await Promise.all(load.map((l) => l.stop()));
    }
    const rec = r.recent[0]!;
    expect(rec.canaries).toHaveLength(2);
    expect(rec.reason).toContain('query_frontend');
    // Decided by the control plane's own clock: never later than the bake plus one report interval.
    expect(Date.parse(rec.endedAt) - Date.parse(rec.startedAt)).toBeLessThanOrEqual((BAKE_S + REPORT_S) * 1000);
    const canaries = new Set(rec.canaries);
    const failedOn = gateways.map((_, i) => `gw-${i}`).filter((_, i) => load[i]!.failures.length > 0);
    expect(failedOn.every((id) => canaries.has(id))).toBe(true);
    expect(failedOn.length).toBeGreaterThan(0);
    const others = gateways.map((_, i) => i).filter((i) => !canaries.has(`gw-${i}`));
    expect(others).toHaveLength(8);
    expect(others.flatMap((i) => load[i]!.failures)).toEqual([]);
    // The content is held as rejected, shown with its reason, until the file changes again.
    expect(r.rejected.map((x) => x.id)).toEqual([rec.id]);
    const status = (await (await request(`${cp.child.url}/control-plane/api/v1/status`)).body.json()) as { build: { rejected: { id: string; reason: string } | null } };
    expect(status.build.rejected?.id).toBe(rec.id);
    expect(status.build.rejected?.reason).toContain('query_frontend');
  }, 200_000);

  it('a good edit is promoted after the bake with no failed request anywhere', async () => {
    const load = loads();
    try {
      const before = (await rollout()).recent.length;
      config.replaceAtomically(yaml(qfB.url));
      const s = (await eventually(async () => {
        const x = await rollout();
        return x.active === null && x.recent.length > before ? x : undefined;
      }, 'the good edit\'s rollout to end', 120_000, 200))!;
      expect(s.recent[0], JSON.stringify(s)).toMatchObject({ outcome: 'promoted' });
      expect(s.rejected).toEqual([]);
      expect(Date.parse(s.recent[0]!.endedAt) - Date.parse(s.recent[0]!.startedAt)).toBeGreaterThanOrEqual(BAKE_S * 1000);
      for (const g of gateways) await eventually(async () => (await backendOf(g)) === 'qf-b', 'qf-b on every gateway', 30_000);
    } finally {
      await Promise.all(load.map((l) => l.stop()));
    }
    expect(load.flatMap((l) => l.failures)).toEqual([]);
  }, 200_000);

  it('an edit during a rollout replaces it and starts over; an operator can abort it', async () => {
    config.replaceAtomically(yaml(qfC.url));
    const first = (await eventually(async () => (await rollout()).active, 'a rollout of qf-c'))!;
    const canary = gateways[Number(first.canaries[0]!.slice(3))]!;
    await eventually(async () => (await backendOf(canary)) === 'qf-c', 'qf-c on a canary');
    config.replaceAtomically(yaml(qfC.url, '30s'));
    const second = (await eventually(async () => {
      const x = await rollout();
      return x.active && x.active.id !== first.id ? x : undefined;
    }, 'the newer edit restarts the rollout'))!;
    expect(second.recent[0]).toMatchObject({ id: first.id, outcome: 'replaced' });
    expect(Date.parse(second.active!.startedAt)).toBeGreaterThan(Date.parse(first.startedAt));
    const abort = await request(`${cp.child.url}/control-plane/api/v1/rollout/abort`, { method: 'POST' });
    expect(abort.statusCode).toBe(200);
    await abort.body.dump();
    const after = await rollout();
    expect(after.recent[0]).toMatchObject({ outcome: 'rolled-back', reason: 'aborted by an operator' });
    await eventually(async () => (await backendOf(canary)) === 'qf-b', 'the canary back on qf-b');
    const again = await request(`${cp.child.url}/control-plane/api/v1/rollout/abort`, { method: 'POST' });
    expect(again.statusCode).toBe(409);
    expect(((await again.body.json()) as { code: string }).code).toBe('GW_ERR_NO_ROLLOUT');
  }, 120_000);
});
