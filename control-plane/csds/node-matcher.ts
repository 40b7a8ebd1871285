// ClientStatusRequest.node_matchers (envoy/service/status/v3/csds.proto) as the spec reads: "The
// match follows OR semantics" across matchers; within one envoy.type.matcher.v3.NodeMatcher every
// given part must match. Of a NodeMatcher we support node_id, a StringMatcher
// (envoy/type/matcher/v3/string.proto): exact, prefix, suffix, contains and safe_regex, with
// ignore_case for all but safe_regex ("This has no effect for the safe_regex match"). What we cannot
// honour (node_metadatas, a regex that does not compile) is refused, never read as "match all".

export interface StringMatcherMessage {
  /** Which of the oneof is set (proto-loader `oneofs: true`). */
  readonly match_pattern?: string;
  readonly exact?: string;
  readonly prefix?: string;
  readonly suffix?: string;
  readonly contains?: string;
  readonly safe_regex?: { readonly regex?: string } | null;
  readonly ignore_case?: boolean;
}

export interface NodeMatcherMessage {
  readonly node_id?: StringMatcherMessage | null;
  readonly node_metadatas?: readonly unknown[];
}

/** A request the server cannot answer as asked (answered with INVALID_ARGUMENT). */
export class UnsupportedMatcherError extends Error {}

export type IdPredicate = (id: string) => boolean;

const PATTERNS = ['exact', 'prefix', 'suffix', 'contains', 'safe_regex'] as const;

function patternOf(m: StringMatcherMessage): (typeof PATTERNS)[number] | undefined {
  if (m.match_pattern !== undefined) {
    if (!(PATTERNS as readonly string[]).includes(m.match_pattern)) {
      throw new UnsupportedMatcherError(`node_matchers: node_id.${m.match_pattern} is not supported; use one of ${PATTERNS.join(', ')}`);
    }
    return m.match_pattern as (typeof PATTERNS)[number];
  }
  // Without oneof info (a hand-built object): the first field that is set.
  return PATTERNS.find((p) => (p === 'safe_regex' ? m.safe_regex != null : (m[p] ?? '') !== ''));
}

function stringPredicate(m: StringMatcherMessage, where: string): IdPredicate {
  const pattern = patternOf(m);
  const fold = m.ignore_case === true;
  const norm = (s: string): string => (fold ? s.toLowerCase() : s);
  switch (pattern) {
    case undefined:
      // string.proto requires one (validate.required): an empty StringMatcher is not "anything".
      throw new UnsupportedMatcherError(`${where}: the StringMatcher sets none of ${PATTERNS.join(', ')}`);
    case 'exact': {
      const want = norm(m.exact ?? '');
      return (id) => norm(id) === want;
    }
    case 'prefix': {
      const want = norm(m.prefix ?? '');
      return (id) => norm(id).startsWith(want);
    }
    case 'suffix': {
      const want = norm(m.suffix ?? '');
      return (id) => norm(id).endsWith(want);
    }
    case 'contains': {
      const want = norm(m.contains ?? '');
      return (id) => norm(id).includes(want);
    }
    case 'safe_regex': {
      const source = m.safe_regex?.regex ?? '';
      let re: RegExp;
      try {
        // RegexMatcher matches the whole string (regex.proto: "The regex match string. The string must
        // be supported by the configured engine"; Envoy uses RE2::FullMatch). JS syntax covers RE2's
        // common subset; what JS rejects is refused.
        re = new RegExp(`^(?:${source})$`, 'u');
      } catch (err) {
        throw new UnsupportedMatcherError(`${where}.safe_regex.regex ${JSON.stringify(source)} does not compile: ${(err as Error).message}`);
      }
      return (id) => re.test(id);
    }
  }
}

/**
 * One predicate for the whole request: true for every node when there are no matchers, else true
 * when any matcher matches. Throws UnsupportedMatcherError naming what it cannot honour.
 */
export function nodeIdPredicate(matchers: readonly NodeMatcherMessage[]): IdPredicate {
  if (matchers.length === 0) return () => true;
  const each = matchers.map((m, i): IdPredicate => {
    const where = `node_matchers[${i}]`;
    if ((m.node_metadatas?.length ?? 0) > 0) {
      throw new UnsupportedMatcherError(`${where}.node_metadatas is not supported by this control plane; match on node_id (exact, prefix, suffix, contains, safe_regex)`);
    }
    if (!m.node_id) return () => true; // a NodeMatcher with no parts constrains nothing
    return stringPredicate(m.node_id, `${where}.node_id`);
  });
  return (id) => each.some((p) => p(id));
}
