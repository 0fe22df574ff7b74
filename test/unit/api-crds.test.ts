import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { renderCrds, KINDS } from '../../src/api/index.ts';
import { CRD_DIR } from '../../src/api/generate.ts';

test('committed CRDs in deploy/crds match the API definition (run `node src/api/generate.ts` if not)', () => {
  const want = renderCrds();
  const have = readdirSync(CRD_DIR).filter((f) => f.startsWith('ironlb.io_'));
  assert.deepEqual(have.sort(), [...want.keys()].sort(), 'the set of CRD files differs');
  for (const [name, text] of want) {
    assert.equal(readFileSync(`${CRD_DIR}/${name}`, 'utf8'), text, `deploy/crds/${name} is stale`);
  }
});

test('every CRD is apiextensions.k8s.io/v1 with a structural schema, printer columns and the right scope', () => {
  for (const text of renderCrds().values()) {
    const crd = parse(text);
    assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
    const def = Object.values(KINDS).find((k) => k.kind === crd.spec.names.kind);
    assert.ok(def, `unknown kind ${crd.spec.names.kind}`);
    assert.equal(crd.metadata.name, `${def.plural}.ironlb.io`);
    assert.equal(crd.spec.scope, def.scope);
    const v = crd.spec.versions[0];
    assert.equal(v.name, 'v1alpha1');
    assert.equal(v.schema.openAPIV3Schema.type, 'object');
    assert.ok(v.additionalPrinterColumns.length >= 1);
    assert.equal(Boolean(v.subresources?.status), def.statusSubresource);
  }
});

test('IPPool CRD carries defaults; BGPPeer CRD carries its cross-field CEL rules', () => {
  const pool = parse(renderCrds().get('ironlb.io_ippools.yaml') as string);
  assert.equal(pool.spec.scope, 'Cluster');
  const spec = pool.spec.versions[0].schema.openAPIV3Schema.properties.spec;
  assert.deepEqual(spec.required, ['addresses']);
  assert.equal(spec.properties.autoAssign.default, true);
  assert.equal(spec.properties.avoidBuggyIPs.default, false);
  const peer = parse(renderCrds().get('ironlb.io_bgppeers.yaml') as string);
  const rules = peer.spec.versions[0].schema.openAPIV3Schema.properties.spec['x-kubernetes-validations'] as Array<{ rule: string; message: string }>;
  assert.ok(rules.some((r) => r.rule === 'has(self.peerASN) != has(self.dynamicASN)'));
  assert.ok(rules.some((r) => /keepaliveTime/.test(r.message)));
});
