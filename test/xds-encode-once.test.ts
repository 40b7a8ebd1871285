import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../xds/resource.js';
import { deltaContents, eventually, metricValue, sotwContents, startAds, type AdsHarness, type DeltaTestStream, type SotwTestStream } from './support/ads-client.js';
import { cluster, snapshotOf } from './support/xds-fixtures.js';

// Each resource is encoded once per version and protocol, whatever the number of streams it is pushed
// to (control-plane/xds/response-encoding.ts). Counted with control_plane_xds_resource_encodings_total
// over real ADS streams, SotW and delta side by side; every stream still decodes what it was sent.

const CDS = TYPE_URL.cluster;
const STREAMS = 6;

let h: AdsHarness;
let sotw: SotwTestStream[];
let delta: DeltaTestStream[];

beforeEach(async () => {
  h = await startAds();
  sotw = Array.from({ length: STREAMS }, () => h.client.sotw());
  delta = Array.from({ length: STREAMS }, () => h.client.delta());
});

afterEach(async () => {
  for (const s of [...sotw, ...delta]) s.cancel();
  await h.close();
});

const encodings = (): Promise<number> => metricValue(h.registry, 'control_plane_xds_resource_encodings_total', { type: 'cds' });
const responses = async (): Promise<number> =>
  (await metricValue(h.registry, 'control_plane_xds_responses_total', { type: 'cds', protocol: 'sotw' })) +
  (await metricValue(h.registry, 'control_plane_xds_responses_total', { type: 'cds', protocol: 'delta' }));

describe('xDS responses encode each resource once', () => {
  it(`for ${STREAMS} SotW and ${STREAMS} delta streams, on the first push and on a change`, async () => {
    const clusters = Array.from({ length: 20 }, (_, i) => cluster(`c${i}`));
    h.cache.setSnapshot(snapshotOf(...clusters));
    for (const s of sotw) s.send({ type_url: CDS });
    for (const s of delta) s.send({ type_url: CDS });
    const expected = clusters.map((c) => `${c.name}|v1`).sort();
    const firstSotw = await Promise.all(sotw.map((s) => s.next()));
    const firstDelta = await Promise.all(delta.map((s) => s.next()));
    for (const r of firstSotw) expect(sotwContents(r).sort()).toEqual(expected);
    for (const r of firstDelta) expect(deltaContents(r).sort()).toEqual(expected);
    expect(await responses()).toBe(2 * STREAMS);
    // 20 resources, once as a SotW Any and once as a delta Resource: not 20 per stream.
    expect(await encodings()).toBe(2 * 20);

    firstSotw.forEach((r, i) => sotw[i]!.ack(r));
    firstDelta.forEach((r, i) => delta[i]!.ack(r));
    await eventually(() => h.cache.watchCount() === 2 * STREAMS, 20_000, 'every ACK processed');

    // One cluster changes; the other 19 are the same resource objects (as unchanged resources are).
    h.cache.setSnapshot(snapshotOf(cluster('c0', 'v2'), ...clusters.slice(1)));
    const secondSotw = await Promise.all(sotw.map((s) => s.next()));
    const secondDelta = await Promise.all(delta.map((s) => s.next()));
    for (const r of secondSotw) expect(sotwContents(r)).toHaveLength(20); // full state
    // Streams in lockstep get one shared response: the same nonce (it pairs an ACK within one stream only).
    expect(new Set(firstSotw.map((r) => r.nonce)).size).toBe(1);
    expect(new Set(secondSotw.map((r) => r.nonce)).size).toBe(1);
    expect(secondSotw[0]!.nonce).not.toBe(firstSotw[0]!.nonce);
    for (const r of secondDelta) expect(deltaContents(r)).toEqual(['c0|v2']);
    expect(await responses()).toBe(4 * STREAMS);
    expect(await encodings()).toBe(2 * 20 + 2);
  });
});
