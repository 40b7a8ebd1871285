// pino, printing logfmt (Mimir's default) or JSON. logfmt is formatted in-process: log lines are
// rare on the request path (request lines are debug), so a worker-thread transport is not worth it.

import { pino, type Logger, type DestinationStream } from 'pino';

export type LogFormat = 'logfmt' | 'json';

export function createLogger(opts: { level: string; format: LogFormat; destination?: NodeJS.WritableStream }): Logger {
  const out = opts.destination ?? process.stderr;
  const base = { level: opts.level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } };
  if (opts.format === 'json') return pino(base, out as DestinationStream);
  const dest: DestinationStream = { write: (line: string) => void out.write(toLogfmt(line)) };
  return pino(base, dest);
}

/** One pino JSON line to one logfmt line: ts, level, msg first, then the rest in order. */
export function toLogfmt(jsonLine: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const parts: string[] = [];
  const push = (k: string, v: unknown): void => {
    if (v === undefined) return;
    parts.push(`${k}=${fmtValue(v)}`);
  };
  push('ts', rec['time']);
  push('level', rec['level']);
  push('msg', rec['msg']);
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'time' || k === 'level' || k === 'msg') continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) push(`${k}.${k2}`, v2);
    } else {
      push(k, v);
    }
  }
  return parts.join(' ') + '\n';
}

function fmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === '' || /[\s"=\\]/.test(s) ? JSON.stringify(s) : s;
}
