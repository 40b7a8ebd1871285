// -server.workers: how many worker processes serve HTTP. `auto` is the CPUs this process may use:
// the CPUs it may run on (sched affinity), capped by a cgroup CPU quota, as a Kubernetes CPU limit
// sets one (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded up.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** CPUs the cgroup quota allows (rounded up), or undefined when there is no quota. */
export function cgroupCpuLimit(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = readOr(`${root}/cpu.max`); // "max 100000" or "150000 100000"
  if (v2 !== undefined) {
    const [quota, period] = v2.split(/\s+/);
    if (quota === 'max' || !quota || !period) return undefined;
    return Math.max(1, Math.ceil(Number(quota) / Number(period)));
  }
  const quota = Number(readOr(`${root}/cpu/cpu.cfs_quota_us`) ?? NaN);
  const period = Number(readOr(`${root}/cpu/cpu.cfs_period_us`) ?? NaN);
  if (!(quota > 0) || !(period > 0)) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

export function autoWorkers(): number {
  const cpus = availableParallelism();
  return Math.max(1, Math.min(cpus, cgroupCpuLimit() ?? cpus));
}

/** The flag's value as a count; undefined with a reason when it is neither `auto` nor 1-256. */
export function workerCount(value: string): number | string {
  if (value === 'auto') return autoWorkers();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) return `must be "auto" or a whole number 1-256; got ${JSON.stringify(value)}`;
  return n;
}
