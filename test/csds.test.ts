import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdsTestClient, type SotwTestStream } from './support/ads-client.js';
import { startControlPlane, until, type RunningControlPlane } from './support/control-plane.js';
import type { ClientStatusResponseMessage } from '../control-plane/csds/csds-server.js';
import { csdsClient, type CsdsClient } from './support/csds-client.js';
import { TYPE_URL } from '../xds/resource.js';

// Client Status Discovery Service on the control plane's gRPC port, read by a gRPC client built from
// Envoy's csds.proto alone (as istioctl or grpcdebug would), while raw ADS streams ACK, NACK or stay silent.

type Req = { node_matchers?: { node_id: { exact?: string; prefix?: string } }[] };

describe('CSDS: per-node sync status over envoy.service.status.v3', () => {
  let cp: RunningControlPlane;
  let ads: AdsTestClient;
  let csds: CsdsClient;
  const streams: SotwTestStream[] = [];

  const fetch = (req: Req): Promise<ClientStatusResponseMessage> => csds.fetch(req);
  const cds = (res: ClientStatusResponseMessage, id: string) =>
    res.config.find((c) => c.node.id === id)?.generic_xds_configs.find((g) => g.type_url === TYPE_URL.cluster);

  beforeAll(async () => {
    cp = await startControlPlane({ yaml: 'gateway:\n  proxy:\n    default: { url: "http://127.0.0.2:9" }\n' });
    ads = new AdsTestClient(cp.xdsPort);
    for (const id of ['csds-a', 'csds-b', 'csds-c']) {
      const s = ads.sotw();
      s.send({ node: { id, cluster: 'csds', user_agent_name: 'csds-test', metadata: null }, type_url: TYPE_URL.cluster, resource_names: [] });
      const res = await s.next(5000);
      if (id === 'csds-a') s.ack(res);
      if (id === 'csds-b') s.nack(res, 'cluster query_frontend: unsupported lb_policy');
      streams.push(s);
    }
    csds = csdsClient(cp.xdsAddress);
    await until(async () => cds(await fetch({}), 'csds-b')?.config_status === 'ERROR', 5000, 'the NACK to show in CSDS');
  });

  afterAll(async () => {
    for (const s of streams) s.cancel();
    ads?.close();
    csds?.close();
    await cp?.stop();
  });

  it('FetchClientStatus: every connected node, each type SYNCED / STALE / ERROR / NOT_SENT with versions', async () => {
    const res = await fetch({});
    expect(res.config.map((c) => c.node.id).sort()).toEqual(['csds-a', 'csds-b', 'csds-c']);
    const a = cds(res, 'csds-a')!;
    expect(a.config_status).toBe('SYNCED');
    expect(a.client_status).toBe('ACKED');
    expect(a.version_info).not.toBe('');
    const b = cds(res, 'csds-b')!;
    expect(b.config_status).toBe('ERROR');
    expect(b.error_state?.details).toBe('cluster query_frontend: unsupported lb_policy');
    expect(b.error_state?.version_info).toBe(a.version_info);
    expect(cds(res, 'csds-c')!.config_status).toBe('STALE');
    const listener = res.config.find((c) => c.node.id === 'csds-a')!.generic_xds_configs.find((g) => g.type_url === TYPE_URL.listener)!;
    expect(listener.config_status).toBe('NOT_SENT');
    expect(res.config.find((c) => c.node.id === 'csds-a')!.node.cluster).toBe('csds');
  });

  it('node matchers: node id exact and prefix', async () => {
    expect((await fetch({ node_matchers: [{ node_id: { exact: 'csds-b' } }] })).config.map((c) => c.node.id)).toEqual(['csds-b']);
    expect((await fetch({ node_matchers: [{ node_id: { prefix: 'csds-' } }] })).config).toHaveLength(3);
    expect((await fetch({ node_matchers: [{ node_id: { prefix: 'nobody' } }] })).config).toHaveLength(0);
  });

  it('StreamClientStatus answers each request on the open stream', async () => {
    const call = csds.stream();
    const answers: ClientStatusResponseMessage[] = [];
    call.on('data', (r: ClientStatusResponseMessage) => answers.push(r));
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => {}); // the status says it
    call.write({ node_matchers: [{ node_id: { exact: 'csds-a' } }] });
    await until(() => answers.length === 1, 5000, 'the first answer');
    streams[2]!.cancel(); // csds-c leaves
    await until(async () => !(await fetch({})).config.some((c) => c.node.id === 'csds-c'), 5000, 'csds-c to leave');
    call.write({});
    await until(() => answers.length === 2, 5000, 'the second answer');
    expect(answers[0]!.config.map((c) => c.node.id)).toEqual(['csds-a']);
    expect(answers[1]!.config.map((c) => c.node.id).sort()).toEqual(['csds-a', 'csds-b']);
    call.end();
    expect((await ended).code).toBe(grpc.status.OK);
  });
});
