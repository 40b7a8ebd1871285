// deploy/kubernetes/: the example overlay renders with `kubectl kustomize`, every object validates
// against the Kubernetes API schemas (kubernetes-models), the objects fit together (selectors, ports,
// volumes, probes, grace period), and every container's arguments, with the ConfigMap's file and
// test-made certificates where the Secrets are mounted, pass the binary's -config.check.
// Also the Dockerfile: built only from the README's commands.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { makeCertAuthority, type CertAuthority } from './support/certs.js';
import { CLI, runCli } from './support/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OVERLAY = join(ROOT, 'deploy/kubernetes/overlays/example');

/** What these checks read of the objects (the schemas check the rest). */
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  volumes?: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string; optional?: boolean } }>;
  terminationGracePeriodSeconds?: number;
}
interface DeploymentSpec {
  replicas?: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}

function kustomize(dir: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  const needs = 'kubectl >= 1.21 (kustomize v4+: directories in resources, patches); Debian 12\'s kubernetes-client 1.20 is too old';
  if (r.error) throw new Error(`kubectl: ${r.error.message}; needs ${needs}`);
  return { code: r.status, out: r.stdout, err: r.status === 0 ? r.stderr : `${r.stderr}\n(needs ${needs})` };
}

/** The kubernetes-models class for an apiVersion/kind, e.g. apps/v1 Deployment. */
async function modelOf(apiVersion: string, kind: string): Promise<new (o: unknown) => { validate(): void }> {
  const mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, new (o: unknown) => { validate(): void }>;
  const model = mod[kind];
  if (!model) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return model;
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

const flag = (args: readonly string[], name: string): string | undefined => args.find((a) => a.startsWith(`-${name}=`))?.slice(name.length + 2);

describe('Kubernetes manifests (deploy/kubernetes/overlays/example)', () => {
  let objects: K8sObject[] = [];
  let ca: CertAuthority;
  const dir = mkdtempSync(join(tmpdir(), 'mgw-k8s-'));
  const deployments = (): Array<K8sObject & { spec: DeploymentSpec }> => objects.filter((o) => o.kind === 'Deployment') as Array<K8sObject & { spec: DeploymentSpec }>;
  const byKind = (kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);

  beforeAll(() => {
    const r = kustomize(OVERLAY);
    expect(r.code, r.err).toBe(0);
    objects = parseAllDocuments(r.out).map((d) => d.toJS() as K8sObject);
    ca = makeCertAuthority('k8s test CA');
  });
  afterAll(() => {
    ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders the fleet: control plane x2 with PDB and Service, gateway with HPA, PDB and Service, headless distributors, ConfigMap', () => {
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(names).toEqual(
      [
        'ConfigMap/metrics-gateway-config',
        'Deployment/metrics-gateway',
        'Deployment/metrics-gateway-control-plane',
        'HorizontalPodAutoscaler/metrics-gateway',
        'PodDisruptionBudget/metrics-gateway',
        'PodDisruptionBudget/metrics-gateway-control-plane',
        'Service/distributor-headless',
        'Service/metrics-gateway',
        'Service/metrics-gateway-control-plane',
        'Service/metrics-gateway-control-plane-peers',
      ].sort(),
    );
    for (const o of objects) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('mimir');
    const cp = deployments().find((d) => d.metadata.name === 'metrics-gateway-control-plane')!;
    expect(cp.spec.replicas).toBeGreaterThanOrEqual(2);
    expect((byKind('Service').find((s) => s.metadata.name === 'distributor-headless')!.spec as { clusterIP: string }).clusterIP).toBe('None');
    for (const d of deployments()) for (const c of d.spec.template.spec.containers) expect(c.args?.[0]).toMatch(/^-target=/);
  });

  it('every object validates against the Kubernetes API schemas', async () => {
    for (const o of objects) {
      const Model = await modelOf(o.apiVersion, o.kind);
      expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
    // The validation is real: a port given as a word is refused.
    const gw = structuredClone(deployments().find((d) => d.metadata.name === 'metrics-gateway')!);
    (gw.spec.template.spec.containers[0]!.ports![0] as { containerPort: unknown }).containerPort = 'eighty';
    const Deployment = await modelOf('apps/v1', 'Deployment');
    expect(() => new Deployment(gw).validate()).toThrow(/containerPort must be integer/);
  });

  it('the objects fit together: selectors, scale targets, ports, probes, volumes', () => {
    const podLabels = deployments().map((d) => d.spec.template.metadata.labels);
    for (const d of deployments()) expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels), d.metadata.name).toBe(true);
    for (const pdb of byKind('PodDisruptionBudget')) {
      const sel = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      expect(podLabels.filter((l) => matches(sel, l)), `PDB ${pdb.metadata.name}`).toHaveLength(1);
    }
    for (const hpa of byKind('HorizontalPodAutoscaler')) {
      const ref = (hpa.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef;
      expect(objects.some((o) => o.kind === ref.kind && o.metadata.name === ref.name), `HPA ${hpa.metadata.name} → ${ref.kind}/${ref.name}`).toBe(true);
    }
    for (const svc of byKind('Service').filter((s) => s.metadata.name !== 'distributor-headless')) {
      const spec = svc.spec as { selector: Record<string, string>; ports: Array<{ targetPort: string }> };
      const target = deployments().find((d) => matches(spec.selector, d.spec.template.metadata.labels));
      expect(target, `Service ${svc.metadata.name} selects a Deployment`).toBeDefined();
      const portNames = target!.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name));
      for (const p of spec.ports) expect(portNames, `Service ${svc.metadata.name} targetPort`).toContain(p.targetPort);
    }
    for (const d of deployments()) {
      const pod = d.spec.template.spec;
      for (const c of pod.containers) {
        expect(c.readinessProbe?.httpGet?.path, `${d.metadata.name} readiness`).toBe('/ready');
        expect((c.ports ?? []).map((p) => p.name)).toContain(c.readinessProbe?.httpGet?.port);
        const http = c.ports!.find((p) => p.name === 'http-metrics')!.containerPort;
        expect(Number(flag(c.args ?? [], 'server.http-listen-port') ?? 8080)).toBe(http);
        const grpc = c.ports!.find((p) => p.name === 'grpc');
        if (grpc) expect(Number(flag(c.args ?? [], 'server.grpc-listen-port') ?? 9095)).toBe(grpc.containerPort);
        for (const m of c.volumeMounts ?? []) expect(pod.volumes?.map((v) => v.name), `${d.metadata.name} mount ${m.name}`).toContain(m.name);
      }
      for (const v of pod.volumes ?? []) {
        if (v.configMap) expect(byKind('ConfigMap').map((c) => c.metadata.name)).toContain(v.configMap.name);
        if (v.secret) expect(v.secret.secretName).toMatch(/^metrics-gateway-(control-plane-tls|gateway-tls|serving-tls|tokens)$/);
      }
    }
  });

  it('gateways stop taking requests before they stop, within the grace period', () => {
    const gw = deployments().find((d) => d.metadata.name === 'metrics-gateway')!.spec.template.spec;
    const c = gw.containers[0]!;
    const preStop = c.lifecycle?.preStop?.exec?.command ?? [];
    expect(preStop[0]).toBe('sleep');
    const shutdown = flag(c.args ?? [], 'server.graceful-shutdown-timeout') ?? '30s';
    expect(shutdown).toMatch(/^\d+s$/);
    expect(gw.terminationGracePeriodSeconds ?? 30).toBeGreaterThan(Number(preStop[1]) + Number.parseInt(shutdown, 10));
  });

  it('the config names the headless Service, and the gateways the control plane Service', () => {
    const ns = 'mimir';
    const config = byKind('ConfigMap')[0]!.data!['config.yaml']!;
    const headless = byKind('Service').find((s) => s.metadata.name === 'distributor-headless')!;
    const port = (headless.spec as { ports: Array<{ port: number }> }).ports[0]!.port;
    expect(config).toContain(`url: dns:///distributor-headless.${ns}.svc.cluster.local:${port}`);
    const cpService = byKind('Service').find((s) => s.metadata.name === 'metrics-gateway-control-plane')!;
    const grpcPort = (cpService.spec as { ports: Array<{ name: string; port: number }> }).ports.find((p) => p.name === 'grpc')!.port;
    const gwArgs = deployments().find((d) => d.metadata.name === 'metrics-gateway')!.spec.template.spec.containers[0]!.args!;
    expect(flag(gwArgs, 'gateway.xds.server-address')).toBe(`metrics-gateway-control-plane:${grpcPort}`);
    // The replicas find each other through their headless Service, on its HTTP port.
    const peers = byKind('Service').find((s) => s.metadata.name === 'metrics-gateway-control-plane-peers')!;
    const peersSpec = peers.spec as { clusterIP: string; ports: Array<{ name: string; port: number }> };
    expect(peersSpec.clusterIP).toBe('None');
    const cpArgs = deployments().find((d) => d.metadata.name === 'metrics-gateway-control-plane')!.spec.template.spec.containers[0]!.args!;
    expect(flag(cpArgs, 'control-plane.peers')).toBe(`dns:///metrics-gateway-control-plane-peers:${peersSpec.ports.find((p) => p.name === 'http-metrics')!.port}`);
  });

  it("every container's arguments, with the ConfigMap's file and certificates where the Secrets are mounted, pass -config.check", () => {
    // One CA signs both ends, as the base's README comment asks; the server certificate holds the
    // name the gateways connect to.
    const server = ca.issue('control-plane', { dns: ['metrics-gateway-control-plane', 'metrics-gateway-control-plane.mimir.svc'] });
    const client = ca.issue('gateway', { dns: ['metrics-gateway'] });
    const serving = ca.issue('serving', { dns: ['metrics-gateway', 'metrics-gateway.mimir.svc'] });
    const secrets: Record<string, { certPath: string; keyPath: string }> = {
      'metrics-gateway-control-plane-tls': server,
      'metrics-gateway-gateway-tls': client,
      'metrics-gateway-serving-tls': serving,
    };
    for (const d of deployments()) {
      const pod = d.spec.template.spec;
      for (const c of pod.containers) {
        // Each mount becomes a temp dir holding what Kubernetes would put there.
        let args = [...(c.args ?? [])];
        for (const m of c.volumeMounts ?? []) {
          const local = join(dir, d.metadata.name, m.name);
          mkdirSync(local, { recursive: true });
          const v = pod.volumes!.find((x) => x.name === m.name)!;
          if (v.configMap) {
            const cm = byKind('ConfigMap').find((x) => x.metadata.name === v.configMap!.name)!;
            for (const [file, text] of Object.entries(cm.data ?? {})) writeFileSync(join(local, file), text);
          }
          if (v.secret?.optional) {
            // An optional Secret not created yet: Kubernetes mounts an empty directory.
            expect(v.secret.secretName).toBe('metrics-gateway-tokens');
          } else if (v.secret) {
            const s = secrets[v.secret.secretName]!;
            copyFileSync(s.certPath, join(local, 'tls.crt'));
            copyFileSync(s.keyPath, join(local, 'tls.key'));
            copyFileSync(ca.caPath, join(local, 'ca.crt'));
          }
          args = args.map((a) => a.replace(`=${m.mountPath}/`, `=${local}/`));
        }
        // $(VAR) references expand from the container's env, as the kubelet does.
        for (const e of c.env ?? []) args = args.map((a) => a.replaceAll(`$(${e.name})`, e.value ?? `${d.metadata.name}-0`));
        const r = runCli(['-config.check', ...args]);
        expect(r.code, `${d.metadata.name}/${c.name}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain('TLS (');
        expect(r.stdout).not.toContain('plain text');
        if (c.name === 'gateway') {
          // The front door serves HTTPS, and the kubelet probes it so.
          expect(r.stdout).toContain('gateway: HTTP front door: HTTPS (certificate');
          expect(c.readinessProbe?.httpGet?.scheme).toBe('HTTPS');
        }
        if (c.name === 'control-plane') {
          // Trust mode (the ConfigMap sets no auth.type) with the optional tokens Secret absent: no error.
          expect(r.stdout).toContain('tokens file');
          expect(r.stdout).toContain('absent (optional in trust mode; watched, loaded when it appears)');
        }
      }
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+ /.test(l));

  it("runs only the README's set-up commands and starts what they build", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const setup = /## Set-up\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const readmeCommands = setup.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l !== '');
    const runs = instructions.filter((l) => l.startsWith('RUN ')).map((l) => l.slice(4).trim());
    expect(runs.length).toBeGreaterThan(0);
    for (const r of runs) expect(readmeCommands, `RUN ${r}`).toContain(r);
    const entry = JSON.parse(instructions.find((l) => l.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length)) as string[];
    expect(entry).toEqual(['node', '/app/dist/app/cli.js']);
    expect(instructions).toContain('WORKDIR /app');
    // What `npm ci` builds (npm test builds the same) is the CLI the entrypoint names.
    expect(CLI).toBe(join(ROOT, 'dist/app/cli.js'));
    expect(runCli(['-help']).code).toBe(0);
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist']));
  });
});
