import { maxHeaderSize, STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorKey } from '../core/errors.js';

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

/**
 * Node's HTTP parser refused a request (framing, header size, header timeout): there is no request
 * object, so the registry's answer is written to the socket, then the connection is closed. Never into
 * a response already on its way (a bad request pipelined behind a streaming one): that would corrupt
 * it, so then the connection is only closed. Node's default does the same (`_httpMessage` is its own
 * check, in _http_server.js socketOnError); fastify's default handler writes into the response.
 */
export function answerClientError(err: Error & { code?: string; reason?: string }, socket: Duplex, headerTimeoutMs: number): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const [key, message]: [ErrorKey, string] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['HEADER_TIMEOUT', `request headers not received within ${headerTimeoutMs / 1000}s (-server.http-read-header-timeout)`]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? ['HEADERS_TOO_LARGE', `request headers exceed ${maxHeaderSize} bytes`]
          : ['BAD_REQUEST', `malformed HTTP request: ${err.reason ?? err.message} (${err.code ?? 'parse error'})`];
    const spec = ERRORS[key];
    const body = `${message}\n`;
    socket.write(
      `HTTP/1.1 ${spec.status} ${STATUS_CODES[spec.status]}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nx-gateway-error: ${spec.code}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
