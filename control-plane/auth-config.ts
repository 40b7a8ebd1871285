// The `auth:` config block (GEM's `auth.type`): how gateways authenticate tenants. The control plane
// reads it and the tokens file and delivers both to every gateway over xDS; gateways read neither.

import { AUTH_TYPES } from '../core/auth.js';
import { field, positive, section, type FieldValue, type Section } from '../core/config-schema.js';

const oneOfAuthTypes = (v: FieldValue): string | undefined =>
  (AUTH_TYPES as readonly string[]).includes(String(v)) ? undefined : `must be one of ${AUTH_TYPES.join(', ')}; got ${JSON.stringify(v)}`;

const realm = (v: FieldValue): string | undefined =>
  typeof v === 'string' && (!/^[\x20-\x7e]+$/.test(v) || v.includes('"')) ? `must be printable ASCII without '"', got ${JSON.stringify(v)}` : undefined;

export const authSchema: Section = section({
  type: field(
    'string',
    'trust',
    'Tenant authentication: "trust" forwards the client\'s X-Scope-OrgID as sent; "token" requires HTTP basic auth (username = tenant, password = a token from -auth.tokens-file) and sets X-Scope-OrgID from it.',
    { check: oneOfAuthTypes },
  ),
  tokens_file: field('string', '', 'Control plane: YAML file of access tokens (ids, tenants, scopes, expiry, scrypt hashes), watched for changes; required with -auth.type=token. Mint entries with `metrics-gateway tokens mint`.'),
  realm: field('string', 'metrics-gateway', 'Realm in the WWW-Authenticate header of 401 answers.', { check: realm }),
  cache_ttl: field('duration', 60_000, 'How long a gateway trusts a verified token before running the key derivation again (a changed or revoked entry is dropped at once).', {
    check: positive,
  }),
  failure_limit: field('int', 10, 'Failed authentications one client address may make per -auth.failure-window and token id; more get 429 (already verified credentials still pass).', {
    check: positive,
  }),
  failure_window: field('duration', 10_000, 'Window of -auth.failure-limit.', { check: positive }),
});
