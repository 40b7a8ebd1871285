// Token fixtures: minted as the CLI mints them (secret + scrypt hash), as tokens-file YAML (write it
// with WatchedConfig(yaml, 'tokens.yaml'), which edits it in place or atomically).

import { mintSecret, scryptHash, type Scope, type TokenEntry } from '../../core/auth.js';

export interface TestToken {
  readonly secret: string;
  readonly entry: TokenEntry;
}

/** A token as `tokens mint` makes it; `ln` lowers the scrypt cost where a test mints many. */
export function mintTestToken(id: string, tenants: readonly string[], scopes: readonly Scope[], opts: { expiresAtMs?: number; ln?: number } = {}): TestToken {
  const secret = mintSecret(id);
  const hash = scryptHash(secret, { ln: opts.ln ?? 12, r: 8, p: 1 });
  return { secret, entry: { id, tenants, scopes, expiresAtMs: opts.expiresAtMs, hash } };
}

/** HTTP basic auth header value: username = tenant, password = secret. */
export function basicAuth(tenant: string, secret: string): string {
  return `Basic ${Buffer.from(`${tenant}:${secret}`).toString('base64')}`;
}

export function tokensYaml(tokens: readonly TestToken[]): string {
  const lines = ['tokens:'];
  for (const { entry: e } of tokens) {
    lines.push(`  - id: ${e.id}`, `    tenants: [${e.tenants.join(', ')}]`, `    scopes: [${e.scopes.join(', ')}]`);
    if (e.expiresAtMs !== undefined) lines.push(`    expires_at: ${new Date(e.expiresAtMs).toISOString()}`);
    lines.push(`    hash: '${e.hash}'`);
  }
  return `${lines.join('\n')}\n`;
}
