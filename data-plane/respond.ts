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
