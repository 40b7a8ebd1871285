import { NODE_SORTS, NODE_STATES, MAX_PAGE, type NodeQuery, type NodeSort, type NodeStateFilter } from './xds/node-query.js';

// Query string → NodeQuery for /control-plane/api/v1/nodes, with a message naming the parameter,
// the value and what is accepted (a typo must not silently return the whole fleet).

type Params = Record<string, string | string[] | undefined>;

function one(params: Params, name: string): string | undefined | Error {
  const v = params[name];
  if (Array.isArray(v)) return new Error(`${name}: given ${v.length} times; give it once`);
  return v === '' ? undefined : v;
}

function count(name: string, v: string | undefined, max: number): number | undefined | string {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > max) return `${name}=${JSON.stringify(v)}: want a whole number from 0 to ${max}`;
  return Number(v);
}

const KNOWN = new Set(['state', 'cluster', 'prefix', 'sort', 'order', 'offset', 'limit']);

/** The query, or a message saying what is wrong with the parameters. */
export function parseNodeQuery(params: Params): NodeQuery | string {
  for (const k of Object.keys(params)) if (!KNOWN.has(k)) return `unknown parameter ${JSON.stringify(k)}; known: ${[...KNOWN].join(', ')}`;
  const got: Record<string, string | undefined> = {};
  for (const k of KNOWN) {
    const v = one(params, k);
    if (v instanceof Error) return v.message;
    got[k] = v;
  }
  const { state, sort, order } = got;
  if (state !== undefined && !(NODE_STATES as readonly string[]).includes(state)) {
    return `state=${JSON.stringify(state)}: want one of ${NODE_STATES.join(', ')}`;
  }
  if (sort !== undefined && !(NODE_SORTS as readonly string[]).includes(sort)) return `sort=${JSON.stringify(sort)}: want one of ${NODE_SORTS.join(', ')}`;
  if (order !== undefined && order !== 'asc' && order !== 'desc') return `order=${JSON.stringify(order)}: want asc or desc`;
  const offset = count('offset', got['offset'], Number.MAX_SAFE_INTEGER);
  if (typeof offset === 'string') return offset;
  const limit = count('limit', got['limit'], MAX_PAGE);
  if (typeof limit === 'string') return limit;
  if (limit === 0) return `limit=0: want 1 to ${MAX_PAGE}`;
  return {
    ...(state !== undefined ? { state: state as NodeStateFilter } : {}),
    ...(got['cluster'] !== undefined ? { cluster: got['cluster'] } : {}),
    ...(got['prefix'] !== undefined ? { prefix: got['prefix'] } : {}),
    ...(sort !== undefined ? { sort: sort as NodeSort } : {}),
    ...(order === 'desc' ? { descending: true } : {}),
    ...(offset !== undefined ? { offset } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
}
