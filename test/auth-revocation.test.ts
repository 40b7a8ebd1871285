// Revoking a token under steady load, in a fleet (control plane and gateway processes): the first
// config the gateway applies after the tokens file changes no longer holds the token, every request
// of it sent after that is refused (401, then 429 once its client keeps failing), and the other token's requests keep succeeding, 0 failures.

import { expect, it } from 'vitest';
import { request } from 'undici';
import { HttpGrpcServer } from '../examples/local/httpgrpc-server.js';
import { cleanupsAfterEach } from './support/cleanups.js';
import { startControlPlaneProcess, startGatewayProcess, WatchedConfig } from './support/fleet.js';
import { eventually } from './support/gateway.js';
import { startLoad } from './support/load.js';
import { basicAuth, mintTestToken, tokensYaml } from './support/tokens.js';

const cleanups = cleanupsAfterEach();

interface Applied {
  readonly version: string;
  readonly tokens: readonly string[];
}

async function applied(gatewayUrl: string): Promise<Applied | undefined> {
  const body = (await (await request(`${gatewayUrl}/gateway/api/v1/config`)).body.json()) as { applied: { version: string; auth: { tokens?: string[] } } | null };
  return body.applied ? { version: body.applied.version, tokens: body.applied.auth.tokens ?? [] } : undefined;
}

it('a revoked token fails from the first push on while the other token keeps 0 failures under load', async () => {
  const distributor = await HttpGrpcServer.start({ host: '127.0.0.2', record: false });
  cleanups.push(() => distributor.kill());
  const keep = mintTestToken('keep', ['team-a'], ['metrics:write']);
  const revoked = mintTestToken('revoked', ['team-b'], ['metrics:write']);
  const tokens = new WatchedConfig(tokensYaml([keep, revoked]), 'tokens.yaml');
  cleanups.push(() => tokens.remove());
  const config = new WatchedConfig(`gateway:\n  proxy:\n    distributor: { url: "dns:///127.0.0.2:${distributor.port}" }\nauth:\n  type: token\n  tokens_file: ${tokens.file}\n`);
  cleanups.push(() => config.remove());
  const cp = await startControlPlaneProcess(config);
  cleanups.push(() => cp.child.stop('SIGKILL'));
  const gw = await startGatewayProcess(cp.xdsAddress);
  cleanups.push(() => gw.stop('SIGKILL'));
  const before = await eventually(async () => {
    const a = await applied(gw.url);
    return a?.tokens.length === 2 ? a : undefined;
  }, 'both tokens applied');

  // Steady, bounded load: two loops per token.
  const push = (tenant: string, secret: string) => [{ path: '/api/v1/push', method: 'POST' as const, body: 'x', headers: { authorization: basicAuth(tenant, secret) } }];
  const revokedResults: Array<{ status: number; sentAt: number }> = [];
  const keepLoad = startLoad(gw.url, push('team-a', keep.secret), { concurrency: 2, maxMs: 60_000, maxRequests: 50_000 });
  const revokedLoad = startLoad(gw.url, push('team-b', revoked.secret), {
    concurrency: 2,
    maxMs: 60_000,
    maxRequests: 50_000,
    onResult: (status, sentAt) => revokedResults.push({ status, sentAt }),
  });
  cleanups.push(() => keepLoad.stop(), () => revokedLoad.stop());
  await eventually(() => revokedResults.filter((r) => r.status === 200).length >= 50, 'the revoked token working before the edit', 20_000);

  tokens.replaceAtomically(tokensYaml([keep]));
  // The first config the gateway applies after the edit: it must already lack the token.
  const next = await eventually(async () => {
    const a = await applied(gw.url);
    return a && a.version !== before.version ? { ...a, at: Date.now() } : undefined;
  }, 'the gateway to apply the edited token set', 20_000, 5);
  expect(next.tokens).toEqual(['keep']);
  // Keep the load on for a while after the push.
  const sentAtPush = revokedLoad.sent();
  const keepAtPush = keepLoad.sent();
  await eventually(() => revokedLoad.sent() >= sentAtPush + 100 && keepLoad.sent() >= keepAtPush + 100, 'load after the push', 30_000);
  await keepLoad.stop();
  await revokedLoad.stop();

  const after = revokedResults.filter((r) => r.sentAt > next.at);
  const summary = `keep: ${keepLoad.sent()} sent, failures ${keepLoad.failures.length} ${keepLoad.failures.slice(0, 3).join('; ')}; revoked: ${revokedResults.length} answers, ${after.length} sent after the push, statuses after ${JSON.stringify([...new Set(after.map((r) => r.status))])}`;
  console.log(`auth-revocation ${summary}`);
  expect(after.length, summary).toBeGreaterThanOrEqual(100);
  // 401 at first; once the client has failed -auth.failure-limit times, 429: refused either way.
  expect(after[0]?.status, summary).toBe(401);
  expect(after.every((r) => r.status === 401 || r.status === 429), summary).toBe(true);
  expect(keepLoad.failures, summary).toEqual([]);
  expect(keepLoad.sent(), summary).toBeGreaterThanOrEqual(keepAtPush + 100);
}, 120_000);
