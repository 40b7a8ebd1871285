import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { allFlags, META_FLAGS } from '../app/config.js';
import { runCli, startCli, type Child } from './support/cli.js';
import { HttpBackend } from './support/http-backend.js';

const dir = mkdtempSync(join(tmpdir(), 'mgw-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('metrics-gateway -help', () => {
  it('lists every flag with its description and default', () => {
    const r = runCli(['-help']);
    expect(r.code).toBe(0);
    for (const m of META_FLAGS) expect(r.stdout).toContain(`-${m.name}`);
    for (const f of allFlags()) expect(r.stdout).toMatch(new RegExp(`^  -${f.name.replaceAll('.', '\\.')}( |$)`, 'm'));
    expect(r.stdout).toContain('-gateway.proxy.store-gateway.url string');
    expect(r.stdout).toContain('-server.http-listen-port int\n    \tHTTP server listen port. (default 8080)');
    expect(r.stdout).toContain('(default "5m")');
  });

  it('accepts --help with two dashes', () => {
    expect(runCli(['--help']).code).toBe(0);
  });
});

describe('bad configuration is a clear error and a non-zero exit', () => {
  const cases: Array<[string, string, string[] | undefined, string]> = [
    [
      'unknown key with nearest match',
      'gateway:\n  proxy:\n    distributer:\n      url: http://a:1\n',
      undefined,
      'FILE:3:5: unknown key "gateway.proxy.distributer"; did you mean "distributor"? valid keys under gateway.proxy: admin_api, alertmanager, compactor, distributor, graphite, ingester, query_frontend, ruler, store_gateway, default',
    ],
    [
      'dns url with two slashes',
      'gateway:\n  proxy:\n    distributor:\n      url: dns://distributor:9095\n',
      undefined,
      'FILE:4:12: gateway.proxy.distributor.url: "dns://distributor:9095" has two slashes, so "distributor:9095" would be read as the DNS server; use dns:///distributor:9095 (RFC 4501: three slashes for the system resolver)',
    ],
    [
      'unsupported scheme',
      'gateway:\n  proxy:\n    default: { url: "ftp://x:21" }\n',
      undefined,
      'FILE:3:21: gateway.proxy.default.url: scheme "ftp" in "ftp://x:21" is not supported; use http://, https:// or dns:/// (httpgrpc)',
    ],
    [
      'no host',
      'gateway:\n  proxy:\n    default: { url: "http://:8080" }\n',
      undefined,
      'FILE:3:21: gateway.proxy.default.url: "http://:8080" has no host; use http://host:port',
    ],
    [
      'bad port',
      'gateway:\n  proxy:\n    ruler: { url: "http://ruler:99999" }\n',
      undefined,
      'FILE:3:19: gateway.proxy.ruler.url: port 99999 in "http://ruler:99999" is out of range 1-65535',
    ],
    [
      'dns url without port',
      'gateway:\n  proxy:\n    distributor: { url: "dns:///distributor" }\n',
      undefined,
      'FILE:3:25: gateway.proxy.distributor.url: "dns:///distributor" has no port; the gRPC port is required, e.g. dns:///distributor:9095',
    ],
    [
      'bad duration',
      'gateway:\n  proxy:\n    ruler:\n      timeout: 10\n',
      undefined,
      'FILE:4:16: gateway.proxy.ruler.timeout: expected a duration such as 300s, 5m or 1m30s, got 10',
    ],
    [
      'dns url whose DNS server is not an IP',
      'gateway:\n  proxy:\n    distributor: { url: "dns://ns.example/distributor:9095" }\n',
      undefined,
      'FILE:3:25: gateway.proxy.distributor.url: DNS server "ns.example" in "dns://ns.example/distributor:9095" must be an IP address with an optional port, e.g. dns://127.0.0.1:53/distributor:9095',
    ],
    [
      'dns url without slashes',
      'gateway:\n  proxy:\n    distributor: { url: "dns:distributor:9095" }\n',
      undefined,
      'FILE:3:25: gateway.proxy.distributor.url: "dns:distributor:9095" must start with dns:/// (three slashes), e.g. dns:///distributor:9095',
    ],
    [
      'dns url with a bad DNS server port',
      'gateway:\n  proxy:\n    distributor: { url: "dns://127.0.0.1:0/distributor:9095" }\n',
      undefined,
      'FILE:3:25: gateway.proxy.distributor.url: port 0 in "dns://127.0.0.1:0/distributor:9095" is out of range 1-65535',
    ],
    ['bad YAML', 'gateway:\n  proxy: [\n', undefined, 'FILE:3:1: invalid YAML: '],
    ['missing file', '', ['-config.file=/nonexistent/gateway.yaml'], '/nonexistent/gateway.yaml: cannot read config file: no such file'],
    ['bad flag value', '', ['-server.http-listen-port=eighty'], 'invalid value "eighty" for -server.http-listen-port: expected an integer, got "eighty"'],
    ['unknown flag', '', ['-gateway.proxy.distributer.url=http://x:1'], 'flag provided but not defined: -gateway.proxy.distributer.url; did you mean -gateway.proxy.distributor.url? (see -help)'],
    ['bad url in a flag', '', ['-gateway.proxy.default.url=dns://d:9095'], 'flags: gateway.proxy.default.url: "dns://d:9095" has two slashes'],
  ];

  it.each(cases)('%s', (name, text, args, expected) => {
    const file = text === '' ? '' : configFile(`${name.replaceAll(' ', '-')}.yaml`, text);
    const r = runCli(args ?? [`-config.file=${file}`]);
    expect(r.code).toBe(1);
    expect(r.stderr.startsWith(`error: ${expected.replace('FILE', file)}`)).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /); // never a stack trace
  });
});

