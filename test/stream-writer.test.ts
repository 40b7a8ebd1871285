import { describe, expect, it } from 'vitest';
import { SendBudget, StreamWriter } from '../control-plane/xds/stream-writer.js';

// Paced writes to ADS streams: one write in flight per stream, a bound on the bytes in flight over all
// streams, and a slow stream gets only the newest response of a type.

function transport() {
  const writes: { bytes: Buffer; done: () => void }[] = [];
  return { writes, write: (bytes: Buffer, done: () => void) => void writes.push({ bytes, done }) };
}

describe('StreamWriter and SendBudget', () => {
  it('a slow stream gets the newest response of a type, in the order types were first queued', () => {
    const t = transport();
    const w = new StreamWriter(new SendBudget(1000), t.write);
    w.send(Buffer.from('cds-1'), 'cds');
    w.send(Buffer.from('cds-2'), 'cds');
    w.send(Buffer.from('eds-1'), 'eds');
    w.send(Buffer.from('cds-3'), 'cds');
    expect(t.writes.map((x) => x.bytes.toString())).toEqual(['cds-1']);
    t.writes[0]!.done();
    t.writes[1]!.done();
    expect(t.writes.map((x) => x.bytes.toString())).toEqual(['cds-1', 'cds-3', 'eds-1']);
  });

  it('keeps the bytes in flight over all streams within the budget; the rest wait their turn, first come first served', () => {
    const budget = new SendBudget(250);
    const t = transport();
    const writers = [0, 1, 2, 3].map(() => new StreamWriter(budget, t.write));
    const shared = Buffer.alloc(100); // one response, shared by every stream
    for (const w of writers) w.send(shared, 'eds');
    expect(t.writes).toHaveLength(2);
    expect(budget.bytesInFlight).toBe(200);
    t.writes[0]!.done();
    expect(t.writes).toHaveLength(3);
    t.writes[1]!.done();
    t.writes[2]!.done();
    expect(t.writes).toHaveLength(4);
    t.writes[3]!.done();
    expect(budget.bytesInFlight).toBe(0);
    // One write larger than the budget still goes when nothing else is in flight.
    writers[0]!.send(Buffer.alloc(1000), 'cds');
    expect(t.writes).toHaveLength(5);
  });

  it('a stream that ends gives its share back, and its queued responses are dropped', () => {
    const budget = new SendBudget(100);
    const t = transport();
    const a = new StreamWriter(budget, t.write);
    const b = new StreamWriter(budget, t.write);
    a.send(Buffer.alloc(100), 'eds');
    b.send(Buffer.alloc(100), 'eds');
    expect(t.writes).toHaveLength(1);
    a.close(); // its write never completes (the call is gone)
    expect(t.writes).toHaveLength(2);
    expect(budget.bytesInFlight).toBe(100);
  });
});
