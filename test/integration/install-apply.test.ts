// Installing ironlb on the real kube-apiserver: `helm install` and `helm upgrade` (CRDs, RBAC, the
// membership Secret created once and kept on upgrade), then over a fresh control plane
// `kubectl apply -f deploy/manifests/ironlb.yaml`, the example configurations, and `kubectl apply -k`
// of the Kustomize base and each overlay. kubectl is the one built from the same Kubernetes release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { helmInstall, withApiServer } from '../support/apiserver.ts';
import { renderChart } from '../../testbed/helm.ts';
import { ROOT } from '../../testbed/tools.ts';
import { membershipKeys } from '../../src/speaker/membership-keys.ts';

const standInCrd = (kind: string, plural: string) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.monitoring.coreos.com` },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
});
const SERVICE_MONITOR_CRD = standInCrd('ServiceMonitor', 'servicemonitors');
const PROMETHEUS_RULE_CRD = standInCrd('PrometheusRule', 'prometheusrules');

const docs = (objs: unknown[]): string => objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');

test('helm install, then helm upgrade: CRDs established, RBAC bound, the membership Secret created once and kept', async () => {
  await withApiServer(
    async (s) => {
      const out = await helmInstall(s.cp, {});
      assert.match(out, /STATUS: deployed/);
      const crds = (await s.kubectl(['get', 'crds', '-o', 'name'])).split('\n').filter((l) => l.endsWith('.ironlb.io')).sort();
      assert.equal(crds.length, 10, crds.join(', '));
      await s.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crds]);
      const key = async (): Promise<string> => JSON.parse(await s.kubectl(['get', 'secret', '-n', 'ironlb-system', 'ironlb-membership', '-o', 'json'])).data.secretkey as string;
      const first = await key();
      assert.match(Buffer.from(first, 'base64').toString(), /^[A-Za-z0-9]{44}$/);
      // The chart's RBAC is in force for its ServiceAccounts.
      // `can-i --quiet`: exit status 0 is yes, 1 is no. A subresource goes in --subresource
      // ("services/status" would mean the Service named "status").
      const can = (sa: string, verb: string, res: string, ns = 'ironlb-system', sub?: string) =>
        s.kubectl(['auth', 'can-i', '--quiet', verb, res, ...(sub ? [`--subresource=${sub}`] : []), '-n', ns, `--as=system:serviceaccount:ironlb-system:${sa}`]).then(() => 'yes', (e: Error) => (/Command failed/.test(e.message) ? 'no' : Promise.reject(e)));
      assert.equal(await can('ironlb-controller', 'patch', 'services', 'default', 'status'), 'yes');
      assert.equal(await can('ironlb-controller', 'update', 'services', 'default'), 'no', 'the controller writes status only');
      assert.equal(await can('ironlb-speaker', 'patch', 'services', 'default', 'status'), 'no');
      assert.equal(await can('ironlb-speaker', 'list', 'ippools.ironlb.io'), 'yes');

      assert.ok(membershipKeys(JSON.parse(await s.kubectl(['get', 'secret', '-n', 'ironlb-system', 'ironlb-membership', '-o', 'json'])).data, 'x').ok, 'the generated key is a valid membership key');
      // A key rotation in progress: a secretkeys list beside secretkey must survive the upgrade too.
      const list = Buffer.from('new-0123456789abcdef\nold-0123456789abcdef').toString('base64');
      await s.kubectl(['patch', 'secret', '-n', 'ironlb-system', 'ironlb-membership', '--type=merge', '-p', JSON.stringify({ data: { secretkeys: list } })]);

      const up = await helmInstall(s.cp, { logLevel: 'debug' }, 'upgrade');
      assert.match(up, /REVISION: 2/);
      assert.equal(await key(), first, 'the membership key survives an upgrade (a new key would split the speakers)');
      const after = JSON.parse(await s.kubectl(['get', 'secret', '-n', 'ironlb-system', 'ironlb-membership', '-o', 'json'])).data as Record<string, string>;
      assert.equal(after.secretkeys, list, 'the rotation list survives the upgrade');
      const ds = JSON.parse(await s.kubectl(['get', 'daemonset', '-n', 'ironlb-system', 'ironlb-speaker', '-o', 'json'])) as { spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value: string }> }> } } } };
      assert.deepEqual(ds.spec.template.spec.containers[0]?.env.find((e) => e.name === 'IRONLB_LOG_LEVEL'), { name: 'IRONLB_LOG_LEVEL', value: 'debug' });
    },
    { install: false },
  );
});

test('kubectl apply -f deploy/manifests/ironlb.yaml, the example configurations, then apply -k the base and overlays', async () => {
  await withApiServer(
    async (s) => {
      const out = await s.kubectl(['apply', '-f', join(ROOT, 'deploy/manifests/ironlb.yaml')], { timeoutMs: 90_000 });
      assert.match(out, /namespace\/ironlb-system created/);
      assert.match(out, /customresourcedefinition.apiextensions.k8s.io\/ippools.ironlb.io created/);
      assert.match(out, /daemonset.apps\/ironlb-speaker created/);
      assert.match(out, /deployment.apps\/ironlb-controller created/);
      assert.match(out, /poddisruptionbudget.policy\/ironlb-controller created/);
      const ns = JSON.parse(await s.kubectl(['get', 'namespace', 'ironlb-system', '-o', 'json'])) as { metadata: { labels: Record<string, string> } };
      assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
      const names = (await s.kubectl(['get', 'clusterroles,roles', '-A', '-o', 'name'])).split('\n').filter((n) => n.includes('ironlb')).sort();
      assert.deepEqual(names, ['clusterrole.rbac.authorization.k8s.io/ironlb-controller', 'clusterrole.rbac.authorization.k8s.io/ironlb-metrics-reader', 'clusterrole.rbac.authorization.k8s.io/ironlb-speaker', 'role.rbac.authorization.k8s.io/ironlb-controller', 'role.rbac.authorization.k8s.io/ironlb-speaker']);
      await s.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/ippools.ironlb.io', 'crd/bgppeers.ironlb.io']);

      // Re-applying is a no-op (idempotent install).
      const again = await s.kubectl(['apply', '-f', join(ROOT, 'deploy/manifests/ironlb.yaml')], { timeoutMs: 90_000 });
      assert.doesNotMatch(again, /created/);

      // The example configurations apply against the CRDs the manifest installed.
      for (const f of ['values-layer2.yaml', 'values-bgp.yaml']) {
        const values = parse(readFileSync(join(ROOT, 'deploy/helm/ironlb/examples', f), 'utf8')) as Record<string, unknown>;
        const config = (await renderChart({ values })).map((r) => r.object).filter((o) => o.apiVersion.startsWith('ironlb.io/'));
        const res = await s.kubectl(['apply', '-f', '-'], { input: docs(config) });
        assert.match(res, /created/, f);
      }
      const pools = (await s.kubectl(['get', 'ippools', '-o', 'name'])).split('\n').filter(Boolean).sort();
      assert.deepEqual(pools, ['ippool.ironlb.io/default', 'ippool.ironlb.io/public']);
      // Field validation from the CRD schema is in force (strict field validation is kubectl's default).
      await assert.rejects(
        s.kubectl(['apply', '-f', '-'], { input: stringify({ apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name: 'bad' }, spec: { addresses: ['10.0.0.0/24'], bogus: 1 } }) }),
        /unknown field "spec.bogus"/,
      );

      // The Kustomize base and the overlays apply over the same objects. The prometheus overlay
      // needs the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs: stand-ins that keep any field.
      await s.kubectl(['apply', '-k', join(ROOT, 'deploy/kustomize/base')], { timeoutMs: 90_000 });
      await s.kubectl(['apply', '-f', '-'], { input: docs([SERVICE_MONITOR_CRD, PROMETHEUS_RULE_CRD]) });
      await s.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
      const prom = await s.kubectl(['apply', '-k', join(ROOT, 'deploy/kustomize/overlays/prometheus')], { timeoutMs: 90_000 });
      assert.match(prom, /servicemonitor.monitoring.coreos.com\/ironlb-speaker created/);
      assert.match(prom, /service\/ironlb-controller-metrics created/);
      assert.match(prom, /prometheusrule.monitoring.coreos.com\/ironlb created/);
      assert.match(prom, /configmap\/ironlb-dashboard created/);
      await s.kubectl(['apply', '-k', join(ROOT, 'deploy/kustomize/overlays/l2-only')], { timeoutMs: 90_000 });
      const ds = JSON.parse(await s.kubectl(['get', 'daemonset', '-n', 'ironlb-system', 'ironlb-speaker', '-o', 'json'])) as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
      assert.ok(ds.spec.template.spec.containers[0]?.args.includes('--no-bgp-listen'));
    },
    { install: false },
  );
});
