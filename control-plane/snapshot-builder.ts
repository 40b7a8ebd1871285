// Facts → a snapshot that is safe to serve: translated, every resource checked against the
// protoc-gen-validate rules Envoy enforces, and consistent (every name a resource refers to exists).
// A snapshot failing any check is never served.

import { translate, type TranslateInput } from './translate.js';
import { validateResource } from '../xds/validate.js';
import { Snapshot } from './xds/snapshot.js';
import { TYPE_ORDER, type TypeUrl, type XdsResource } from '../xds/resource.js';

export class SnapshotBuildError extends Error {
  constructor(
    readonly stage: 'translate' | 'validate' | 'consistency',
    readonly problems: readonly string[],
  ) {
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    super(`snapshot not published (${stage}): ${shown}${more}`);
    this.name = 'SnapshotBuildError';
  }
}

/** Validation hook, replaceable so tests can inject a resource the rules reject. */
export type ResourceTransform = (resources: Map<TypeUrl, XdsResource[]>) => void;

export function buildSnapshot(input: TranslateInput, transform?: ResourceTransform): Snapshot {
  let translated: Map<TypeUrl, XdsResource[]>;
  try {
    translated = new Map([...translate(input)].map(([t, list]) => [t, [...list]]));
  } catch (err) {
    throw new SnapshotBuildError('translate', [err instanceof Error ? err.message : String(err)]);
  }
  transform?.(translated);
  const problems: string[] = [];
  for (const t of TYPE_ORDER) for (const r of translated.get(t) ?? []) problems.push(...validateResource(r.typeUrl, r.value));
  if (problems.length > 0) throw new SnapshotBuildError('validate', problems);
  const snapshot = new Snapshot(Object.fromEntries([...translated].map(([t, resources]) => [t, { resources }])));
  const inconsistent = snapshot.consistent();
  if (inconsistent.length > 0) throw new SnapshotBuildError('consistency', inconsistent);
  return snapshot;
}
