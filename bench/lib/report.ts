// Small helpers for the bench's numbers and its Markdown output.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function fmt(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(n: number | undefined, base: number | undefined): string {
  if (n === undefined || base === undefined || !Number.isFinite(n) || !Number.isFinite(base) || base === 0) return 'n/a';
  return `${(n / base).toFixed(2)}×`;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** max/min of a list of counts (Infinity when one is 0). */
export function maxMin(counts: readonly number[]): number {
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  return min === 0 ? Infinity : max / min;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
