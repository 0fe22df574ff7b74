// `ironlb speaker`: announces Service addresses from this node over Layer 2 (ARP/NDP) and BGP.
import type { Command } from 'commander';
import { summary } from './commands.ts';
import { collectDefaultMetrics } from 'prom-client';
import { DEFAULT_LOAD_BALANCER_CLASS, DEFAULT_NAMESPACE } from '../api/index.ts';
import { EVENT_LOOP_SAMPLE_MS, httpOptions, startHttpServers, type HttpOpts } from './http-servers.ts';
import { loadKubeConfig, makeClients } from '../k8s/index.ts';
import { DEFAULT_PORT as MEMBERSHIP_PORT, DEFAULT_TIMING } from '../membership/index.ts';
import { DEFAULT_WATCH_INTERVAL_MS, DEFAULT_WATCH_MULTIPLIER, DEFAULT_WATCH_NICE, DEFAULT_WATCH_PORT, DEFAULT_WATCH_RT_PRIORITY } from '../watch/index.ts';
import { logger } from '../util/log.ts';
import { RawSocketL2Backend } from '../speaker/l2-raw-socket-backend.ts';
import { NullL2 } from '../speaker/l2-backend.ts';
import { DEFAULT_EXCLUDE } from '../speaker/l2-interface-choice.ts';
import { createSpeakerMetrics } from '../speaker/metrics.ts';
import { Speaker, type ShutdownMode } from '../speaker/speaker.ts';

interface Opts extends HttpOpts {
  bgpPasswordSecrets?: string;
  nodeName?: string;
  kubeconfig?: string;
  namespace: string;
  membershipPort: string;
  membershipSecretName: string;
  membershipProbeInterval: string;
  bgpListen: string | boolean;
  bgpPort: string;
  interfaces?: string;
  excludeInterfaces?: string;
  layer2: boolean;
  shutdownMode: string;
  loadBalancerClass: string;
  ignoreServicesWithoutClass?: boolean;
  l2Quorum: string;
  ownerWatch: boolean;
  ownerWatchPort: string;
  ownerWatchIntervalMs: string;
  ownerWatchMultiplier: string;
  ownerWatchHoldMs: string;
  ownerWatchNice: string;
  ownerWatchRtPriority: string;
}

