// Chooses the proxy for each backend: HTTP for http(s)://, httpgrpc for dns://.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ValueTree } from './config-schema.js';
import type { Service } from './services.js';
import type { Backend } from '../control-plane/model.js';
import { HttpUpstream } from '../data-plane/http-upstream.js';
import type { UpstreamFactory } from '../data-plane/state-builder.js';
import type { Upstream } from '../data-plane/upstream.js';

export interface UpstreamFactoryDeps {
  readonly tree: ValueTree;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly services: Service[];
}

export function createUpstreamFactory(_deps: UpstreamFactoryDeps): UpstreamFactory {
  return (backend: Backend): Upstream => {
    if (backend.target.kind === 'http') return new HttpUpstream(backend);
    throw new Error(`backend ${backend.name}: dns:// backends need the httpgrpc proxy`);
  };
}
