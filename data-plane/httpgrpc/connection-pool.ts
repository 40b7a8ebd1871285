import type { Endpoint } from '../../core/model.js';
import { formatHostPort } from '../../core/model.js';
import { EndpointConnection, type ConnectionSettings } from './endpoint-connection.js';

export { HANDLE_METHOD } from './grpc-wire.js';
type Listener = () => void;

/**
 * Connections by address, reference-counted (grpc-js subchannel-pool.ts habit): an owner that lists
 * an address again gets the same connection, so rebuilding an endpoint set never reconnects the
 * endpoints that stay, and a released connection lives until its last in-flight call ends.
 * One pool holds one set of ConnectionSettings; owners with other settings need their own pool.
 */
export class ConnectionPool {
  private readonly connections = new Map<string, EndpointConnection>();

  constructor(private readonly settings: ConnectionSettings) {}

  acquire(endpoint: Endpoint, listener: Listener): EndpointConnection {
    const key = formatHostPort(endpoint.address, endpoint.port);
    let conn = this.connections.get(key);
    if (conn === undefined) {
      conn = new EndpointConnection(endpoint, this.settings, (c) => this.closeIfUnused(c));
      this.connections.set(key, conn);
    }
    conn.listeners.add(listener);
    return conn;
  }

  release(conn: EndpointConnection, listener: Listener): void {
    conn.listeners.delete(listener);
    this.closeIfUnused(conn);
  }

  private closeIfUnused(conn: EndpointConnection): void {
    if (conn.listeners.size > 0 || conn.inFlight > 0) return;
    if (this.connections.get(conn.address) === conn) this.connections.delete(conn.address);
    conn.close();
  }

  /** Open connections (released ones still finishing calls included). */
  get size(): number {
    return this.connections.size;
  }
}
