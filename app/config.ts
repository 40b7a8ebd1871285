// The whole process configuration: schema (by component), loading from file + flags, and the
// typed view the modules use. Flags override the file; the file overrides defaults.

import { workerCount } from './workers-count.js';
import { readFileSync } from 'node:fs';
import { GatewayError } from '../core/errors.js';
import {
  checkTree,
  coerce,
  defaults,
  field,
  flagsOf,
  getPath,
  section,
  setPath,
  type FieldValue,
  type FlagDef,
  type Section,
  type ValueTree,
} from '../core/config-schema.js';
import { parseFlags } from './flags.js';
import { expandEnv } from './expand-env.js';
import { readYamlTree } from './yaml-tree.js';
import { gatewayFields } from '../data-plane/gateway-config.js';
import { proxySchema } from '../control-plane/proxy-config.js';
import { controlPlaneSchema } from '../control-plane/control-plane-config.js';
import { grpcTlsSchema } from './xds-tls.js';
import { httpTlsSchema, tlsVersionFields } from './http-tls.js';
import { authSchema } from '../control-plane/auth-config.js';

export const TARGETS = ['gateway', 'control-plane', 'all'] as const;
export type Target = (typeof TARGETS)[number];

const oneOf =
  (choices: readonly string[]) =>
  (v: unknown): string | undefined =>
    choices.includes(String(v)) ? undefined : `must be one of ${choices.join(', ')}; got ${JSON.stringify(v)}`;

const port = (v: unknown): string | undefined =>
  typeof v === 'number' && (v < 0 || v > 65535) ? `must be a port 0-65535, got ${v}` : undefined;

