import { stringify } from 'yaml';
import { display, type Section, type ValueTree } from '../core/config-schema.js';

/** The effective config as YAML, as /config shows it: durations readable, secrets redacted. */
export function configYaml(schema: Section, tree: ValueTree): string {
  return stringify(toDisplay(schema, tree), { lineWidth: 0 });
}

function toDisplay(schema: Section, tree: ValueTree): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, node] of Object.entries(schema.fields)) {
    const v = tree[key];
    if (node.kind === 'section') {
      out[key] = toDisplay(node, v !== undefined && typeof v === 'object' ? v : {});
    } else if (v !== undefined && typeof v !== 'object') {
      out[key] = node.secret && v !== '' ? '********' : display(node, v);
    }
  }
  return out;
}
