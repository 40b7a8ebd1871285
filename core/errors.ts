// One registry of the errors a user can see, with stable codes (fastify's lib/errors.js habit).
// Every code is documented in docs/errors.md; test/errors.test.ts checks that.

export interface ErrorSpec {
  readonly code: string;
  /** HTTP status when the error answers a request; 0 for startup/config errors. */
  readonly status: number;
  readonly summary: string;
}

function spec(code: string, status: number, summary: string): ErrorSpec {
  return { code, status, summary };
}

export const ERRORS = {
  // Configuration and flags (process exits non-zero at startup; at runtime the last good config stays).
  CONFIG_FILE_UNREADABLE: spec('GW_ERR_CONFIG_FILE_UNREADABLE', 0, 'the config file cannot be read'),
  CONFIG_YAML: spec('GW_ERR_CONFIG_YAML', 0, 'the config file is not valid YAML'),
  CONFIG_UNKNOWN_KEY: spec('GW_ERR_CONFIG_UNKNOWN_KEY', 0, 'a key the config does not have'),
  CONFIG_TYPE: spec('GW_ERR_CONFIG_TYPE', 0, 'a value of the wrong type (string, number, boolean, mapping)'),
  CONFIG_BAD_URL: spec('GW_ERR_CONFIG_BAD_URL', 0, 'a backend url that cannot be used'),
  CONFIG_BAD_VALUE: spec('GW_ERR_CONFIG_BAD_VALUE', 0, 'a value outside what the field accepts'),
  CONFIG_ENV: spec('GW_ERR_CONFIG_ENV', 0, 'a ${VAR} reference to an unset variable without a default'),
  FLAG_UNKNOWN: spec('GW_ERR_FLAG_UNKNOWN', 0, 'a command-line flag that does not exist'),
  FLAG_VALUE: spec('GW_ERR_FLAG_VALUE', 0, 'a command-line flag with a bad value'),
  TLS_FILE: spec('GW_ERR_TLS_FILE', 0, 'a TLS certificate, key or CA file that cannot be read or used'),
  CONFIG_SNAPSHOT: spec('GW_ERR_CONFIG_SNAPSHOT', 0, 'the config translates into xDS resources that fail validation'),
  TOKENS_FILE: spec('GW_ERR_TOKENS_FILE', 0, 'the tokens file (-auth.tokens-file) cannot be read or holds a bad entry'),

  // Requests answered by the gateway itself.
  BACKEND_UNSET: spec('GW_ERR_BACKEND_UNSET', 503, 'the route has no backend url and there is no default'),
  NOT_READY: spec('GW_ERR_NOT_READY', 503, 'the gateway has no configuration yet'),
  BODY_TOO_LARGE: spec('GW_ERR_BODY_TOO_LARGE', 413, 'the request body exceeds the configured limit'),
  DUPLICATE_ORG_ID: spec('GW_ERR_DUPLICATE_ORG_ID', 400, 'more than one X-Scope-OrgID header'),
  BAD_REQUEST: spec('GW_ERR_BAD_REQUEST', 400, 'a malformed request (bad path encoding, framing)'),
  HEADERS_TOO_LARGE: spec('GW_ERR_HEADERS_TOO_LARGE', 431, 'the request headers exceed the HTTP parser limit'),
  HEADER_TIMEOUT: spec('GW_ERR_HEADER_TIMEOUT', 408, 'the request headers did not arrive within -server.http-read-header-timeout'),
  UPSTREAM_REFUSED: spec('GW_ERR_UPSTREAM_REFUSED', 502, 'the backend refused or reset the connection'),
  UPSTREAM_TIMEOUT: spec('GW_ERR_UPSTREAM_TIMEOUT', 504, 'the backend did not answer within the timeout'),
  UPSTREAM_FAILED: spec('GW_ERR_UPSTREAM_FAILED', 502, 'the backend failed in another way (protocol, TLS)'),
  UPSTREAM_UNAVAILABLE: spec('GW_ERR_UPSTREAM_UNAVAILABLE', 503, 'no backend endpoint could take the request'),
  UPSTREAM_TOO_LARGE: spec('GW_ERR_UPSTREAM_TOO_LARGE', 413, 'the backend rejected the message size'),

  // The control plane's API.
  NO_ROLLOUT: spec('GW_ERR_NO_ROLLOUT', 409, 'promote or abort asked while no rollout is under way'),

  // Authentication (-auth.type=token).
  AUTH_MISSING: spec('GW_ERR_AUTH_MISSING', 401, 'no basic-auth credentials (username = tenant, password = token)'),
  AUTH_INVALID: spec('GW_ERR_AUTH_INVALID', 401, 'the token is unknown, wrong, or not for the tenant'),
  AUTH_EXPIRED: spec('GW_ERR_AUTH_EXPIRED', 401, 'the token has expired'),
  AUTH_SCOPE: spec('GW_ERR_AUTH_SCOPE', 403, 'the token lacks the scope the route needs'),
  AUTH_THROTTLED: spec('GW_ERR_AUTH_THROTTLED', 429, 'too many failed authentications from this client address'),
} as const;

export type ErrorKey = keyof typeof ERRORS;

/** An error with a registry code; `message` is the one line a user sees. */
export class GatewayError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(key: ErrorKey, message: string) {
    super(message);
    this.name = 'GatewayError';
    this.code = ERRORS[key].code;
    this.status = ERRORS[key].status;
  }
}
