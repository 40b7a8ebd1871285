// Declarative config fields: one definition gives the YAML key, the flag, the default and the help
// text (dskit's flagext habit: each component registers its own fields, with defaults, in one place).

import { formatDuration, parseBytes, parseDuration } from './units.js';

export type FieldType = 'string' | 'bool' | 'int' | 'float' | 'duration' | 'bytes';
export type FieldValue = string | boolean | number;

export interface Field {
  readonly kind: 'field';
  readonly type: FieldType;
  readonly default: FieldValue;
  readonly help: string;
  /** Flag name when it differs from the YAML path (Mimir's `-log.level` is `server.log_level`). */
  readonly flag?: string;
  /** Returns a problem description, or undefined when the value is acceptable. */
  readonly check?: (value: FieldValue) => string | undefined;
  /** Redacted in /config output. */
  readonly secret?: boolean;
  /**
   * A string field that YAML may also give as a mapping of names to strings; stored in the flag's
   * form, `name=value,name=value` (keys sorted), so flags and the file say the same thing.
   */
  readonly mapping?: boolean;
}

export interface Section {
  readonly kind: 'section';
  readonly fields: Readonly<Record<string, Node>>;
}

export type Node = Field | Section;

export function field(
  type: FieldType,
  def: FieldValue,
  help: string,
  extra: Partial<Pick<Field, 'flag' | 'check' | 'secret' | 'mapping'>> = {},
): Field {
  return { kind: 'field', type, default: def, help, ...extra };
}

export function section(fields: Record<string, Node>): Section {
  return { kind: 'section', fields };
}

/** A `check` for numbers that must be above zero (sizes, timeouts). */
export const positive = (v: FieldValue): string | undefined =>
  typeof v === 'number' && v <= 0 ? `must be greater than 0, got ${v}` : undefined;

/** A `mapping` field's value as pairs, in the order written; '' gives none. */
export function mappingEntries(v: string): [string, string][] {
  if (v.trim() === '') return [];
  return v.split(',').map((item) => {
    const i = item.indexOf('=');
    return i < 0 ? [item.trim(), ''] : [item.slice(0, i).trim(), item.slice(i + 1).trim()];
  });
}

/** Plain nested values mirroring the YAML tree. */
export interface ValueTree {
  [key: string]: FieldValue | ValueTree;
}

export interface FlagDef {
  readonly name: string;
  readonly path: readonly string[];
  readonly field: Field;
}

/** Every field's flag, in schema order: YAML path joined by '.', '_' turned into '-'. */
export function flagsOf(root: Section, path: string[] = []): FlagDef[] {
  const out: FlagDef[] = [];
  for (const [key, node] of Object.entries(root.fields)) {
    const p = [...path, key];
    if (node.kind === 'section') out.push(...flagsOf(node, p));
    else out.push({ name: node.flag ?? p.join('.').replaceAll('_', '-'), path: p, field: node });
  }
  return out;
}

export function defaults(root: Section): ValueTree {
  const out: ValueTree = {};
  for (const [key, node] of Object.entries(root.fields)) {
    out[key] = node.kind === 'section' ? defaults(node) : node.default;
  }
  return out;
}

/**
 * Converts a raw scalar (YAML value or flag string) to the field's type.
 * Returns the value or a problem description naming what is expected.
 */
export function coerce(f: Field, raw: unknown): { value: FieldValue } | { problem: string } {
  switch (f.type) {
    case 'string':
      if (typeof raw === 'string') return { value: raw };
      if (typeof raw === 'number' || typeof raw === 'boolean') return { value: String(raw) };
      return { problem: 'expected a string' };
    case 'bool': {
      if (typeof raw === 'boolean') return { value: raw };
      // Go's strconv.ParseBool (flags) plus the YAML 1.1 words yaml.v3 takes for bool fields (GEM's files).
      const word = typeof raw === 'string' ? raw.trim().toLowerCase() : String(raw);
      if (['true', '1', 't', 'yes', 'y', 'on'].includes(word)) return { value: true };
      if (['false', '0', 'f', 'no', 'n', 'off'].includes(word)) return { value: false };
      return { problem: `expected true or false, got ${JSON.stringify(raw)}` };
    }
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) return { problem: `expected an integer, got ${JSON.stringify(raw)}` };
      return { value: n };
    }
    case 'float': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?(\d+\.?\d*|\.\d+)$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isFinite(n)) return { problem: `expected a number such as 0.2, got ${JSON.stringify(raw)}` };
      return { value: n };
    }
    case 'duration': {
      const ms = typeof raw === 'string' ? parseDuration(raw) : typeof raw === 'number' && raw === 0 ? 0 : undefined;
      if (ms === undefined) {
        return { problem: `expected a duration such as 300s, 5m or 1m30s, got ${JSON.stringify(raw)}` };
      }
      return { value: ms };
    }
    case 'bytes': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseBytes(raw) : undefined;
      if (n === undefined || !Number.isSafeInteger(n) || n < 0) {
        return { problem: `expected a byte count such as 104857600 or 100MiB, got ${JSON.stringify(raw)}` };
      }
      return { value: n };
    }
  }
}

/** Value for display (help defaults, /config). */
export function display(f: Field, v: FieldValue): string | number | boolean {
  if (f.type === 'duration' && typeof v === 'number') return formatDuration(v);
  return v;
}

export function getPath(tree: ValueTree, path: readonly string[]): FieldValue | ValueTree | undefined {
  let cur: FieldValue | ValueTree | undefined = tree;
  for (const key of path) {
    if (cur === undefined || typeof cur !== 'object') return undefined;
    cur = cur[key];
  }
  return cur;
}

export function setPath(tree: ValueTree, path: readonly string[], value: FieldValue): void {
  let cur = tree;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (next === undefined || typeof next !== 'object') {
      const created: ValueTree = {};
      cur[key] = created;
      cur = created;
    } else {
      cur = next;
    }
  }
  cur[path[path.length - 1]!] = value;
}

/** Runs every field's `check` over a complete tree; problems carry the YAML path. */
export function checkTree(root: Section, tree: ValueTree, path: string[] = []): string[] {
  const problems: string[] = [];
  for (const [key, node] of Object.entries(root.fields)) {
    const p = [...path, key];
    const v = tree[key];
    if (node.kind === 'section') {
      if (v !== undefined && typeof v === 'object') problems.push(...checkTree(node, v, p));
    } else if (v !== undefined && typeof v !== 'object' && node.check) {
      const problem = node.check(v);
      if (problem) problems.push(`${p.join('.')}: ${problem}`);
    }
  }
  return problems;
}
