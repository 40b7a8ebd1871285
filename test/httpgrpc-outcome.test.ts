import { describe, expect, it } from 'vitest';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { classifyError } from '../data-plane/httpgrpc/outcome.js';

const err = (code: number, details: string): ServiceError =>
  Object.assign(new Error(details), { code, details, metadata: new Metadata() }) as ServiceError;

// What a failed httpgrpc call becomes for the HTTP client: Prometheus drops batches on 4xx and
// retries 5xx, so only a real client error may become a 4xx.
describe('httpgrpc error mapping', () => {
  it('retries only calls that never reached a backend', () => {
    expect(classifyError(err(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED')).kind).toBe('retry');
    expect(classifyError(err(status.UNAVAILABLE, 'Stream refused by server')).kind).toBe('retry');
    expect(classifyError(err(status.UNAVAILABLE, 'Connection dropped'))).toMatchObject({ kind: 'error', key: 'UPSTREAM_REFUSED' });
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
