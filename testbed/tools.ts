// Where set-up (scripts/setup.sh) puts the third-party programs the test bench runs: each is built
// from the Go module pinned in tools/NAME/go.mod into .tools/NAME-VERSION/, so a version change
// builds anew and an old build is never used by mistake.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The main module each tools/NAME/go.mod requires. */
const MAIN_MODULE: Record<string, string> = {
  kubernetes: 'k8s.io/kubernetes',
  etcd: 'go.etcd.io/etcd/server/v3',
  helm: 'helm.sh/helm/v3',
  // Only for the comparison (scripts/go-tools.sh peers).
  metallb: 'go.universe.tf/metallb',
  'kube-vip': 'github.com/kube-vip/kube-vip',
};

export function toolVersion(name: string): string {
  const mod = MAIN_MODULE[name];
  if (!mod) throw new Error(`unknown tool ${name}`);
  const text = readFileSync(join(ROOT, 'tools', name, 'go.mod'), 'utf8');
  const m = new RegExp(`^\\s*(?:require\\s+)?${mod.replace(/\./g, '\\.')}\\s+(v\\S+)`, 'm').exec(text);
  if (!m?.[1]) throw new Error(`tools/${name}/go.mod does not require ${mod}`);
  return m[1];
}

/** Absolute path of a built program, e.g. tool('kubernetes', 'kube-apiserver'). */
export function tool(name: string, program: string): string {
  const p = join(ROOT, '.tools', `${name}-${toolVersion(name)}`, program);
  if (!existsSync(p)) throw new Error(`${program} is not built (${p} is missing): run scripts/setup.sh, which builds it from tools/${name}/go.mod`);
  return p;
}
