import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { request } from 'undici';
import { startCli } from './support/cli.js';
import { HttpBackend } from './support/http-backend.js';
import { eventually, startGateway } from './support/gateway.js';

describe('graceful shutdown', () => {
  let slow: HttpBackend;
  let arrived: () => void = () => undefined;
  const nextArrival = (): Promise<void> => new Promise((r) => (arrived = r));
  beforeAll(async () => {
    // Answers after 800 ms: long enough to be in flight when shutdown starts.
    slow = await HttpBackend.start('slow', '127.0.0.2', (_req, res) => {
      arrived();
      setTimeout(() => res.end('done'), 800);
    });
  });
  afterAll(async () => slow?.close());

  it('SIGTERM: stops accepting, finishes the in-flight request, exits 0', async () => {
    const child = await startCli([`-gateway.proxy.default.url=${slow.url}`, '-server.graceful-shutdown-timeout=5s']);
    try {
      const atBackend = nextArrival();
      const inFlight = request(`${child.url}/slow`);
      await atBackend;
      const exited = child.stop('SIGTERM');
      // New connections are refused once the listener is closed.
      await eventually(
        () =>
          new Promise<boolean>((resolve) => {
            const s = net.connect(child.port, '127.0.0.1');
            s.once('connect', () => (s.destroy(), resolve(false)));
            s.once('error', () => resolve(true));
          }),
        'the listener to close',
        2000,
      );
      const res = await inFlight;
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('done');
      expect(await exited).toBe(0);
      expect(child.output()).toMatch(/msg="shutting down" signal=SIGTERM/);
    } finally {
      await child.stop('SIGKILL');
    }
  });

  it('reports not ready at once when shutdown starts', async () => {
    const gw = await startGateway([`-gateway.proxy.default.url=${slow.url}`]);
    const app = gw.modules.gateway!.server.app;
    expect((await app.inject('/ready')).statusCode).toBe(200);
    const atBackend = nextArrival();
    const inFlight = request(`${gw.url}/slow`);
    await atBackend;
    const stopping = gw.stop();
    // The request is still in flight, so the drain is under way and fastify still answers: 503.
    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(503);
    expect((await inFlight).statusCode).toBe(200);
    await stopping;
  });
});
