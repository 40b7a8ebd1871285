import type { ServerResponse } from 'node:http';
import { ERRORS, type ErrorKey } from '../app/errors.js';

/** Answers with one of the registry's errors: status, stable code header, one-line body. */
export function sendError(res: ServerResponse, key: ErrorKey, message: string, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const spec = ERRORS[key];
  const body = `${message}\n`;
  res.writeHead(spec.status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-gateway-error': spec.code,
    ...extraHeaders,
  });
  res.end(body);
}

/** A fixed answer from the route table (xDS direct_response), e.g. 503 for an unset backend. */
export function sendDirect(res: ServerResponse, status: number, body: string): void {
  const text = body.endsWith('\n') || body === '' ? body : `${body}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(status === 503 ? { 'x-gateway-error': ERRORS.BACKEND_UNSET.code } : {}),
  });
  res.end(text);
}
