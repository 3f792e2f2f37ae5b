/** The HCM's numeric enum maps must match the protos (generated enums are type-only at run time). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { typeRegistry } from '../../../../src/config/type_registry.js';
import { CodecTypeValue, ServerHeaderTransformationValue } from '../../../../src/extensions/filters/network/http_connection_manager/hcm_enums.js';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function enumValues(fullName: string): Record<string, number> {
  const e = typeRegistry().getEnum(fullName);
  assert.ok(e, `enum ${fullName} in the registry`);
  return Object.fromEntries(e.values.map((v) => [v.name, v.number]));
}

it('CodecType and ServerHeaderTransformation match the descriptors', () => {
  assert.deepEqual(enumValues(`${HCM}.CodecType`), CodecTypeValue);
  assert.deepEqual(enumValues(`${HCM}.ServerHeaderTransformation`), ServerHeaderTransformationValue);
});