function num(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} must be an integer from ${min} to ${max}, got "${text}"`);
  return n;
}

const list = (s: string | undefined): string[] | undefined => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));

export function registerSpeaker(program: Command): void {
  const cmd = program
    .command('speaker')
    .description(summary('speaker'))
    .option('--node-name <name>', 'this node\'s Kubernetes Node name (default: $NODE_NAME)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--namespace <ns>', 'namespace of ironlb configuration, Secrets and state', DEFAULT_NAMESPACE)
    .option('--membership-port <port>', 'UDP port of the speaker membership protocol', String(MEMBERSHIP_PORT))
    .option('--membership-secret-name <name>', 'Secret (in --namespace) whose "secretkey" key authenticates membership messages', 'ironlb-membership')
    .option('--membership-probe-interval <ms>', 'how often each speaker probes another (ms): Layer 2 failover takes about this plus 0.45 s; idle CPU and packets grow with its inverse (docs/performance.md, Footprint)', String(DEFAULT_TIMING.probeIntervalMs))
    .option('--bgp-listen <address>', 'address the BGP engine listens on for peers', '::')
    .option('--no-bgp-listen', 'do not listen for BGP connections (connect out only)')
    .option('--bgp-port <port>', 'BGP listen port', '179')
    .option('--interfaces <list>', 'comma-separated interface names or patterns used for Layer 2 (default: every eligible one)')
    .option('--exclude-interfaces <list>', `comma-separated patterns never used for Layer 2 (default: ${DEFAULT_EXCLUDE.join(',')})`)
    .option('--no-layer2', 'do not open raw sockets: BGP only')
    .option('--bgp-password-secrets <list>', 'comma-separated Secrets (in --namespace) BGPPeers may name as passwordSecret; no other Secret but the membership one is read')
    .option('--shutdown-mode <mode>', 'on SIGTERM: "withdraw" routes, or keep them at peers through "graceful-restart" (upgrades)', 'withdraw')
    .option('--load-balancer-class <class>', 'the spec.loadBalancerClass handled', DEFAULT_LOAD_BALANCER_CLASS)
    .option('--ignore-services-without-class', 'leave Services without a loadBalancerClass to another implementation')
    .option('--owner-watch-port <port>', 'UDP port of the owner watch: fast heartbeats to the Layer 2 owners this node would take over from', String(DEFAULT_WATCH_PORT))
    .option('--owner-watch-interval-ms <ms>', 'owner-watch heartbeat interval', String(DEFAULT_WATCH_INTERVAL_MS))
    .option('--owner-watch-multiplier <n>', 'an owner silent for this many intervals is taken over before membership confirms', String(DEFAULT_WATCH_MULTIPLIER))
    .option('--owner-watch-hold-ms <ms>', 'release a fast takeover when membership has not confirmed the owner\'s loss within this time', '3000')
    .option('--owner-watch-rt-priority <n>', 'SCHED_FIFO priority of the heartbeat thread (1..99; 0: none). Needs CAP_SYS_NICE; refused, --owner-watch-nice applies', String(DEFAULT_WATCH_RT_PRIORITY))
    .option('--owner-watch-nice <n>', 'nice value of the heartbeat thread when real-time scheduling is off or refused (-20..19; below the process\'s needs CAP_SYS_NICE, else it is left as is)', String(DEFAULT_WATCH_NICE))
    .option('--owner-watch', 'run the owner watch (the default): Layer 2 failover in ~0.2 s instead of ~0.5 s; its heartbeat thread runs at real-time priority when the process has CAP_SYS_NICE (docs/performance.md, "Layer 2 failover with the owner watch")')
    .option('--no-owner-watch', 'Layer 2 failover by membership alone (~0.5 s)')
    .option('--l2-quorum <bool>', 'answer ARP/NDP only while at least half of the known speakers are alive (a cut-off node stops): true or false', 'true')
  httpOptions(cmd, { metricsPort: 7473, healthHost: '127.0.0.1' })
    .action(async (o: Opts) => {
      const log = logger('cli');
      const nodeName = o.nodeName ?? process.env.NODE_NAME;
      if (!nodeName) throw new Error('no node name: pass --node-name or set NODE_NAME (in a DaemonSet, from fieldRef spec.nodeName)');
      if (o.shutdownMode !== 'withdraw' && o.shutdownMode !== 'graceful-restart') throw new Error(`--shutdown-mode must be "withdraw" or "graceful-restart", got "${o.shutdownMode}"`);
      const membershipPort = num('--membership-port', o.membershipPort, 1, 65535);
      const probeIntervalMs = num('--membership-probe-interval', o.membershipProbeInterval, 50, 5000);
      const bgpPort = num('--bgp-port', o.bgpPort, 0, 65535);
      if (o.l2Quorum !== 'true' && o.l2Quorum !== 'false') throw new Error(`--l2-quorum must be "true" or "false", got "${o.l2Quorum}"`);
      const include = list(o.interfaces);
      const exclude = list(o.excludeInterfaces);
      const metrics = createSpeakerMetrics();
      collectDefaultMetrics({ register: metrics.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
      const l2 = o.layer2 ? new RawSocketL2Backend({ ...(include ? { include } : {}), ...(exclude ? { exclude } : {}), registry: metrics.registry }) : new NullL2();
      const clients = makeClients(loadKubeConfig(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}));
      const speaker = new Speaker({
        clients,
        bgpPasswordSecrets: list(o.bgpPasswordSecrets) ?? [],
        nodeName,
        namespace: o.namespace,
        membership: { port: membershipPort, secretName: o.membershipSecretName, ...(probeIntervalMs !== DEFAULT_TIMING.probeIntervalMs ? { timing: { probeIntervalMs } } : {}) },
        bgpListen: o.bgpListen === false ? false : { address: typeof o.bgpListen === 'string' ? o.bgpListen : '::', port: bgpPort },
        interfaces: { ...(include ? { include } : {}), ...(exclude ? { exclude } : {}) },
        shutdownMode: o.shutdownMode as ShutdownMode,
        l2,
        layer2Disabled: !o.layer2,
        l2Quorum: o.l2Quorum === 'true',
        ownerWatch: o.ownerWatch !== false
          ? {
              port: num('--owner-watch-port', o.ownerWatchPort, 1, 65535),
              intervalMs: num('--owner-watch-interval-ms', o.ownerWatchIntervalMs, 5, 1000),
              multiplier: num('--owner-watch-multiplier', o.ownerWatchMultiplier, 3, 50),
              holdMs: num('--owner-watch-hold-ms', o.ownerWatchHoldMs, 500, 60_000),
              nice: num('--owner-watch-nice', o.ownerWatchNice, -20, 19),
              realtimePriority: num('--owner-watch-rt-priority', o.ownerWatchRtPriority, 0, 99),
            }
          : false,
        metrics,
        classPolicy: { loadBalancerClass: o.loadBalancerClass, handleServicesWithoutClass: !o.ignoreServicesWithoutClass },
      });
      const server = await startHttpServers(o, { kc: clients.kc, name: 'ironlb-speaker', registry: metrics.registry, healthz: () => speaker.healthz(), readyz: () => speaker.readyz() });
      log.info({ node: nodeName, metricsPort: server.metrics.port, healthPort: server.health?.port, metricsAuth: o.metricsAuth, namespace: o.namespace, shutdownMode: o.shutdownMode }, 'speaker starting');
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping');
        // Bounded: a stuck API call must not keep a terminating pod from exiting.
        setTimeout(() => process.exit(1), 10_000).unref();
        void speaker
          .stop()
          .then(() => server.close())
          .then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      await speaker.start();
    });
}
