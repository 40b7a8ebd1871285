// Pure parts of the node:http2 gRPC client: grpc-timeout, grpc-message decoding, HTTP→gRPC status,
// and the connection backoff of grpc/grpc doc/connection-backoff.md.
import { describe, expect, it } from 'vitest';
import { ConnectBackoff, GRPC_BACKOFF } from '../data-plane/httpgrpc/backoff.js';
import { GrpcStatus, grpcTimeout, percentDecode, statusFromHttp } from '../data-plane/httpgrpc/grpc-wire.js';

describe('gRPC wire details', () => {
  it('writes grpc-timeout with at most 8 digits', () => {
    expect(grpcTimeout(5_000)).toBe('5000m');
    expect(grpcTimeout(0.2)).toBe('1m');
    expect(grpcTimeout(-5)).toBe('1m');
    expect(grpcTimeout(99_999_999)).toBe('99999999m');
    expect(grpcTimeout(100_000_000)).toBe('100000S');
  });

  it('percent-decodes grpc-message as UTF-8 and leaves bad sequences alone', () => {
    expect(percentDecode('plain')).toBe('plain');
    expect(percentDecode('a%20b%3A%20%E2%9C%97')).toBe('a b: ✗');
    expect(percentDecode('100%')).toBe('100%');
    expect(percentDecode('%zz%4')).toBe('%zz%4');
  });

  it('maps HTTP statuses without grpc-status as http-grpc-status-mapping.md', () => {
    expect(statusFromHttp(400)).toBe(GrpcStatus.INTERNAL);
    expect(statusFromHttp(401)).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(statusFromHttp(404)).toBe(GrpcStatus.UNIMPLEMENTED);
    for (const c of [429, 502, 503, 504]) expect(statusFromHttp(c)).toBe(GrpcStatus.UNAVAILABLE);
    expect(statusFromHttp(500)).toBe(GrpcStatus.UNKNOWN);
  });
});

describe('connection backoff', () => {
  it('waits until each attempt deadline, growing ×1.6 with ±20% jitter up to 120 s', () => {
    const b = new ConnectBackoff(GRPC_BACKOFF);
    expect(b.attemptStarted(0)).toBe(20_000); // MIN_CONNECT_TIMEOUT
    expect(b.attemptFailed(100)).toBe(900); // first deadline: now + 1 s, no jitter
    let expected = 1_000;
    for (let i = 0; i < 20; i++) {
      expected = Math.min(expected * 1.6, 120_000);
      const wait = (b.attemptStarted(0), b.attemptFailed(0));
      expect(wait).toBeGreaterThanOrEqual(expected * 0.8 - 1e-6);
      expect(wait).toBeLessThanOrEqual(expected * 1.2 + 1e-6);
    }
    b.reset();
    b.attemptStarted(0);
    expect(b.attemptFailed(0)).toBe(1_000);
  });
});
