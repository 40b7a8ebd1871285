// The parts of gRPC over HTTP/2 (grpc/grpc doc/PROTOCOL-HTTP2.md) an httpgrpc client needs, with no
// gRPC library: status codes, the grpc-timeout header, grpc-message percent-decoding, the 5-byte
// message prefix, and what a response without grpc-status means (doc/http-grpc-status-mapping.md).

export const HANDLE_METHOD = '/httpgrpc.HTTP/Handle';

/** gRPC status codes (doc/statuscodes.md), the ones this client names. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const STATUS_NAMES = new Map<number, string>(Object.entries(GrpcStatus).map(([k, v]) => [v, k]));
/** "UNAVAILABLE" for 14; the number itself for codes outside the table. */
export function statusName(code: number): string {
  return STATUS_NAMES.get(code) ?? String(code);
}

/** Length-Prefixed-Message: 1 byte compressed flag, 4 bytes big-endian length. */
export const MESSAGE_PREFIX_BYTES = 5;

/**
 * grpc-timeout → TimeoutValue TimeoutUnit, "positive integer as ASCII string of at most 8 digits".
 * Milliseconds while they fit, whole seconds (rounded up) beyond that.
 */
export function grpcTimeout(ms: number): string {
  const m = Math.max(1, Math.ceil(ms));
  return m < 100_000_000 ? `${m}m` : `${Math.ceil(m / 1000)}S`;
}

/**
 * grpc-message is percent-encoded UTF-8 ("Status-Message → Percent-Encoded"). Receivers decode
 * %XX sequences and must not fail on bad ones: an invalid sequence stays as it is.
 */
export function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c & 0xff);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * The gRPC code for a response that has no grpc-status, from its HTTP status
 * (doc/http-grpc-status-mapping.md): an HTTP proxy or a non-gRPC server answered.
 */
export function statusFromHttp(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}
