// HTTP/1.1 over a bare TCP socket, for requests a client library would refuse or normalise
// (conflicting framing, `..` in the path, trickled headers), and a strict parser for the answer.

import net from 'node:net';

export interface RawExchange {
  /** Everything the server sent, as latin1 text (byte for byte). */
  readonly text: string;
  /** How the exchange ended: the server closed (FIN or RST), or our deadline passed first. */
  readonly ended: 'closed' | 'reset' | 'timeout';
  readonly ms: number;
  /** How many of the parts were written before the exchange ended. */
  readonly partsSent: number;
}

export interface RawOptions {
  readonly host?: string;
  /** Give up (and destroy the socket) after this long. */
  readonly timeoutMs?: number;
  /** Pause between parts, to trickle a request. */
  readonly gapMs?: number;
  /** Stop sending the remaining parts once the server has answered or closed. */
  readonly stopWhenAnswered?: boolean;
  /** Send each next part only once this holds (checked on every answer byte and every 10 ms). */
  readonly nextWhen?: (received: string) => boolean;
}

/** Sends `parts` on one fresh connection and collects the answer until the server closes it. */
export function rawExchange(port: number, parts: string | ReadonlyArray<string | Buffer>, opts: RawOptions = {}): Promise<RawExchange> {
  const list = typeof parts === 'string' ? [parts] : parts;
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let ended: RawExchange['ended'] = 'closed';
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let i = 0;
    const s = net.connect(port, opts.host ?? '127.0.0.1');
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), ended, ms: Date.now() - started, partsSent: i });
    };
    const deadline = setTimeout(() => {
      ended = 'timeout';
      finish();
    }, opts.timeoutMs ?? 5000);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') ended = 'reset';
      finish();
    });
    s.on('close', finish);
    s.once('connect', () => {
      const next = (): void => {
        if (done || i >= list.length) return;
        if (opts.stopWhenAnswered && chunks.length > 0) return;
        if (i > 0 && opts.nextWhen && !opts.nextWhen(Buffer.concat(chunks).toString('latin1'))) {
          timer = setTimeout(next, 10);
          return;
        }
        s.write(list[i++]!);
        if (i < list.length) timer = setTimeout(next, opts.gapMs ?? 0);
      };
      next();
    });
  });
}

export interface ParsedResponse {
  readonly status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Bytes after this response (a second response, or garbage). */
  readonly rest: string;
}

/** Parses the first response of `text`; its body is exactly Content-Length bytes (or chunked). */
export function parseResponse(text: string): ParsedResponse {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine ?? '');
  if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let pos = end + 4;
  let body = '';
  if (headers['transfer-encoding'] === 'chunked') {
    for (;;) {
      const eol = text.indexOf('\r\n', pos);
      if (eol < 0) throw new Error('truncated chunked body');
      const size = parseInt(text.slice(pos, eol), 16);
      pos = eol + 2;
      if (size === 0) {
        pos = text.indexOf('\r\n', pos) + 2;
        break;
      }
      body += text.slice(pos, pos + size);
      pos += size + 2;
    }
  } else {
    const length = Number(headers['content-length'] ?? 0);
    body = text.slice(pos, pos + length);
    if (body.length < length) throw new Error(`body truncated: ${body.length} of ${length} bytes`);
    pos += length;
  }
  return { status: Number(m[1]), headers, body, rest: text.slice(pos) };
}
