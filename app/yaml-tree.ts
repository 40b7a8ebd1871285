// Reads a YAML document into a config tree, checking every key and value against the schema and
// reporting problems as file:line:col with the key path, what is wrong, and the fix.

import { closest } from 'fastest-levenshtein';
import { isMap, isScalar, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { coerce, type Section, type ValueTree } from './config-schema.js';
import { GatewayError, type ErrorKey } from './errors.js';

interface Problem {
  key: ErrorKey;
  message: string;
}

export function readYamlTree(text: string, file: string, schema: Section, into: ValueTree): void {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (node: YamlNode | null | undefined): string => {
    const offset = node?.range?.[0];
    if (offset === undefined) return file;
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const { line, col } = lines.linePos(e.pos[0]);
    const first = e.message.split('\n')[0];
    throw new GatewayError('CONFIG_YAML', `${file}:${line}:${col}: invalid YAML: ${first}`);
  }
  const problems: Problem[] = [];
  const walk = (node: YamlNode | null | undefined, sec: Section, path: string[], tree: ValueTree): void => {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return; // `key:` with nothing
    if (!isMap(node)) {
      const where = path.length === 0 ? 'the document' : path.join('.');
      problems.push({ key: 'CONFIG_TYPE', message: `${at(node)}: ${where}: expected a mapping of keys, got ${describe(node)}` });
      return;
    }
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const child = schemaChild(sec, key);
      const p = [...path, key];
      if (!child) {
        const valid = Object.keys(sec.fields);
        const near = closest(key, valid);
        problems.push({
          key: 'CONFIG_UNKNOWN_KEY',
          message:
            `${at(keyNode)}: unknown key ${JSON.stringify(p.join('.'))}` +
            `${near ? `; did you mean ${JSON.stringify(near)}?` : ''} valid keys${path.length ? ` under ${path.join('.')}` : ''}: ${valid.join(', ')}`,
        });
        continue;
      }
      const valueNode = pair.value as YamlNode | null;
      if (child.kind === 'section') {
        const sub = tree[key];
        walk(valueNode, child, p, sub !== undefined && typeof sub === 'object' ? sub : (tree[key] = {}));
        continue;
      }
      if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) continue; // unset: default
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

function schemaChild(sec: Section, key: string): Section['fields'][string] | undefined {
  return Object.hasOwn(sec.fields, key) ? sec.fields[key] : undefined;
}

function describe(node: YamlNode): string {
  if (isMap(node)) return 'a mapping';
  if (isScalar(node)) return `${JSON.stringify(node.value)}`;
  return 'a list';
}
