import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdsTestClient, type SotwTestStream } from './support/ads-client.js';
import { startControlPlane, until, type RunningControlPlane } from './support/control-plane.js';
import type { ClientStatusResponseMessage } from '../control-plane/csds/csds-server.js';
import { csdsClient, type CsdsClient } from './support/csds-client.js';
import { TYPE_URL } from '../xds/resource.js';

// CSDS node_matchers as csds.proto says ("The match follows OR semantics"), tried with a client built
// from Envoy's csds.proto alone, as an xDS tool would: every StringMatcher form on node_id, with
// ignore_case, and refusals (INVALID_ARGUMENT naming what is not supported) instead of "match all".

type StringMatcher = { exact?: string; prefix?: string; suffix?: string; contains?: string; safe_regex?: { regex: string }; ignore_case?: boolean };
type Req = { node_matchers?: { node_id?: StringMatcher; node_metadatas?: unknown[] }[] };

const IDS = ['edge-a.zone1', 'edge-b.zone1', 'core-c.zone2'];

describe('CSDS node matchers', () => {
  let cp: RunningControlPlane;
  let ads: AdsTestClient;
  let csds: CsdsClient;
  const streams: SotwTestStream[] = [];

  const fetch = (req: Req): Promise<ClientStatusResponseMessage> => csds.fetch(req);
  const ids = async (req: Req): Promise<string[]> => (await fetch(req)).config.map((c) => c.node.id ?? '').sort();
  const refusal = async (req: Req): Promise<grpc.ServiceError> => {
    try {
      await fetch(req);
    } catch (err) {
      return err as grpc.ServiceError;
    }
    throw new Error(`${JSON.stringify(req)} was answered, not refused`);
  };

  beforeAll(async () => {
    cp = await startControlPlane({ yaml: 'gateway:\n  proxy:\n    default: { url: "http://127.0.0.2:9" }\n' });
    ads = new AdsTestClient(cp.xdsPort);
    for (const id of IDS) {
      const s = ads.sotw();
      s.send({ node: { id, cluster: 'edge', user_agent_name: 'csds-test', user_agent_version: '9.8.7', metadata: null }, type_url: TYPE_URL.cluster, resource_names: [] });
      s.ack(await s.next(5000));
      streams.push(s);
    }
    csds = csdsClient(cp.xdsAddress);
    await until(async () => (await fetch({})).config.length === IDS.length, 5000, 'three nodes in CSDS');
  });

  afterAll(async () => {
    for (const s of streams) s.cancel();
    ads?.close();
    csds?.close();
    await cp?.stop();
  });

  it('ORs several matchers (two exact ids return both, not nothing)', async () => {
    expect(await ids({ node_matchers: [{ node_id: { exact: 'edge-a.zone1' } }, { node_id: { exact: 'core-c.zone2' } }] })).toEqual(['core-c.zone2', 'edge-a.zone1']);
    expect(await ids({ node_matchers: [{ node_id: { exact: 'nobody' } }, { node_id: { suffix: '.zone2' } }] })).toEqual(['core-c.zone2']);
  });

  it('honours exact, prefix, suffix, contains and safe_regex (a full match)', async () => {
    expect(await ids({ node_matchers: [{ node_id: { exact: 'edge-b.zone1' } }] })).toEqual(['edge-b.zone1']);
    expect(await ids({ node_matchers: [{ node_id: { prefix: 'edge-' } }] })).toEqual(['edge-a.zone1', 'edge-b.zone1']);
    expect(await ids({ node_matchers: [{ node_id: { suffix: '.zone1' } }] })).toEqual(['edge-a.zone1', 'edge-b.zone1']);
    expect(await ids({ node_matchers: [{ node_id: { contains: '-c.' } }] })).toEqual(['core-c.zone2']);
    expect(await ids({ node_matchers: [{ node_id: { safe_regex: { regex: '(edge|core)-[ac]\\.zone\\d' } } }] })).toEqual(['core-c.zone2', 'edge-a.zone1']);
    // RE2 FullMatch, as Envoy: a regex matching part of the id does not match the id.
    expect(await ids({ node_matchers: [{ node_id: { safe_regex: { regex: 'edge' } } }] })).toEqual([]);
    expect(await ids({ node_matchers: [{ node_id: { suffix: 'zone3' } }] })).toEqual([]);
  });

  it('honours ignore_case on exact, prefix, suffix and contains', async () => {
    expect(await ids({ node_matchers: [{ node_id: { exact: 'EDGE-A.Zone1' } }] })).toEqual([]);
    expect(await ids({ node_matchers: [{ node_id: { exact: 'EDGE-A.Zone1', ignore_case: true } }] })).toEqual(['edge-a.zone1']);
    expect(await ids({ node_matchers: [{ node_id: { prefix: 'CORE', ignore_case: true } }] })).toEqual(['core-c.zone2']);
    expect(await ids({ node_matchers: [{ node_id: { suffix: 'ZONE1', ignore_case: true } }] })).toEqual(['edge-a.zone1', 'edge-b.zone1']);
    expect(await ids({ node_matchers: [{ node_id: { contains: 'B.ZO', ignore_case: true } }] })).toEqual(['edge-b.zone1']);
    expect(await ids({ node_matchers: [{ node_id: { contains: 'B.ZO' } }] })).toEqual([]);
  });

  it('refuses what it cannot honour with INVALID_ARGUMENT naming it', async () => {
    const meta = await refusal({
      node_matchers: [{ node_id: { prefix: 'edge' }, node_metadatas: [{ path: [{ key: 'zone' }], value: { string_match: { exact: 'z1' } } }] }],
    });
    expect(meta.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(meta.details).toContain('node_matchers[0].node_metadatas is not supported');
    const regex = await refusal({ node_matchers: [{ node_id: { exact: 'x' } }, { node_id: { safe_regex: { regex: 'edge-(' } } }] });
    expect(regex.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(regex.details).toContain('node_matchers[1].node_id.safe_regex.regex "edge-(" does not compile');
    const empty = await refusal({ node_matchers: [{ node_id: {} }] });
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(empty.details).toContain('node_matchers[0].node_id: the StringMatcher sets none of exact, prefix, suffix, contains, safe_regex');
  });

  it('StreamClientStatus ends the stream with INVALID_ARGUMENT on a matcher it cannot honour', async () => {
    const call = csds.stream();
    const answers: ClientStatusResponseMessage[] = [];
    call.on('data', (r: ClientStatusResponseMessage) => answers.push(r));
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => {});
    call.write({ node_matchers: [{ node_id: { suffix: '.zone2' } }] });
    await until(() => answers.length === 1, 5000, 'the first answer');
    expect(answers[0]!.config.map((c) => c.node.id)).toEqual(['core-c.zone2']);
    call.write({ node_matchers: [{ node_metadatas: [{ path: [{ key: 'k' }] }] }] });
    const status = await ended;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain('node_metadatas');
  });

  it("reports each node's user agent name and version as the node sent them", async () => {
    const node = (await fetch({ node_matchers: [{ node_id: { exact: 'edge-a.zone1' } }] })).config[0]!.node;
    expect(node.user_agent_name).toBe('csds-test');
    expect(node.user_agent_version).toBe('9.8.7');
  });
});
