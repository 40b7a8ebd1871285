// A real remote-write 1.0 body (snappy(WriteRequest)) of about 8 KiB, as one Prometheus shard sends
// it: series with realistic label sets and one sample each. Deterministic (seeded), so every run
// sends the same bytes.

import { writeFileSync } from 'node:fs';
import { encodeRemoteWrite, type Series } from '../../examples/local/demo-distributor.js';

export const TARGET_BODY_BYTES = 8 * 1024;

function series(n: number): Series[] {
  let seed = 42;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const out: Series[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      labels: {
        __name__: ['http_requests_total', 'process_cpu_seconds_total', 'go_goroutines', 'node_network_receive_bytes_total'][i % 4]!,
        job: 'kubernetes-pods',
        namespace: `team-${i % 7}`,
        pod: `api-${Math.floor(rand() * 1e6).toString(36)}-${Math.floor(rand() * 1e5).toString(36)}`,
        instance: `10.${i % 250}.${Math.floor(rand() * 250)}.${Math.floor(rand() * 250)}:9100`,
        code: ['200', '404', '500'][i % 3]!,
      },
      samples: [{ value: Math.floor(rand() * 1e9) / 1000, timestamp: 1_700_000_000_000 + Math.floor(rand() * 15_000) }],
    });
  }
  return out;
}

/** Largest body with at most TARGET_BODY_BYTES compressed bytes; writes it to `file`, returns its size. */
export function writeRemoteWriteBody(file: string): { bytes: number; series: number } {
  let lo = 1;
  let hi = 2000;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (encodeRemoteWrite(series(mid)).length <= TARGET_BODY_BYTES) lo = mid;
    else hi = mid - 1;
  }
  const body = encodeRemoteWrite(series(lo));
  writeFileSync(file, body);
  return { bytes: body.length, series: lo };
}
