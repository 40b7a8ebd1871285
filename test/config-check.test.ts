// -config.check: the binary validates what start-up validates, prints what would run and exits,
// 0 or 1, with the messages start-up would give. Runs the built binary (dist/).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeCertAuthority } from './support/certs.js';
import { runCli } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mgw-check-'));
const ca = makeCertAuthority();
const server = ca.issue('server', { dns: ['control-plane.test'] });
const client = ca.issue('client', { dns: ['gateway.test'] });
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  ca.cleanup();
});

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const config = file('ok.yaml', 'gateway:\n  proxy:\n    default: { url: "http://admin-api:8080" }\n    distributor: { url: "dns:///distributor-headless.mimir.svc:9095" }\n');
const serverTls = [`-server.grpc-tls-cert-path=${server.certPath}`, `-server.grpc-tls-key-path=${server.keyPath}`, `-server.grpc-tls-ca-path=${ca.caPath}`];
const clientTls = ['-gateway.xds.tls-enabled=true', `-gateway.xds.tls-cert-path=${client.certPath}`, `-gateway.xds.tls-key-path=${client.keyPath}`, `-gateway.xds.tls-ca-path=${ca.caPath}`];

/** The message start-up reports for the same arguments (it must be the one -config.check prints). */
function startupError(args: string[]): string {
  const r = runCli(['-server.http-listen-address=127.0.0.1', '-server.http-listen-port=0', '-server.grpc-listen-address=127.0.0.1', '-server.grpc-listen-port=0', ...args]);
  expect(r.code, r.stdout + r.stderr).toBe(1);
  const logged = /msg="startup failed: ((?:[^"\\]|\\.)*)"/.exec(r.stderr)?.[1];
  return logged !== undefined ? (JSON.parse(`"${logged}"`) as string) : r.stderr.replace(/^error: /, '').trim();
}

describe('metrics-gateway -config.check', () => {
  it('prints what each target would run and exits 0', () => {
    const cp = runCli([`-config.file=${config}`, '-config.check', '-target=control-plane', ...serverTls]);
    expect(cp.code, cp.stderr).toBe(0);
    expect(cp.stdout).toContain(`config OK: ${config}`);
    expect(cp.stdout).toContain('target: control-plane');
    expect(cp.stdout).toContain('control plane: xDS on 0.0.0.0:9095, TLS (certificate');
    expect(cp.stdout).toContain(`client certificates: RequireAndVerifyClientCert against ${ca.caPath}`);
    expect(cp.stdout).toContain('backend distributor → dns:///distributor-headless.mimir.svc:9095 (httpgrpc');
    expect(cp.stdout).toMatch(/snapshot: 10 Cluster, 1 ClusterLoadAssignment, 2 Listener, 1 RouteConfiguration/);
    expect(cp.stderr).toBe('');

    const gw = runCli(['-config.check', '-gateway.xds.server-address=cp-0.cp:9095,cp-1.cp:9095', '-gateway.xds.tls-server-name=control-plane.test', ...clientTls]);
    expect(gw.code, gw.stderr).toBe(0);
    expect(gw.stdout).toContain('gateway: xDS from cp-0.cp:9095, cp-1.cp:9095');
    expect(gw.stdout).toContain('as "control-plane.test"; client certificate');
    expect(gw.stdout).not.toContain('control plane:');
  });

  // (Each unusable-file case has its exact message in tls-files.test.ts; one is enough here.)
  it.each([
    ['an unreadable key file', ['-target=control-plane', `-config.file=${config}`, `-server.grpc-tls-cert-path=${server.certPath}`, `-server.grpc-tls-key-path=${join(dir, 'missing.key')}`], `-server.grpc-tls-key-path: ${join(dir, 'missing.key')}: cannot read: no such file`],
    ['a client CA without a server certificate', ['-target=control-plane', `-config.file=${config}`, `-server.grpc-tls-ca-path=${ca.caPath}`], '-server.grpc-tls-ca-path needs TLS on the gRPC server'],
    ['TLS paths with TLS off', ['-gateway.xds.server-address=cp:9095', `-gateway.xds.tls-ca-path=${ca.caPath}`], '-gateway.xds.tls-ca-path is set but TLS to the control plane is off: add -gateway.xds.tls-enabled=true'],
    ['a TLS control plane with a plain in-process gateway', ['-target=all', `-config.file=${config}`, ...serverTls], 'the in-process gateway connects to this control plane over TLS'],
    ['an xDS server without a port', ['-gateway.xds.server-address=control-plane'], '-gateway.xds.server-address: "control-plane" is not host:port'],
    ['a config file error', [`-config.file=${file('bad.yaml', 'gateway:\n  proxy:\n    distributor: { url: "dns://distributor:9095" }\n')}`], 'has two slashes'],
  ])('fails on %s with the message start-up gives', (_name, args, message) => {
    const check = runCli(['-config.check', ...args]);
    expect(check.code, check.stdout).toBe(1);
    expect(check.stdout).toBe('');
    expect(check.stderr).toContain(message);
    expect(check.stderr).toBe(`error: ${startupError(args)}\n`);
  });
});
