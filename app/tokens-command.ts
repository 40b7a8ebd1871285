// `metrics-gateway tokens mint`: makes a token. The secret is printed once and kept nowhere; the
// entry to add to the tokens file holds only its scrypt hash (GEM's `tokens create` habit).

import { isScope, mintSecret, scryptHash, SCOPES, TOKEN_ID_PATTERN } from '../core/auth.js';
import { GatewayError } from '../core/errors.js';
import { parseDuration } from '../core/units.js';
import { parseFlags } from './flags.js';

export const TOKENS_USAGE = `Usage: metrics-gateway tokens mint -id=<id> -tenant=<tenant>[,<tenant>...] -scope=<scope>[,<scope>...] [-expires-in=<duration> | -expires-at=<RFC 3339 time>]

Mints an access token for -auth.type=token. Prints the secret once (the basic-auth password; the
username is the tenant) and the entry to add under "tokens:" in the tokens file (-auth.tokens-file).
The control plane picks the file up within seconds and pushes it to every gateway.

  -id          lower-case word naming the token (a-z, 0-9, "-", "_"), unique in the file
  -tenant      tenant(s) the token may act for (X-Scope-OrgID)
  -scope       ${SCOPES.join(', ')}
  -expires-in  e.g. 720h: the token expires that long from now
  -expires-at  e.g. 2027-01-01T00:00:00Z
`;

export interface MintedToken {
  readonly secret: string;
  /** The YAML list item to add under `tokens:`. */
  readonly entry: string;
}

/** Runs `tokens <args>`; returns the exit status. */
export function tokensCommand(argv: readonly string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  if (argv[0] !== 'mint' || argv.includes('-help') || argv.includes('--help') || argv.includes('-h')) {
    (argv[0] === 'mint' ? out : err).write(TOKENS_USAGE);
    return argv[0] === 'mint' ? 0 : 1;
  }
  try {
    const m = mintToken(argv.slice(1));
    out.write(
      `Secret of token (shown once, not stored anywhere; the basic-auth password, with the tenant as username):\n\n  ${m.secret}\n\n` +
        `Add this entry under "tokens:" in the tokens file (-auth.tokens-file):\n\n${m.entry}`,
    );
    return 0;
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e;
    err.write(`error: ${e.message}\n\n${TOKENS_USAGE}`);
    return 1;
  }
}

export function mintToken(argv: readonly string[], now = Date.now()): MintedToken {
  const names = ['id', 'tenant', 'scope', 'expires-in', 'expires-at'];
  const parsed = parseFlags(argv, names.map((name) => ({ name, isBool: false })));
  if (parsed.positional.length > 0) throw new GatewayError('FLAG_VALUE', `unexpected argument ${JSON.stringify(parsed.positional[0])}`);
  const get = (n: string): string => parsed.values.get(n) ?? '';
  const list = (n: string): string[] => get(n).split(',').map((s) => s.trim()).filter((s) => s !== '');
  const id = get('id');
  if (!TOKEN_ID_PATTERN.test(id)) throw new GatewayError('FLAG_VALUE', `-id ${JSON.stringify(id)}: give a lower-case word (a-z, 0-9, "-", "_"; at most 63)`);
  const tenants = list('tenant');
  if (tenants.length === 0) throw new GatewayError('FLAG_VALUE', '-tenant: give the tenant(s) the token acts for, e.g. -tenant=team-a');
  for (const t of tenants) if (!/^[\x21-\x7e]+$/.test(t) || t.includes(':')) throw new GatewayError('FLAG_VALUE', `-tenant ${JSON.stringify(t)}: not a tenant name (printable, no spaces or ":")`);
  const scopes = list('scope');
  if (scopes.length === 0) throw new GatewayError('FLAG_VALUE', `-scope: give one or more of ${SCOPES.join(', ')}`);
  for (const s of scopes) if (!isScope(s)) throw new GatewayError('FLAG_VALUE', `-scope ${JSON.stringify(s)} is not a scope; scopes: ${SCOPES.join(', ')}`);
  let expiresAt: string | undefined;
  if (get('expires-in') !== '' && get('expires-at') !== '') throw new GatewayError('FLAG_VALUE', 'give -expires-in or -expires-at, not both');
  if (get('expires-in') !== '') {
    const ms = parseDuration(get('expires-in'));
    if (ms === undefined || ms <= 0) throw new GatewayError('FLAG_VALUE', `-expires-in ${JSON.stringify(get('expires-in'))}: give a duration such as 720h`);
    expiresAt = new Date(now + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  } else if (get('expires-at') !== '') {
    const at = Date.parse(get('expires-at'));
    if (!/^\d{4}-\d{2}-\d{2}T/.test(get('expires-at')) || !Number.isFinite(at)) throw new GatewayError('FLAG_VALUE', `-expires-at ${JSON.stringify(get('expires-at'))}: give an RFC 3339 time such as 2027-01-01T00:00:00Z`);
    expiresAt = get('expires-at');
  }
  const secret = mintSecret(id);
  const entry = [
    `  - id: ${id}`,
    `    tenants: [${tenants.map((t) => JSON.stringify(t)).join(', ')}]`,
    `    scopes: [${scopes.join(', ')}]`,
    ...(expiresAt ? [`    expires_at: ${expiresAt}`] : []),
    `    hash: '${scryptHash(secret)}'`,
    '',
  ].join('\n');
  return { secret, entry };
}
