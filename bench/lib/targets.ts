// The things under test and their backends, each started as its own (pinned) process on loopback:
// metrics-gateway (the built binary), nginx, HAProxy (HTTP and TCP mode), the node:http + undici
// baseline proxy, and the nginx `return 200` backend.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIST, GATEWAY_CLI, TEMPLATES } from './paths.js';
import { buildGo } from './go-build.js';
import { freePort, httpGet, start, waitFor, type Child } from './proc.js';

export interface Target {
  readonly name: string;
  /** http://127.0.0.1:port */
  readonly url: string;
  /** The process whose CPU and memory are measured (its descendants included for CPU). */
  readonly child: Child | undefined;
  stop(): Promise<void>;
}

function render(template: string, out: string, vars: Record<string, string>): string {
  let text = readFileSync(join(TEMPLATES, template), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{{${k}}}`, v);
  writeFileSync(out, text);
  return out;
}

/** Any HTTP answer at all (a proxy whose backend is not up yet still answers 502). */
async function waitListening(name: string, url: string, child: Child): Promise<void> {
  await waitFor(`${name} to listen on ${url}`, 10_000, async () => {
    if (child.proc.exitCode !== null) throw new Error(`${name} exited with ${child.proc.exitCode}; see its log`);
    return (await httpGet(url, 500)) ? true : undefined;
  });
}

async function started(name: string, port: number, child: Child, readyPath = '/'): Promise<Target> {
  const url = `http://127.0.0.1:${port}`;
  await waitListening(name, `${url}${readyPath}`, child);
  return { name, url, child, stop: () => child.stop() };
}

export async function nginxBackend(dir: string, cpu: string | undefined): Promise<Target> {
  const port = await freePort();
  const conf = render('nginx-backend.conf', join(dir, 'nginx-backend.conf'), { DIR: dir, LISTEN: `127.0.0.1:${port}` });
  const child = start('nginx-backend', 'nginx', ['-e', join(dir, 'nginx-backend.error.log'), '-c', conf], { cpu, logFile: join(dir, 'nginx-backend.log') });
  return started('nginx-backend', port, child);
}

/** A certificate and key for the HTTPS targets (scenario tls). */
export interface ServingCert {
  readonly certPath: string;
  readonly keyPath: string;
}

/** nginx as the reverse proxy; with `tls`, terminating TLS (HTTP/1.1, session cache as usually configured). */
export async function nginxProxy(dir: string, cpu: string | undefined, upstream: string, tls?: ServingCert): Promise<Target> {
  const port = await freePort();
  const name = tls ? 'nginx-tls' : 'nginx';
  const conf = render('nginx-proxy.conf', join(dir, `${name}-proxy.conf`), {
    DIR: tls ? join(dir, name) : dir,
    LISTEN: `127.0.0.1:${port}${tls ? ' ssl' : ''}`,
    UPSTREAM: upstream,
    TLS: tls ? `ssl_certificate ${tls.certPath}; ssl_certificate_key ${tls.keyPath}; ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:1m;` : '',
  });
  if (tls) mkdirSync(join(dir, name), { recursive: true });
  const child = start(name, 'nginx', ['-e', join(dir, `${name}-proxy.error.log`), '-c', conf], { cpu, logFile: join(dir, `${name}-proxy.log`) });
  if (!tls) return started(name, port, child);
  const url = `https://127.0.0.1:${port}`;
  await waitListening(name, `${url}/`, child);
  return { name, url, child, stop: () => child.stop() };
}

export async function haproxyHttp(dir: string, cpu: string | undefined, upstream: string): Promise<Target> {
  const port = await freePort();
  const conf = render('haproxy-http.cfg', join(dir, 'haproxy-http.cfg'), { LISTEN: `127.0.0.1:${port}`, UPSTREAM: upstream });
  const child = start('haproxy', 'haproxy', ['-db', '-f', conf], { cpu, logFile: join(dir, 'haproxy-http.log') });
  return started('haproxy', port, child);
}

/** HAProxy `mode tcp` over `servers` ("host:port"), `balance` roundrobin or random (kube-proxy's iptables mode is random). */
export async function haproxyTcp(dir: string, cpu: string | undefined, servers: readonly string[], balance: 'roundrobin' | 'random'): Promise<Target> {
  const port = await freePort();
  const lines = servers.map((s, i) => `  server d${i + 1} ${s}`).join('\n');
  const conf = render('haproxy-tcp.cfg', join(dir, `haproxy-tcp-${balance}.cfg`), { LISTEN: `127.0.0.1:${port}`, SERVERS: lines, BALANCE: balance });
  const child = start(`haproxy-tcp-${balance}`, 'haproxy', ['-db', '-f', conf], { cpu, logFile: join(dir, `haproxy-tcp-${balance}.log`) });
  return started(`haproxy-tcp-${balance}`, port, child);
}

export async function baselineProxy(dir: string, cpu: string | undefined, upstreamOrigin: string): Promise<Target> {
  const port = await freePort();
  const child = start('node-undici', process.execPath, [join(BENCH_DIST, 'baseline-proxy.js'), String(port), upstreamOrigin], {
    cpu,
    logFile: join(dir, 'baseline-proxy.log'),
  });
  return started('node-undici', port, child);
}

/**
 * A Go httpgrpc gateway as GEM builds one (net/http + grpc-go dns:/// round_robin, go/cmd/go-gateway),
 * compiled from Debian's grpc-go by go-build.ts: the peer for scenario b's httpgrpc rows.
 */
export async function goGateway(dir: string, cpu: string | undefined, grpcTarget: string): Promise<Target> {
  const port = await freePort();
  const bin = await buildGo('go-gateway');
  const child = start('go-gateway', bin, [`-listen=127.0.0.1:${port}`, `-target=${grpcTarget}`], { cpu, logFile: join(dir, 'go-gateway.log') });
  return started('go-gateway', port, child);
}

export interface GatewayOptions {
  readonly name: string;
  /** YAML written to <dir>/<name>.yaml; the file can be rewritten later to reload. */
  readonly configYaml: string;
  readonly extraFlags?: readonly string[];
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  /** Another build's dist/app/cli.js (BENCH_COMPARE_CLI); default: this checkout's. */
  readonly cli?: string;
  /** Serve HTTPS with this certificate (-server.http-tls-*). */
  readonly tls?: ServingCert;
}

export interface GatewayTarget extends Target {
  readonly configFile: string;
  /** The applied xDS version from /gateway/api/v1/config. */
  appliedVersion(): Promise<string | undefined>;
}

/** The built binary with -target=gateway: the control plane is embedded, the config comes over xDS. */
export async function gateway(dir: string, cpu: string | undefined, o: GatewayOptions): Promise<GatewayTarget> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const configFile = join(dir, `${o.name}.yaml`);
  writeFileSync(configFile, o.configYaml);
  const args = [
    ...(o.nodeFlags ?? []),
    o.cli ?? GATEWAY_CLI,
    '-target=gateway',
    `-config.file=${configFile}`,
    '-server.http-listen-address=127.0.0.1',
    `-server.http-listen-port=${port}`,
    '-log.level=warn',
    ...(o.extraFlags ?? []),
    ...(o.tls ? [`-server.http-tls-cert-path=${o.tls.certPath}`, `-server.http-tls-key-path=${o.tls.keyPath}`] : []),
  ];
  const child = start(o.name, process.execPath, args, { cpu, logFile: join(dir, `${o.name}.log`) });
  const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  await waitFor(`${o.name} /ready`, 20_000, async () => {
    if (child.proc.exitCode !== null) throw new Error(`${o.name} exited with ${child.proc.exitCode}; see ${dir}/${o.name}.log`);
    return (await httpGet(`${url}/ready`, 500))?.status === 200 ? true : undefined;
  });
  return {
    name: o.name,
    url,
    child,
    configFile,
    stop: () => child.stop(10_000),
    async appliedVersion() {
      const r = await httpGet(`${url}/gateway/api/v1/config`, 2000);
      if (r?.status !== 200) return undefined;
      return (JSON.parse(r.body) as { applied: { version: string } | null }).applied?.version;
    },
  };
}

/** Gateway YAML with the distributor (the push path) pointing at `url`. */
export function distributorConfig(url: string, extra = ''): string {
  return `# written by the metrics-gateway bench\ngateway:\n  proxy:\n    distributor:\n      url: ${url}\n${extra}`;
}
