import { createHash } from 'node:crypto';
import type { TokenEntry } from '../../core/auth.js';

/**
 * Names a config + tokens content: equal on every replica for equal files (both parse to the same
 * facts, in the same order), so replicas recognise each other's rollouts of it.
 */
export function contentId(facts: unknown, tokens: readonly TokenEntry[]): string {
  return createHash('sha256').update(JSON.stringify({ facts, tokens })).digest('hex').slice(0, 16);
}
