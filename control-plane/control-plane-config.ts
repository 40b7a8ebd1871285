// The `control_plane:` config block and its flags.

import { field, section, type FieldValue, type Section } from '../core/config-schema.js';

const atLeastOneSecond = (v: FieldValue): string | undefined =>
  typeof v === 'number' && v < 1000 ? `must be at least 1s (DNS is never asked more often), got ${v}ms` : undefined;

export const controlPlaneSchema: Section = section({
  dns: section({
    lookup_period: field('duration', 5000, 'How often dns:// backend names are resolved again (also when their TTL expires, at most once a second).', {
      check: atLeastOneSecond,
    }),
  }),
});
