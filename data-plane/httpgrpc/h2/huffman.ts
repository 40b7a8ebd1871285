// HPACK's Huffman code (RFC 7541 5.2, Appendix B), decoding only: this client sends its few literal
// strings raw. Go's and C-core's servers Huffman-encode what they index (content-type, grpc-message).
import { ConnectionError, H2Error } from './frames.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './hpack-tables.js';

const EOS = 256;

/**
 * A binary trie in one array: node n's children sit at 2n (bit 0) and 2n+1 (bit 1); a child value
 * > 0 is the next node, < 0 is a leaf holding symbol -(value + 1). 0 = no such code.
 */
const trie = buildTrie();

function buildTrie(): Int32Array {
  const t = new Int32Array(2 * 512);
  let nodes = 1;
  const add = (code: number, len: number, sym: number): void => {
    let n = 0;
    for (let i = len - 1; i >= 0; i--) {
      const slot = 2 * n + ((code >>> i) & 1);
      if (i === 0) {
        t[slot] = -(sym + 1);
      } else {
        if (t[slot] === 0) t[slot] = nodes++;
        n = t[slot]!;
      }
    }
  };
  for (let sym = 0; sym < 256; sym++) add(HUFFMAN_CODES[sym]!, HUFFMAN_LENGTHS[sym]!, sym);
  add(0x3fffffff, 30, EOS);
  return t;
}

/**
 * Decode `src[start, end)` to a latin1 string. RFC 7541 5.2: padding is at most 7 bits, all ones (the
 * EOS prefix); EOS itself inside a string, or any other padding, is a COMPRESSION_ERROR.
 */
export function huffmanDecode(src: Buffer, start: number, end: number): string {
  const out = Buffer.allocUnsafe(Math.ceil(((end - start) * 8) / 5));
  let o = 0;
  let node = 0;
  /** Bits read since the last symbol ended, and whether they were all ones. */
  let pending = 0;
  let allOnes = true;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >>> b) & 1;
      const next = trie[2 * node + bit]!;
      pending++;
      if (bit === 0) allOnes = false;
      if (next < 0) {
        const sym = -next - 1;
        if (sym === EOS) throw new ConnectionError(H2Error.COMPRESSION_ERROR, 'HPACK: EOS symbol inside a Huffman string');
        out[o++] = sym;
        node = 0;
        pending = 0;
        allOnes = true;
      } else {
        node = next;
      }
    }
  }
  if (pending > 7 || !allOnes) throw new ConnectionError(H2Error.COMPRESSION_ERROR, 'HPACK: invalid Huffman padding');
  return out.toString('latin1', 0, o);
}
