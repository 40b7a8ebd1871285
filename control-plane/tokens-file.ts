// The tokens file: a YAML list of access tokens, read by the control plane only.
//
//   tokens:
//     - id: ci-push                      # lower-case word; the secret starts with "<id>."
//       tenants: [team-a]
//       scopes: [metrics:write]
//       expires_at: 2027-01-01T00:00:00Z # optional, RFC 3339
//       hash: $scrypt$ln=15,r=8,p=1$...  # from `metrics-gateway tokens mint`; never the secret
//       access_policy: ci                # optional: GEM's access policy name (X-Access-Policy-Name)
//       label_policies:                  # optional: per tenant, series selectors reads are limited to
//         team-a: ['{namespace="prod"}']  #   (X-Prom-Label-Policy on read paths)
//
// Problems are reported as file:line:col: tokens[i].field: what is wrong (like the config file), all
// of them at once; the caller keeps the last good set.

import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, type Node as YamlNode } from 'yaml';
import { parseSeriesSelector, SelectorError } from '../core/label-selector.js';
import { parseYamlFile } from '../core/yaml-doc.js';
import { ACCESS_POLICY_PATTERN, hashProblem, isScope, SCOPES, TOKEN_ID_PATTERN, type Scope, type TokenEntry } from '../core/auth.js';
import { GatewayError } from '../core/errors.js';

const KEYS = ['id', 'tenants', 'scopes', 'expires_at', 'hash', 'access_policy', 'label_policies'] as const;
const OPTIONAL = new Set(['expires_at', 'access_policy']);

export function readTokensFile(file: string): TokenEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new GatewayError('TOKENS_FILE', `${file}: cannot read tokens file (-auth.tokens-file): ${code === 'ENOENT' ? 'no such file' : code}`);
  }
  return parseTokens(text, file);
}

export function parseTokens(text: string, file: string): TokenEntry[] {
  const { doc, at } = parseYamlFile(text, file, 'TOKENS_FILE');
  const problems: string[] = [];
  const root = doc.contents as YamlNode | null;
  if (root === null || (isScalar(root) && root.value === null)) return []; // an empty file: no tokens
  if (!isMap(root)) throw new GatewayError('TOKENS_FILE', `${at(root)}: expected a mapping with a "tokens" list`);
  let list: YamlNode | null = null;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (key === 'tokens') list = pair.value as YamlNode | null;
    else problems.push(`${at(pair.key as YamlNode)}: unknown key ${JSON.stringify(key)}; the file holds one key, "tokens"`);
  }
  const out: TokenEntry[] = [];
  const seen = new Map<string, string>();
  if (list !== null && !(isScalar(list) && list.value === null)) {
    if (!isSeq(list)) problems.push(`${at(list)}: tokens: expected a list of tokens`);
    else {
      for (const [i, item] of list.items.entries()) {
        const entry = readEntry(item as YamlNode, `tokens[${i}]`, at, problems, seen);
        if (entry) out.push(entry);
      }
    }
  }
  if (problems.length > 0) throw new GatewayError('TOKENS_FILE', problems.join('\n'));
  return out;
}