const pathPrefix = (v: unknown): string | undefined =>
  typeof v === 'string' && !/^\/[^\s?#]*$/.test(v) ? `must start with "/" and hold no spaces, "?" or "#"` : undefined;

export const serverSchema: Section = section({
  http_listen_address: field('string', '', 'HTTP server listen address; empty means all interfaces.', { flag: 'server.http-listen-address' }),
  http_listen_port: field('int', 8080, 'HTTP server listen port.', { flag: 'server.http-listen-port', check: port }),
  grpc_listen_address: field('string', '', 'gRPC server (xDS) listen address; empty means all interfaces.', { flag: 'server.grpc-listen-address' }),
  grpc_listen_port: field('int', 9095, 'gRPC server (xDS) listen port.', { flag: 'server.grpc-listen-port', check: port }),
  http_max_request_body_bytes: field('bytes', 540 * 1024 * 1024, 'Largest request body the gateway accepts; larger gets 413.', {
    flag: 'server.http-max-request-body-bytes',
  }),
  http_read_header_timeout: field('duration', 10_000, 'Time a client has to send the request headers (slowloris protection).', {
    flag: 'server.http-read-header-timeout',
  }),
  http_idle_timeout: field('duration', 120_000, 'Idle time after which a client keep-alive connection is closed.', {
    flag: 'server.http-idle-timeout',
  }),
  http_tls_config: httpTlsSchema,
  ...tlsVersionFields,
  grpc_tls_config: grpcTlsSchema,
  graceful_shutdown_timeout: field('duration', 30_000, 'Time to finish in-flight requests after SIGTERM.', {
    flag: 'server.graceful-shutdown-timeout',
  }),
  log_level: field('string', 'info', 'Only log messages with this level or above: debug, info, warn, error.', {
    flag: 'log.level',
    check: oneOf(['debug', 'info', 'warn', 'error']),
  }),
  log_format: field('string', 'logfmt', 'Log format: logfmt or json.', { flag: 'log.format', check: oneOf(['logfmt', 'json']) }),
  workers: field('string', '1', 'Worker processes serving HTTP on the shared port: a number, or auto (the CPUs available, cgroup CPU limit included).', {
    flag: 'server.workers',
    check: (v) => {
      const n = workerCount(String(v));
      return typeof n === 'string' ? n : undefined;
    },
  }),
});

export const apiSchema: Section = section({
  prometheus_http_prefix: field('string', '/prometheus', 'HTTP prefix of the Prometheus API (routed to query_frontend).', {
    flag: 'http.prometheus-http-prefix',
    check: pathPrefix,
  }),
  alertmanager_http_prefix: field('string', '/alertmanager', 'HTTP prefix of the Alertmanager API.', {
    flag: 'http.alertmanager-http-prefix',
    check: pathPrefix,
  }),
});

export const rootSchema: Section = section({
  target: field('string', 'gateway', `Component to run: ${TARGETS.join(', ')}.`, { check: oneOf(TARGETS) }),
  server: serverSchema,
  api: apiSchema,
  // GEM's layout: gateway.proxy (the backends, read by the control plane) beside the gateway's own fields.
  gateway: section({ proxy: proxySchema, ...gatewayFields }),
  control_plane: controlPlaneSchema,
  auth: authSchema,
});

/** Flags that are not config fields. */
export const META_FLAGS = [
  { name: 'config.file', isBool: false, help: 'Configuration file to load (YAML).', default: '' },
  { name: 'config.expand-env', isBool: true, help: 'Expand ${VAR} and ${VAR:default} in the config file from the environment.', default: 'false' },
  {
    name: 'config.check',
    isBool: true,
    help: 'Check the config file and flags as start-up does (certificates, xDS resources included), print what would run and exit: 0 if valid, 1 with the errors.',
    default: 'false',
  },
  { name: 'help', isBool: true, help: 'Print this help and exit.', default: 'false' },
] as const;

export interface FlagOverride {
  readonly path: readonly string[];
  readonly value: FieldValue;
}

export interface LoadedConfig {
  readonly tree: ValueTree;
  /** Flag values, re-applied over the file at every reload (flags always win). */
  readonly overrides: readonly FlagOverride[];
  /** Path of the config file, '' when none. */
  readonly file: string;
  readonly expandEnv: boolean;
  readonly help: boolean;
  /** -config.check: validate, describe, exit. */
  readonly check: boolean;
}

export function allFlags(): FlagDef[] {
  return flagsOf(rootSchema);
}

/** Reads flags, then the file they name, and merges them. Throws GatewayError on any problem. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const defs = allFlags();
  const parsed = parseFlags(argv, [
    ...META_FLAGS.map((m) => ({ name: m.name, isBool: m.isBool })),
    ...defs.map((d) => ({ name: d.name, isBool: d.field.type === 'bool' })),
  ]);
  if (parsed.positional.length > 0) {
    throw new GatewayError('FLAG_VALUE', `unexpected argument ${JSON.stringify(parsed.positional[0])}; flags look like -name=value`);
  }
  const flagBool = (name: string): boolean => {
    const v = parsed.values.get(name);
    if (v === undefined) return false;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new GatewayError('FLAG_VALUE', `invalid boolean value ${JSON.stringify(v)} for -${name}: use true or false`);
  };
  const help = flagBool('help');
  const check = flagBool('config.check');
  const expand = flagBool('config.expand-env');
  const file = parsed.values.get('config.file') ?? '';
  const overrides: FlagOverride[] = [];
  for (const def of defs) {
    const raw = parsed.values.get(def.name);
    if (raw === undefined) continue;
    const r = coerce(def.field, raw);
    if ('problem' in r) throw new GatewayError('FLAG_VALUE', `invalid value ${JSON.stringify(raw)} for -${def.name}: ${r.problem}`);
    overrides.push({ path: def.path, value: r.value });
  }
  const tree = file === '' || help ? defaults(rootSchema) : parseConfigFile(file, expand, env);
  return { tree: applyOverrides(tree, overrides, file), overrides, file, expandEnv: expand, help, check };
}

/** Reads the config file again and puts the flags back on top (for live reload). Throws GatewayError. */
export function reloadConfig(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env): ValueTree {
  const tree = loaded.file === '' ? defaults(rootSchema) : parseConfigFile(loaded.file, loaded.expandEnv, env);
  return applyOverrides(tree, loaded.overrides, loaded.file);
}

function applyOverrides(tree: ValueTree, overrides: readonly FlagOverride[], file: string): ValueTree {
  for (const o of overrides) setPath(tree, o.path, o.value);
  const problems = checkTree(rootSchema, tree);
  if (problems.length > 0) {
    const where = file === '' ? 'flags' : `${file} (or flags)`;
    throw new GatewayError('CONFIG_BAD_VALUE', problems.map((p) => `${where}: ${p}`).join('\n'));
  }
  return tree;
}

/** Parses one config file into a complete tree (defaults filled in). Used at startup and on reload. */
export function parseConfigFile(file: string, expand: boolean, env: NodeJS.ProcessEnv = process.env): ValueTree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
    throw new GatewayError('CONFIG_FILE_UNREADABLE', `${file}: cannot read config file: ${why}`);
  }
  if (expand) text = expandEnv(text, env, file);
  const tree = defaults(rootSchema);
  readYamlTree(text, file, rootSchema, tree);
  const problems = checkTree(rootSchema, tree);
  if (problems.length > 0) throw new GatewayError('CONFIG_BAD_VALUE', problems.map((p) => `${file}: ${p}`).join('\n'));
  return tree;
}

// Typed accessors: modules read their own part of the tree through these.

export function str(tree: ValueTree, path: string): string {
  return String(getPath(tree, path.split('.')) ?? '');
}

export function num(tree: ValueTree, path: string): number {
  return Number(getPath(tree, path.split('.')));
}

export function sub(tree: ValueTree, key: string): ValueTree {
  const v = tree[key];
  return v !== undefined && typeof v === 'object' ? v : {};
}
