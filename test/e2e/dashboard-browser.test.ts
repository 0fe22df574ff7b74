// The dashboard in a real browser (Debian's Chromium driven by playwright-core; no browser is
// downloaded) on a lab: the page shows the lab's Services, a node is stopped from the page, and
// the timeline shows the failover with its duration. Screenshots go to docs/img/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.ts';
import { loadKubeConfig, makeClients } from '../../src/k8s/index.ts';
import { Lab } from '../../testbed/lab/index.ts';
import { labActions, labMetricsSource } from '../../testbed/lab/dashboard.ts';
import { ROOT } from '../../testbed/tools.ts';
import { l2Owner } from './helpers.ts';

const NET = 158;
const SHOTS = join(ROOT, 'docs/img');

test('dashboard in Chromium: the lab\'s Services, a node stopped from the page, the failover on the timeline', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'ho-dash-'));
  chmodSync(parent, 0o755);
  const lab = await Lab.up({ prefix: `ilbd${process.pid % 10000}`, dir: join(parent, 'lab'), net: NET, startTimeoutS: 150 });
  let d: Dashboard | undefined;
  let browser: Browser | undefined;
  try {
    await lab.applyExample();
    const owner = await l2Owner(lab, 'hello-l2', { timeoutMs: 60_000 });
    await lab.waitAddresses('hello-bgp');
    await lab.waitAddresses('hello-local');
    d = await startDashboard({ clients: makeClients(loadKubeConfig({ kubeconfig: lab.kubeconfig })), port: 0, metrics: labMetricsSource(lab), metricsIntervalMs: 1000, pushIntervalMs: 200, lab: labActions(lab) });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(d.url);

    // The lab's three Services, with addresses and announcing nodes; the speakers' own views.
    const row = (svc: string) => page.locator(`tr[data-service="default/${svc}"]`);
    for (const svc of ['hello-l2', 'hello-bgp', 'hello-local']) await row(svc).locator('td', { hasText: 'announced' }).first().waitFor({ timeout: 30_000 });
    await row('hello-l2').locator('.announcers', { hasText: `${owner} (L2` }).waitFor({ timeout: 30_000 });
    assert.match((await row('hello-bgp').locator('.announcers').textContent()) ?? '', /node0 \(BGP[^)]*\), node1 \(BGP[^)]*\), node2 \(BGP/);
    await page.locator('[data-testid="nodes"] tr[data-node="node0"] td', { hasText: /alive/ }).first().waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="sessions"] td.ok', { hasText: 'Established' }).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });

    // Stop the Layer 2 owner from the page; another node takes over, and the timeline says how fast.
    const clickedAt = Date.now();
    await page.locator(`button[data-action="kill-node"][data-node="${owner}"]`).click();
    await page.locator(`tr[data-node="${owner}"] .bad`, { hasText: 'stopped' }).waitFor({ timeout: 30_000 });
    const failover = page.locator('tr.entry[data-kind="failover"]', { hasText: 'default/hello-l2' }).first();
    await failover.waitFor({ timeout: 60_000 });
    const text = (await failover.textContent()) ?? '';
    const m = /\(failover, ([\d.]+) s after (node\d) went down\)/.exec(text);
    assert.ok(m, text);
    assert.equal(m[2], owner);
    const seconds = Number(m[1]);
    assert.ok(seconds > 0 && seconds < 30, `failover took ${seconds} s`);
    const newOwner = await l2Owner(lab, 'hello-l2', { notOn: owner, timeoutMs: 30_000 });
    await row('hello-l2').locator('.announcers', { hasText: `${newOwner} (L2` }).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(SHOTS, 'dashboard-failover.png'), fullPage: true });
    console.log(`# dashboard: ${owner} stopped from the page; hello-l2 on ${newOwner}; the timeline says ${seconds} s (page click to entry ${((Date.now() - clickedAt) / 1000).toFixed(1)} s)`);
    assert.deepEqual(errors, [], 'no script error on the page');
  } finally {
    await browser?.close();
    await d?.close();
    await lab.destroy();
    rmSync(parent, { recursive: true, force: true });
  }
});
