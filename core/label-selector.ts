// PromQL series selectors (`up{job="api"}`, `{namespace=~"prod|stage"}`), as GEM's label-based
// access policies hold them, and their X-Prom-Label-Policy header form. Grammar from the Prometheus
// querying docs ("Time series selectors") and its parser (promql/parser/lex.go: strings as Go string
// literals, raw strings in backquotes): a metric name, matchers in braces, or both, a trailing comma
// allowed. As PromQL's ParseMetricSelector does, a selector must have one matcher that does not match
// the empty string. The canonical text is Prometheus' Matcher.String() (`name="value"`, the value as
// Go's %q), matchers joined by ", " in braces, as Mimir's labelaccess package writes the header.

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}

export class SelectorError extends Error {
  constructor(
    message: string,
    /** 0-based index into the selector text. */
    readonly offset: number,
  ) {
    super(message);
  }
}

const NAME_START = /[a-zA-Z_]/;
const NAME_CHAR = /[a-zA-Z0-9_]/;
const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

class Lexer {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string, at = this.pos): never {
    throw new SelectorError(message, at);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  peek(): string | undefined {
    this.skipSpace();
    return this.text[this.pos];
  }

  name(metric: boolean): string {
    const start = this.pos;
    if (!NAME_START.test(this.text[this.pos] ?? '') && !(metric && this.text[this.pos] === ':')) this.fail(metric ? 'expected a metric name or "{"' : 'expected a label name');
    while (this.pos < this.text.length && (NAME_CHAR.test(this.text[this.pos]!) || (metric && this.text[this.pos] === ':'))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  op(): MatchOp {
    this.skipSpace();
    for (const o of ['=~', '!~', '!=', '='] as const) {
      if (this.text.startsWith(o, this.pos)) {
        this.pos += o.length;
        return o;
      }
    }
    return this.fail('expected one of =, !=, =~, !~');
  }

  /** A Go string literal: "..." or '...' with escapes, or `...` raw. */
  string(): string {
    this.skipSpace();
    const quote = this.text[this.pos];
    if (quote !== '"' && quote !== "'" && quote !== '`') this.fail('expected a quoted string ("value")');
    const start = this.pos++;
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || (c === '\n' && quote !== '`')) this.fail(`unterminated string (starts with ${quote})`, start);
      this.pos++;
      if (c === quote) return out;
      if (c !== '\\' || quote === '`') {
        out += c;
        continue;
      }
      out += this.escape();
    }
  }

  private escape(): string {
    const at = this.pos - 1;
    const c = this.text[this.pos++] ?? '';
    if (c in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[c]!;
    const hex = (n: number): string => {
      const digits = this.text.slice(this.pos, this.pos + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) this.fail(`invalid escape \\${c}${digits}`, at);
      this.pos += n;
      return digits;
    };
    if (c === 'x') return String.fromCharCode(parseInt(hex(2), 16));
    if (c === 'u' || c === 'U') {
      const cp = parseInt(hex(c === 'u' ? 4 : 8), 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) this.fail('escape is not a valid Unicode code point', at);
      return String.fromCodePoint(cp);
    }
    if (/[0-7]/.test(c)) {
      const digits = c + this.text.slice(this.pos, this.pos + 2);
      if (!/^[0-7]{3}$/.test(digits) || parseInt(digits, 8) > 255) this.fail(`invalid octal escape \\${digits}`, at);
      this.pos += 2;
      return String.fromCharCode(parseInt(digits, 8));
    }
    return this.fail(`unknown escape \\${c}`, at);
  }
}

/** RE2 (Prometheus' regexps) has no lookaround or backreferences; JavaScript checks the rest. */
function regexProblem(value: string): string | undefined {
  if (/\(\?<?[=!]|\\[1-9]/.test(value)) return 'uses lookaround or a backreference, which RE2 (Prometheus) does not support';
  try {
    new RegExp(`^(?:${value})$`, 'su');
  } catch (err) {
    return `is not a valid regular expression (${(err as Error).message})`;
  }
  return undefined;
}

function matchesEmpty(m: LabelMatcher): boolean {
  switch (m.op) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
      return new RegExp(`^(?:${m.value})$`, 'su').test('');
    case '!~':
      return !new RegExp(`^(?:${m.value})$`, 'su').test('');
  }
}

/** Parses a series selector; throws SelectorError with the offset of the problem. */
export function parseSeriesSelector(text: string): LabelMatcher[] {
  const lx = new Lexer(text);
  const matchers: LabelMatcher[] = [];
  const first = lx.peek();
  if (first === undefined) lx.fail('empty selector; write one such as {namespace="prod"}');
  if (first !== '{') matchers.push({ name: '__name__', op: '=', value: lx.name(true) });
  if (lx.peek() === '{') {
    lx.pos++;
    for (;;) {
      const c = lx.peek();
      if (c === '}') {
        lx.pos++;
        break;
      }
      if (c === undefined) lx.fail('missing "}"');
      const at = lx.pos;
      const name = lx.name(false);
      const op = lx.op();
      const value = lx.string();
      const m = { name, op, value };
      if (op === '=~' || op === '!~') {
        const bad = regexProblem(value);
        if (bad) lx.fail(`the regular expression of ${name} ${bad}`, at);
      }
      matchers.push(m);
      const next = lx.peek();
      if (next === ',') lx.pos++;
      else if (next === undefined) lx.fail('missing "}"');
      else if (next !== '}') lx.fail('expected "," or "}"');
    }
  }
  if (lx.peek() !== undefined) lx.fail('unexpected text after the selector');
  if (!matchers.some((m) => !matchesEmpty(m))) {
    lx.fail('every matcher matches the empty string; a selector needs one that does not (as in PromQL), such as {namespace="prod"}', 0);
  }
  return matchers;
}

/** Go's strconv.Quote, as %q writes label values: printable Unicode kept, the rest escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (/[\p{C}\p{Z}]/u.test(ch) && ch !== ' ') out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** `{name="value", ...}` as Mimir's labelaccess writes a policy before escaping it. */
export function canonicalSelector(matchers: readonly LabelMatcher[]): string {
  return `{${matchers.map((m) => `${m.name}${m.op}${goQuote(m.value)}`).join(', ')}}`;
}

/**
 * Go's url.PathEscape: everything but unreserved characters (RFC 3986 2.3) and $ & + : = @ is
 * percent-encoded (UTF-8 bytes, upper-case hex); "/", ";", "," and "?" are encoded too, so a list of
 * policies can be split on ",".
 */
export function goPathEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~$&+:=@]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** One X-Prom-Label-Policy value: `<tenant>:<url.PathEscape(canonical selector)>` (GEM's format). */
export function labelPolicyHeader(tenant: string, selector: string): string {
  return `${tenant}:${goPathEscape(canonicalSelector(parseSeriesSelector(selector)))}`;
}
