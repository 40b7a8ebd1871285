// HPACK encoding of request headers (RFC 7541) for a connection that sends the same call over and
// over. A field seen before is one byte (6.1, Indexed Header Field): the first call on a connection
// inserts each (name, value) into the dynamic table (6.2.1), later calls refer to it. Fields whose value
// changes with every call (grpc-timeout, message-size, httpgrpc-url) are inserted once so their *name*
// is indexed, then sent as literals without indexing (6.2.2) that reuse that name, so they never
// churn the table. Strings go raw (5.2, H=0): these values are short and encoding is per call.
import { ENTRY_OVERHEAD } from './hpack-decoder.js';
import { STATIC_TABLE } from './hpack-tables.js';

/** Names whose values vary per call: indexing their values would only evict useful entries. */
const VARYING = new Set(['grpc-timeout', 'message-size', 'httpgrpc-url', 'content-length']);
const STATIC_COUNT = STATIC_TABLE.length - 1;
const STATIC_PAIR = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
for (let i = STATIC_COUNT; i >= 1; i--) {
  const [n, v] = STATIC_TABLE[i]!;
  STATIC_PAIR.set(`${n}\0${v}`, i);
  STATIC_NAME.set(n, i);
}

interface Entry {
  readonly name: string;
  readonly value: string;
  readonly size: number;
  /** 1, 2, 3 ... in insertion order; the entry's index is derived from it and the insertions since. */
  readonly seq: number;
}

export class HpackEncoder {
  /** (name, value) → insertion number; name → the latest insertion with that name. */
  private readonly byPair = new Map<string, Map<string, number>>();
  private readonly byName = new Map<string, number>();
  private readonly table: Entry[] = [];
  private tableSize = 0;
  private inserted = 0;
  /** Insertion numbers at or below this have been evicted. */
  private evictedTo = 0;
  private capacity: number;
  private sizeUpdate: number | undefined;
  private scratch = Buffer.allocUnsafe(4096);
  private pos = 0;

  constructor(capacity = 4096) {
    this.capacity = capacity;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed (RFC 7541 4.2): we use at most that much. */
  setPeerCapacity(peerMax: number, ourMax = 4096): void {
    const cap = Math.min(peerMax, ourMax);
    if (cap === this.capacity) return;
    this.capacity = cap;
    this.sizeUpdate = Math.min(this.sizeUpdate ?? cap, cap);
    this.evict(0);
  }

  /**
   * Encode one header block; the result has `reserve` bytes free at its start for the frame header.
   * Must be called in the order the blocks go on the wire (the peer's table follows ours).
   */
  encode(fields: ReadonlyArray<readonly [string, string]>, reserve: number): Buffer {
    this.pos = reserve;
    if (this.sizeUpdate !== undefined) {
      this.int(this.sizeUpdate, 5, 0x20);
      if (this.sizeUpdate !== this.capacity) this.int(this.capacity, 5, 0x20);
      this.sizeUpdate = undefined;
    }
    for (const [name, value] of fields) this.field(name, value);
    const out = Buffer.allocUnsafe(this.pos);
    this.scratch.copy(out, 0, 0, this.pos);
    return out;
  }

  private field(name: string, value: string): void {
    const seq = this.byPair.get(name)?.get(value);
    if (seq !== undefined && seq > this.evictedTo) return this.int(this.indexOf(seq), 7, 0x80);
    const stat = STATIC_PAIR.get(`${name}\0${value}`);
    if (stat !== undefined) return this.int(stat, 7, 0x80);
    const nameSeq = this.byName.get(name);
    const nameIndex = nameSeq !== undefined && nameSeq > this.evictedTo ? this.indexOf(nameSeq) : STATIC_NAME.get(name);
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if ((VARYING.has(name) && nameIndex !== undefined) || size > this.capacity) {
      // 6.2.2 Literal Header Field without Indexing.
      if (nameIndex !== undefined) this.int(nameIndex, 4, 0x00);
      else {
        this.int(0, 4, 0x00);
        this.str(name);
      }
      return this.str(value);
    }
    // 6.2.1 Literal Header Field with Incremental Indexing.
    if (nameIndex !== undefined) this.int(nameIndex, 6, 0x40);
    else {
      this.int(0, 6, 0x40);
      this.str(name);
    }
    this.str(value);
    this.insert(name, value, size);
  }

  /** RFC 7541 2.3.3: the newest entry is 62, older ones count up from it. */
  private indexOf(seq: number): number {
    return STATIC_COUNT + 1 + (this.inserted - seq);
  }

  private insert(name: string, value: string, size: number): void {
    this.evict(size);
    const seq = ++this.inserted;
    this.table.push({ name, value, size, seq });
    this.tableSize += size;
    let values = this.byPair.get(name);
    if (values === undefined) this.byPair.set(name, (values = new Map()));
    values.set(value, seq);
    this.byName.set(name, seq);
  }

  /** RFC 7541 4.4: evict oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.table.length > 0 && this.tableSize + room > this.capacity) {
      const e = this.table.shift()!;
      this.tableSize -= e.size;
      this.evictedTo = e.seq;
      // Forget it too, so a connection that sees many values (tenants) keeps bounded maps.
      const values = this.byPair.get(e.name);
      if (values?.get(e.value) === e.seq) values.delete(e.value);
      if (this.byName.get(e.name) === e.seq) this.byName.delete(e.name);
    }
    if (this.table.length === 0) this.evictedTo = this.inserted;
  }

  private room(n: number): void {
    if (this.pos + n <= this.scratch.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.pos + n));
    this.scratch.copy(bigger, 0, 0, this.pos);
    this.scratch = bigger;
  }

  /** RFC 7541 5.1: an integer with an N-bit prefix, the representation's pattern bits in `mark`. */
  private int(v: number, prefixBits: number, mark: number): void {
    this.room(6);
    const max = (1 << prefixBits) - 1;
    if (v < max) {
      this.scratch[this.pos++] = mark | v;
      return;
    }
    this.scratch[this.pos++] = mark | max;
    v -= max;
    while (v >= 128) {
      this.scratch[this.pos++] = (v % 128) + 128;
      v = Math.floor(v / 128);
    }
    this.scratch[this.pos++] = v;
  }

  /** RFC 7541 5.2 with H=0. */
  private str(s: string): void {
    this.int(s.length, 7, 0x00);
    this.room(s.length);
    this.pos += this.scratch.write(s, this.pos, 'latin1');
  }
}
