import { describe, expect, it } from 'vitest';
import { GrpcStatus as status } from '../data-plane/httpgrpc/grpc-wire.js';
import { classifyError } from '../data-plane/httpgrpc/outcome.js';
import type { CallStatus } from '../data-plane/httpgrpc/unary-call.js';

const err = (code: number, details: string, transport?: CallStatus['transport']): CallStatus => ({ code, details, ...(transport ? { transport } : {}) });

// What a failed httpgrpc call becomes for the HTTP client: Prometheus drops batches on 4xx and
// retries 5xx, so only a real client error may become a 4xx.
describe('httpgrpc error mapping', () => {
  it('retries only calls that never reached a backend', () => {
    // The client marks what HTTP/2 says never reached a backend (connect failure, REFUSED_STREAM, GOAWAY).
    expect(classifyError(err(status.UNAVAILABLE, 'no usable connection to 127.0.0.2:9095', 'not_sent')).kind).toBe('retry');
    expect(classifyError(err(status.UNAVAILABLE, 'Stream refused by server', 'not_sent')).kind).toBe('retry');
    expect(classifyError(err(status.UNAVAILABLE, 'Connection dropped', 'lost'))).toMatchObject({ kind: 'error', key: 'UPSTREAM_REFUSED' });
    // The same words from a backend's own status are not a transport fact: never retried.
    expect(classifyError(err(status.UNAVAILABLE, 'Stream refused by server'))).toMatchObject({ kind: 'error', key: 'UPSTREAM_UNAVAILABLE' });
  });

  it('answers 413 only for a request over the message size limit', () => {
    expect(classifyError(err(status.RESOURCE_EXHAUSTED, 'Received message larger than max (5000 vs 4096)'), 5000)).toMatchObject({ key: 'UPSTREAM_TOO_LARGE' });
    // The backend's response was too large for us: a backend fault, 502.
    expect(classifyError(err(status.RESOURCE_EXHAUSTED, 'Received message larger than max (9000 vs 4096)'), 100)).toMatchObject({ key: 'UPSTREAM_FAILED' });
    // Quota or overload: retryable 503, never a 4xx that makes Prometheus drop data.
    expect(classifyError(err(status.RESOURCE_EXHAUSTED, 'too many concurrent streams'), 100)).toMatchObject({ key: 'UPSTREAM_UNAVAILABLE' });
  });

  it('maps deadlines to 504 and HTTP-range codes without details to that HTTP status', () => {
    expect(classifyError(err(status.DEADLINE_EXCEEDED, 'Deadline exceeded'))).toMatchObject({ key: 'UPSTREAM_TIMEOUT' });
    expect(classifyError(err(429, 'slow down'))).toMatchObject({ kind: 'response', response: { code: 429 } });
  });
});
