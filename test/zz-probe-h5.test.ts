import { it } from 'vitest';
import { translate } from '../control-plane/translate.js';
import { realisticInput } from './support/fixtures.js';
import { decodeResource } from '../control-plane/xds/protos.js';
import { TYPE_URL } from '../control-plane/xds/resource.js';
it('probe', () => {
const out = translate(realisticInput());
for (const r of out.get(TYPE_URL.listener)!) console.log(JSON.stringify(decodeResource(r.typeUrl, r.value)));
for (const r of out.get(TYPE_URL.cluster)!.slice(0,5)) console.log(JSON.stringify(decodeResource(r.typeUrl, r.value)));
});
