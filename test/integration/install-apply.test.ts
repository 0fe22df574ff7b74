// The plain manifest and the Kustomize base apply with kubectl to the in-repo API server; the
// CRDs they carry are served at once, and the example configuration applies on top.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { withApiServer } from '../support/apiserver.ts';
import { renderChart } from '../../src/install/chart.ts';
import { ROOT, toYamlDocs } from '../../src/install/render.ts';

const SERVICE_MONITOR_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'servicemonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: { kind: 'ServiceMonitor', listKind: 'ServiceMonitorList', plural: 'servicemonitors', singular: 'servicemonitor' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

test('kubectl apply -f deploy/manifests/ironlb.yaml, the Helm render, the example configurations, then apply -k the overlays', async () => {
  await withApiServer(async (s) => {
    const out = await s.kubectl(['apply', '-f', join(ROOT, 'deploy/manifests/ironlb.yaml')], { timeoutMs: 60_000 });
    assert.match(out, /namespace\/ironlb-system created/);
    assert.match(out, /customresourcedefinition.apiextensions.k8s.io\/ippools.ironlb.io created/);
    assert.match(out, /daemonset.apps\/ironlb-speaker created/);
    assert.match(out, /deployment.apps\/ironlb-controller created/);
    assert.match(out, /poddisruptionbudget.policy\/ironlb-controller created/);
    const ns = JSON.parse(await s.kubectl(['get', 'namespace', 'ironlb-system', '-o', 'json'])) as { metadata: { labels: Record<string, string> } };
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
    const names = (await s.kubectl(['get', 'clusterroles,roles', '-A', '-o', 'name'])).split('\n').filter(Boolean).sort();
    assert.deepEqual(names, ['clusterrole.rbac.authorization.k8s.io/ironlb-controller', 'clusterrole.rbac.authorization.k8s.io/ironlb-speaker', 'role.rbac.authorization.k8s.io/ironlb-controller', 'role.rbac.authorization.k8s.io/ironlb-speaker']);

    // Re-applying is a no-op (idempotent install).
    const again = await s.kubectl(['apply', '-f', join(ROOT, 'deploy/manifests/ironlb.yaml')], { timeoutMs: 60_000 });
    assert.doesNotMatch(again, /created/);

    // The Helm chart's own render (default values: generated membership Secret, no Namespace
    // object) applies over the same install.
    const helm = await s.kubectl(['apply', '-f', '-'], { input: toYamlDocs(renderChart({ includeCrds: false }).map((r) => r.object)), timeoutMs: 60_000 });
    assert.match(helm, /secret\/ironlb-membership created/);

    // The example configurations apply against the CRDs the manifest installed.
    for (const f of ['values-layer2.yaml', 'values-bgp.yaml']) {
      const values = parse(readFileSync(join(ROOT, 'deploy/helm/ironlb/examples', f), 'utf8')) as Record<string, unknown>;
      const config = renderChart({ values, includeCrds: false }).map((r) => r.object).filter((o) => o.apiVersion.startsWith('ironlb.io/'));
      const res = await s.kubectl(['apply', '-f', '-'], { input: toYamlDocs(config) });
      assert.match(res, /created/, f);
    }
    const pools = (await s.kubectl(['get', 'ippools', '-o', 'name'])).split('\n').filter(Boolean).sort();
    assert.deepEqual(pools, ['ippool.ironlb.io/default', 'ippool.ironlb.io/public']);
    // Field validation from the CRD schema is in force.
    await assert.rejects(
      s.kubectl(['apply', '-f', '-'], { input: stringify({ apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name: 'bad' }, spec: { addresses: ['10.0.0.0/24'], bogus: 1 } }) }),
      /unknown field/,
    );

    // The Kustomize base and the overlays apply over the same objects. The prometheus overlay
    // needs the Prometheus Operator's ServiceMonitor CRD: a stand-in that keeps any field.
    await s.kubectl(['apply', '-k', join(ROOT, 'deploy/kustomize/base')], { timeoutMs: 60_000 });
    await s.kubectl(['apply', '-f', '-'], { input: stringify(SERVICE_MONITOR_CRD) });
    const prom = await s.kubectl(['apply', '-k', join(ROOT, 'deploy/kustomize/overlays/prometheus')], { timeoutMs: 60_000 });
    assert.match(prom, /servicemonitor.monitoring.coreos.com\/ironlb-speaker created/);
    assert.match(prom, /service\/ironlb-controller-metrics created/);
    await s.kubectl(['apply', '-k', join(ROOT, 'deploy/kustomize/overlays/l2-only')], { timeoutMs: 60_000 });
    const ds = JSON.parse(await s.kubectl(['get', 'daemonset', '-n', 'ironlb-system', 'ironlb-speaker', '-o', 'json'])) as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
    assert.ok(ds.spec.template.spec.containers[0]?.args.includes('--no-bgp-listen'));
  });
});