describe('running the binary', () => {
  let backend: HttpBackend;
  let child: Child | undefined;
  beforeAll(async () => {
    backend = await HttpBackend.start('stream', '127.0.0.2', undefined, { stream: true });
  });
  afterEach(async () => {
    await child?.stop('SIGKILL');
    child = undefined;
  });
  afterAll(async () => backend?.close());

  it('flags override the file, ${VAR:default} expands, and SIGTERM exits 0', async () => {
    const file = configFile('expand.yaml', 'gateway:\n  proxy:\n    default: { url: "${NOT_SET_ANYWHERE:http://127.0.0.9:1}" }\n    ruler: { url: "http://127.0.0.9:1" }\n');
    child = await startCli([`-config.file=${file}`, '-config.expand-env', `-gateway.proxy.ruler.url=${backend.url}`]);
    const cfg = await (await request(`${child.url}/config`)).body.text();
    expect(cfg).toContain('url: http://127.0.0.9:1'); // default from ${VAR:default}
    expect(cfg).toContain(`url: ${backend.url}`); // flag beat the file
    const res = await request(`${child.url}/ruler/ring`);
    expect(res.headers['content-type']).toBe('application/json');
    await res.body.dump();
    expect(await child.stop('SIGTERM')).toBe(0);
  });

  it('streams a 50 MB body through without holding it: backpressure reaches the client, memory stays bounded', async () => {
    // The backend stops reading after 1 MiB. A gateway that streams must then stop taking bytes from
    // the client (socket buffers only); one that buffers would swallow all 50 MiB.
    let received = 0;
    let paused: (() => void) | undefined;
    const slow = await HttpBackend.start('slow', '127.0.0.3', undefined, { stream: true });
    slow.setHandler((_req, res) => res.end(JSON.stringify({ received })));
    const server = (slow as unknown as { server: import('node:http').Server }).server;
    server.prependListener('request', (req: import('node:http').IncomingMessage) => {
      req.on('data', (c: Buffer) => {
        received += c.length;
        if (received > 1024 * 1024 && !paused) {
          req.pause();
          paused = () => req.resume();
        }
      });
    });
    try {
      child = await startCli([`-gateway.proxy.distributor.url=${slow.url}`]);
      const peak = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child!.proc.pid}/status`, 'utf8'))![1]) * 1024;
      const before = peak();
      const total = 50 * 1024 * 1024;
      const chunk = Buffer.alloc(256 * 1024, 7);
      let sent = 0;
      async function* body(): AsyncGenerator<Buffer> {
        while (sent < total) {
          sent += chunk.length;
          yield chunk;
        }
      }
      const pending = request(`${child.url}/api/v1/push`, { method: 'POST', body: Readable.from(body()), headers: { 'content-length': String(total) } });
      // Wait (bounded) until the client cannot hand over more bytes.
      const deadline = Date.now() + 60_000;
      let last = -1;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        if (paused && sent === last) break;
        last = sent;
      }
      expect(paused).toBeDefined();
      expect(sent).toBeLessThan(16 * 1024 * 1024);
      paused!();
      const res = await pending;
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({ received: total });
      expect(peak() - before).toBeLessThan(50 * 1024 * 1024);
    } finally {
      await slow.close();
    }
  });
});