function readEntry(
  node: YamlNode,
  path: string,
  at: (n: YamlNode | null | undefined) => string,
  problems: string[],
  seen: Map<string, string>,
): TokenEntry | undefined {
  if (!isMap(node)) {
    problems.push(`${at(node)}: ${path}: expected a mapping with ${KEYS.join(', ')}`);
    return undefined;
  }
  const before = problems.length;
  const values = new Map<string, YamlNode>();
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (!(KEYS as readonly string[]).includes(key)) {
      problems.push(`${at(pair.key as YamlNode)}: ${path}: unknown key ${JSON.stringify(key)}; valid keys: ${KEYS.join(', ')}`);
      continue;
    }
    values.set(key, pair.value as YamlNode);
  }
  const scalar = (key: string): string | undefined => {
    const v = values.get(key);
    if (v === undefined || v === null) {
      if (!OPTIONAL.has(key)) problems.push(`${at(node)}: ${path}.${key}: missing`);
      return undefined;
    }
    if (!isScalar(v) || v.value === null || typeof v.value === 'object') {
      problems.push(`${at(v)}: ${path}.${key}: expected a string`);
      return undefined;
    }
    return String(v.value);
  };
  const strings = (key: string, check: (s: string) => string | undefined): string[] => {
    const v = values.get(key);
    if (v === undefined || v === null) {
      problems.push(`${at(node)}: ${path}.${key}: missing; give a list such as [${key === 'scopes' ? 'metrics:write' : 'team-a'}]`);
      return [];
    }
    if (!isSeq(v) || v.items.length === 0) {
      problems.push(`${at(v)}: ${path}.${key}: expected a non-empty list`);
      return [];
    }
    const out: string[] = [];
    for (const [j, item] of v.items.entries()) {
      const s = isScalar(item) && item.value !== null && typeof item.value !== 'object' ? String(item.value) : undefined;
      const bad = s === undefined ? 'expected a string' : check(s);
      if (bad) problems.push(`${at(item as YamlNode)}: ${path}.${key}[${j}]: ${bad}`);
      else out.push(s!);
    }
    return out;
  };
  const id = scalar('id');
  if (id !== undefined) {
    if (!TOKEN_ID_PATTERN.test(id)) problems.push(`${at(values.get('id'))}: ${path}.id: ${JSON.stringify(id)} must be a lower-case word (a-z, 0-9, "-", "_"; at most 63)`);
    else if (seen.has(id)) problems.push(`${at(values.get('id'))}: ${path}.id: "${id}" is already the id of ${seen.get(id)}`);
    else seen.set(id, path);
  }
  const tenants = strings('tenants', (s) => (/^[\x21-\x7e]+$/.test(s) && !s.includes(':') ? undefined : `${JSON.stringify(s)} is not a tenant name (printable, no spaces or ":")`));
  const scopes = strings('scopes', (s) => (isScope(s) ? undefined : `${JSON.stringify(s)} is not a scope; scopes: ${SCOPES.join(', ')}`));
  const hash = scalar('hash');
  const hp = hash === undefined ? undefined : hashProblem(hash);
  if (hp) problems.push(`${at(values.get('hash'))}: ${path}.hash: ${hp}`);
  const expires = scalar('expires_at');
  let expiresAtMs: number | undefined;
  if (expires !== undefined) {
    expiresAtMs = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(expires) ? Date.parse(expires) : NaN;
    if (!Number.isFinite(expiresAtMs)) problems.push(`${at(values.get('expires_at'))}: ${path}.expires_at: ${JSON.stringify(expires)} is not an RFC 3339 time such as 2027-01-01T00:00:00Z`);
  }
  const accessPolicy = scalar('access_policy');
  if (accessPolicy !== undefined && !ACCESS_POLICY_PATTERN.test(accessPolicy)) {
    problems.push(`${at(values.get('access_policy'))}: ${path}.access_policy: ${JSON.stringify(accessPolicy)} must be a lower-case name (a-z, 0-9, "-", "_", "."; at most 63)`);
  }
  const labelPolicies = readLabelPolicies(values.get('label_policies'), `${path}.label_policies`, tenants, at, problems);
  if (problems.length > before) return undefined;
  return {
    id: id!,
    tenants,
    scopes: scopes as Scope[],
    expiresAtMs,
    hash: hash!,
    ...(accessPolicy !== undefined ? { accessPolicy } : {}),
    ...(labelPolicies ? { labelPolicies } : {}),
  };
}

/** `label_policies: { <tenant>: [<selector>, ...] }`: each tenant one of the token's, each selector valid PromQL. */
function readLabelPolicies(
  node: YamlNode | undefined,
  path: string,
  tenants: readonly string[],
  at: (n: YamlNode | null | undefined) => string,
  problems: string[],
): Record<string, string[]> | undefined {
  if (node === undefined || node === null || (isScalar(node) && node.value === null)) return undefined;
  if (!isMap(node)) {
    problems.push(`${at(node)}: ${path}: expected a mapping of tenant to a list of series selectors, such as {team-a: ['{namespace="prod"}']}`);
    return undefined;
  }
  const out: Record<string, string[]> = {};
  for (const pair of node.items) {
    const tenant = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const where = `${path}.${tenant}`;
    if (!tenants.includes(tenant)) {
      problems.push(`${at(pair.key as YamlNode)}: ${where}: "${tenant}" is not one of this token's tenants (${tenants.join(', ')}); a label policy applies to one of them`);
      continue;
    }
    const list = pair.value as YamlNode | null;
    if (!isSeq(list) || list.items.length === 0) {
      problems.push(`${at(list ?? (pair.key as YamlNode))}: ${where}: expected a non-empty list of series selectors, such as ['{namespace="prod"}']`);
      continue;
    }
    const selectors: string[] = [];
    for (const [j, item] of list.items.entries()) {
      const text = isScalar(item) && typeof item.value === 'string' ? item.value : undefined;
      if (text === undefined) {
        problems.push(`${at(item as YamlNode)}: ${where}[${j}]: expected a series selector as a string (quote it: '{namespace="prod"}')`);
        continue;
      }
      try {
        parseSeriesSelector(text);
        selectors.push(text);
      } catch (err) {
        if (!(err instanceof SelectorError)) throw err;
        problems.push(`${at(item as YamlNode)}: ${where}[${j}]: ${JSON.stringify(text)} is not a PromQL series selector: at character ${err.offset + 1}: ${err.message}`);
      }
    }
    out[tenant] = selectors;
  }
  return out;
}
