// HPACK decoding (RFC 7541): integers (5.1), string literals raw or Huffman (5.2), the static and
// dynamic tables (2.3, 4), every field representation (6.1-6.2) and dynamic table size updates (6.3).
// One decoder per connection, fed every header block in the order received (RFC 9113 4.3): a block
// that fails to decode leaves the table out of step, so every failure is a connection error
// COMPRESSION_ERROR. The decoded list is bounded by SETTINGS_MAX_HEADER_LIST_SIZE.
import { ConnectionError, H2Error } from './frames.js';
import { huffmanDecode } from './huffman.js';
import { STATIC_TABLE } from './hpack-tables.js';

/** RFC 7541 4.1: an entry's size is its name and value lengths plus 32. */
export const ENTRY_OVERHEAD = 32;
const STATIC_COUNT = STATIC_TABLE.length - 1;

/** A decoded header list: names and values side by side, in order. */
export interface HeaderList {
  readonly names: string[];
  readonly values: string[];
  /** Set when the list broke a rule of RFC 9113 8.2 (a stream error, not a connection error). */
  malformed?: string;
}

const fail = (why: string): ConnectionError => new ConnectionError(H2Error.COMPRESSION_ERROR, `HPACK: ${why}`);
const UPPERCASE = /[A-Z]/;

export class HpackDecoder {
  /** Dynamic table, oldest first (index 62 is the last element). */
  private readonly entries: Array<readonly [string, string]> = [];
  private size = 0;
  private capacity: number;

  constructor(
    /** Our SETTINGS_HEADER_TABLE_SIZE: the largest table the peer may ask for (4.2). */
    private readonly maxCapacity: number,
    private readonly maxListSize: number,
  ) {
    this.capacity = maxCapacity;
  }

  decode(block: Buffer): HeaderList {
    const list: HeaderList = { names: [], values: [] };
    let listSize = 0;
    let pos = 0;
    let fieldSeen = false;
    const end = block.length;
    const int = (prefixBits: number): number => {
      // RFC 7541 5.1; values above 2^31 are refused rather than carried as lossy doubles.
      if (pos >= end) throw fail('truncated integer');
      const mask = (1 << prefixBits) - 1;
      let v = block[pos++]! & mask;
      if (v < mask) return v;
      let shift = 0;
      for (;;) {
        if (pos >= end) throw fail('truncated integer');
        const b = block[pos++]!;
        v += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (v > 0x7fffffff) throw fail('integer overflow');
        if ((b & 0x80) === 0) return v;
      }
    };
    const str = (): string => {
      if (pos >= end) throw fail('truncated string');
      const huffman = (block[pos]! & 0x80) !== 0;
      const len = int(7);
      if (len > end - pos) throw fail(`string of ${len} bytes overruns the block`);
      const s = huffman ? huffmanDecode(block, pos, pos + len) : block.toString('latin1', pos, pos + len);
      pos += len;
      return s;
    };
    const emit = (name: string, value: string): void => {
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize > this.maxListSize) {
        list.malformed = `header list larger than ${this.maxListSize} bytes`;
        return;
      }
      list.names.push(name);
      list.values.push(value);
    };
    while (pos < end) {
      const b = block[pos]!;
      if (b & 0x80) {
        // 6.1 Indexed Header Field.
        const [name, value] = this.lookup(int(7));
        emit(name, value);
        fieldSeen = true;
      } else if ((b & 0xe0) === 0x20) {
        // 6.3 Dynamic Table Size Update: only before the first field of a block (4.2).
        if (fieldSeen) throw fail('dynamic table size update after a header field');
        const cap = int(5);
        if (cap > this.maxCapacity) throw fail(`table size update to ${cap} above SETTINGS_HEADER_TABLE_SIZE ${this.maxCapacity}`);
        this.capacity = cap;
        this.evict(0);
      } else {
        // 6.2.1 with incremental indexing (01xxxxxx, 6-bit index); 6.2.2 without / 6.2.3 never (4-bit).
        const indexing = (b & 0xc0) === 0x40;
        const index = int(indexing ? 6 : 4);
        let name: string;
        if (index === 0) {
          name = str();
          if (UPPERCASE.test(name)) list.malformed = `upper-case header name "${name}" (RFC 9113 8.2.1)`;
        } else {
          name = this.lookup(index)[0];
        }
        const value = str();
        if (indexing) this.insert(name, value);
        emit(name, value);
        fieldSeen = true;
      }
    }
    return list;
  }

  private lookup(index: number): readonly [string, string] {
    if (index === 0) throw fail('index 0');
    if (index <= STATIC_COUNT) return STATIC_TABLE[index]!;
    const e = this.entries[this.entries.length - (index - STATIC_COUNT)];
    if (e === undefined) throw fail(`index ${index} beyond the dynamic table (${this.entries.length} entries)`);
    return e;
  }

  /** RFC 7541 4.4: evict until the new entry fits; an entry larger than the table empties it and is not kept. */
  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(size);
    if (size <= this.capacity) {
      this.entries.push([name, value]);
      this.size += size;
    }
  }

  private evict(room: number): void {
    let drop = 0;
    while (this.size + room > this.capacity && drop < this.entries.length) {
      const [n, v] = this.entries[drop++]!;
      this.size -= n.length + v.length + ENTRY_OVERHEAD;
    }
    if (drop > 0) this.entries.splice(0, drop);
  }
}
