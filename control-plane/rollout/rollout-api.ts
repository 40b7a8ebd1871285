// The rollout API: what is being rolled out, to whom, the figures against the thresholds and the
// decision; manual promote and abort. Peer replicas read GET too (rollback wins across replicas).

import type { FastifyInstance } from 'fastify';
import { ERRORS } from '../../core/errors.js';
import { ROLLOUT_PATH, type Rollouts } from './rollouts.js';

export function registerRolloutApi(app: FastifyInstance, rollouts: Rollouts): void {
  app.get(ROLLOUT_PATH, async () => rollouts.status());

  const act = (name: 'promote' | 'abort', run: () => boolean): void => {
    app.post(`${ROLLOUT_PATH}/${name}`, async (_req, reply) => {
      if (!run()) {
        return reply.code(ERRORS.NO_ROLLOUT.status).send({ error: `no rollout is under way to ${name}; GET ${ROLLOUT_PATH} says how the last one ended`, code: ERRORS.NO_ROLLOUT.code });
      }
      return rollouts.status();
    });
  };
  act('promote', () => rollouts.promoteNow());
  act('abort', () => rollouts.abortNow());
}
