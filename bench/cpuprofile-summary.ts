// Where the time goes in a V8 .cpuprofile (node --cpu-prof): self time by function, by file and by area
// (our code, each npm package, Node internals, GC, idle).
//   node dist/bench/cpuprofile-summary.js <file.cpuprofile> [top=25]

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  readonly name: string;
  readonly ms: number;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Total minus (idle) and (program): what the process spent working. */
  readonly busyMs: number;
  readonly byFunction: Share[];
  readonly byFile: Share[];
  readonly byArea: Share[];
}

function shortFile(url: string): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  const dist = path.indexOf('/dist/');
  if (dist >= 0) return path.slice(dist + '/dist/'.length);
  return path;
}

function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'V8/native (program)';
    return 'native';
  }
  if (url.startsWith('node:')) return 'Node internals';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return `npm ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const dist = path.indexOf('/dist/');
  if (dist >= 0) return `metrics-gateway ${path.slice(dist + '/dist/'.length).split('/')[0]}/`;
  return 'other';
}

function top(map: Map<string, number>, total: number, n: number): Share[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, percent: (us / total) * 100 }));
}

export function summarizeProfile(file: string, n = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((node) => [node.id, node.callFrame]));
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let notBusy = 0;
  // A sample's duration is the delta to the next sample (as DevTools counts it).
  for (let i = 0; i < p.samples.length; i++) {
    const us = p.timeDeltas[i + 1] ?? 0;
    const frame = byId.get(p.samples[i]!);
    if (!frame || us <= 0) continue;
    total += us;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') notBusy += us;
    const f = shortFile(frame.url);
    const key = `${frame.functionName || '(anonymous)'}${f ? ` ${f}:${frame.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    files.set(f || frame.functionName, (files.get(f || frame.functionName) ?? 0) + us);
    const a = area(frame);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  return { totalMs: total / 1000, busyMs: (total - notBusy) / 1000, byFunction: top(fn, total, n), byFile: top(files, total, n), byArea: top(areas, total, n) };
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [`total ${s.totalMs.toFixed(0)} ms sampled, ${s.busyMs.toFixed(0)} ms not idle/(program)`, ''];
  for (const [title, list] of [
    ['by area', s.byArea],
    ['by file', s.byFile],
    ['by function (self time)', s.byFunction],
  ] as const) {
    lines.push(`${title}:`);
    for (const x of list) lines.push(`  ${x.percent.toFixed(1).padStart(5)} %  ${x.ms.toFixed(0).padStart(7)} ms  ${x.name}`);
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: cpuprofile-summary.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(formatSummary(summarizeProfile(file, Number(process.argv[3] ?? 25))));
}
