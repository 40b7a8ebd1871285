// Reads a YAML document into a config tree, checking every key and value against the schema and
// reporting problems as file:line:col with the key path, what is wrong, and the fix.

import { closest } from 'fastest-levenshtein';
import { isAlias, isMap, isScalar, isSeq, type Node as YamlNode, type Pair } from 'yaml';
import { parseYamlFile } from '../core/yaml-doc.js';
import { coerce, type Section, type ValueTree } from '../core/config-schema.js';
import { GatewayError, type ErrorKey } from '../core/errors.js';

interface Problem {
  key: ErrorKey;
  message: string;
}

export function readYamlTree(text: string, file: string, schema: Section, into: ValueTree): void {
  const { doc, at } = parseYamlFile(text, file, 'CONFIG_YAML');
  const problems: Problem[] = [];
  // Anchors and aliases (`*name`) are plain YAML that GEM's yaml.v3 reads: follow them.
  const deref = (node: YamlNode | null | undefined): YamlNode | null | undefined => {
    if (!isAlias(node)) return node;
    const target = node.resolve(doc);
    if (!target) problems.push({ key: 'CONFIG_YAML', message: `${at(node)}: invalid YAML: alias *${node.source} names no anchor` });
    return target;
  };
  const walk = (raw: YamlNode | null | undefined, sec: Section, path: string[], tree: ValueTree): void => {
    const node = deref(raw);
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return; // `key:` with nothing
    if (!isMap(node)) {
      const where = path.length === 0 ? 'the document' : path.join('.');
      problems.push({ key: 'CONFIG_TYPE', message: `${at(node)}: ${where}: expected a mapping of keys, got ${describe(node)}` });
      return;
    }
    // Merge keys (`<<: *defaults`, YAML 1.1, read by yaml.v3) first, so the mapping's own keys win.
    const merges = node.items.filter(isMergeKey);
    for (const pair of merges) {
      const from = deref(pair.value as YamlNode | null);
      for (const src of isSeq(from) ? [...from.items].reverse() : [from]) walk(src as YamlNode, sec, path, tree);
    }
    for (const pair of node.items) {
      if (merges.includes(pair)) continue;
      const keyNode = pair.key as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const child = schemaChild(sec, key);
      const p = [...path, key];
      if (!child) {
        const valid = Object.keys(sec.fields);
        // A shortened key ("server" for "server_address") is nearer in meaning than in edit distance.
        const near = valid.find((k) => k.startsWith(key)) ?? closest(key, valid);
        problems.push({
          key: 'CONFIG_UNKNOWN_KEY',
          message:
            `${at(keyNode)}: unknown key ${JSON.stringify(p.join('.'))}` +
            `${near ? `; did you mean ${JSON.stringify(near)}?` : ''} valid keys${path.length ? ` under ${path.join('.')}` : ''}: ${valid.join(', ')}`,
        });
        continue;
      }
      const valueNode = deref(pair.value as YamlNode | null);
      if (child.kind === 'section') {
        const sub = tree[key];
        walk(valueNode, child, p, sub !== undefined && typeof sub === 'object' ? sub : (tree[key] = {}));
        continue;
      }
      if (valueNode === null || valueNode === undefined || (isScalar(valueNode) && valueNode.value === null)) continue; // unset: default
      if (child.mapping && isMap(valueNode)) {
        const entries: string[] = [];
        for (const item of valueNode.items) {
          const k = deref(item.key as YamlNode | null);
          const v = deref(item.value as YamlNode | null);
          if (!isScalar(k) || !isScalar(v) || String(k.value).includes('=') || String(v.value).includes(',')) {
            problems.push({ key: 'CONFIG_TYPE', message: `${at((v ?? k ?? valueNode) as YamlNode)}: ${p.join('.')}: expected name: value pairs of strings (no "=" in names, no "," in values)` });
            continue;
          }
          entries.push(`${String(k.value)}=${String(v.value)}`);
        }
        const bad = child.check?.(entries.sort().join(','));
        if (bad) problems.push({ key: 'CONFIG_BAD_VALUE', message: `${at(valueNode)}: ${p.join('.')}: ${bad}` });
        else tree[key] = entries.sort().join(',');
        continue;
      }
      if (!isScalar(valueNode)) {
        problems.push({ key: 'CONFIG_TYPE', message: `${at(valueNode)}: ${p.join('.')}: expected a ${child.type} value, got ${describe(valueNode)}` });
        continue;
      }
      const r = coerce(child, valueNode.value);
      if ('problem' in r) {
        problems.push({ key: 'CONFIG_TYPE', message: `${at(valueNode)}: ${p.join('.')}: ${r.problem}` });
        continue;
      }
      const bad = child.check?.(r.value);
      if (bad) {
        const k: ErrorKey = key === 'url' ? 'CONFIG_BAD_URL' : 'CONFIG_BAD_VALUE';
        problems.push({ key: k, message: `${at(valueNode)}: ${p.join('.')}: ${bad}` });
        continue;
      }
      tree[key] = r.value;
    }
  };
  walk(doc.contents as YamlNode | null, schema, [], into);
  if (problems.length > 0) {
    throw new GatewayError(problems[0]!.key, problems.map((p) => p.message).join('\n'));
  }
}

function isMergeKey(pair: Pair<unknown, unknown>): boolean {
  return isScalar(pair.key) && pair.key.value === '<<';
}

function schemaChild(sec: Section, key: string): Section['fields'][string] | undefined {
  return Object.hasOwn(sec.fields, key) ? sec.fields[key] : undefined;
}

function describe(node: YamlNode): string {
  if (isMap(node)) return 'a mapping';
  if (isScalar(node)) return `${JSON.stringify(node.value)}`;
  return 'a list';
}
