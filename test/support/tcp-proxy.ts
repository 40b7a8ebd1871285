// A TCP forwarder on loopback whose connections the test can reset (RST, as a crashed pod or a
// dropped conntrack entry looks to the peer) while a call is in flight.

import net from 'node:net';
import { once } from 'node:events';

export class TcpProxy {
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private readonly server: net.Server;
  port = 0;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(
    readonly host: string,
    private readonly target: { host: string; port: number },
  ) {
    this.server = net.createServer((client) => {
      this.accepted++;
      const upstream = net.connect(target.port, target.host);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const drop = (): void => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
    });
  }

  static async start(host: string, target: { host: string; port: number }): Promise<TcpProxy> {
    const p = new TcpProxy(host, target);
    p.server.listen(0, host);
    await once(p.server, 'listening');
    p.port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  get open(): number {
    return this.pairs.size;
  }

  /**
   * Stops forwarding on every open connection without closing it: the peer behind it has stopped
   * answering (a frozen process, a black-holed route). New connections are forwarded as before.
   */
  freezeAll(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Resets both sides of every open connection. */
  resetAll(): void {
    for (const [client, upstream] of [...this.pairs]) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.resetAll();
    this.server.close();
    if (this.server.listening) await once(this.server, 'close');
  }
}
