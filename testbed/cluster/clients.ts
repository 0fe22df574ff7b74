// Clients in a client namespace that record who answered: a TCP client that reads the node name the
// app server writes, and an HTTP probe (testbed/lab/probe.ts) for the lab's hostname backends.
// Both run until stopped or for at most maxMs, one JSON line a connection.
import { fileURLToPath } from 'node:url';
import { jsonLines } from './child.ts';
import type { Netns } from './netns.ts';

export interface ClientResult {
  t: number;
  node?: string;
  err?: string;
}

export interface RunningClient<R extends ClientResult = ClientResult> {
  /** Results as they come. */
  results: R[];
  stop: () => void;
}

/** A TCP client connecting to ip:port every intervalMs (connect timeout connectTimeoutMs). */
export function tcpClient(client: Netns, ip: string, port: number, o: { intervalMs: number; maxMs: number; connectTimeoutMs: number }): RunningClient {
  const code = `
const net=require('net');const end=Date.now()+${o.maxMs};
function once(){if(Date.now()>end)process.exit(0);const t=Date.now();let done=false;const s=net.connect({host:${JSON.stringify(ip)},port:${port}});let buf='';
const fin=(r)=>{if(done)return;done=true;s.destroy();process.stdout.write(JSON.stringify({t,...r})+'\\n');setTimeout(once,${o.intervalMs});};
s.setTimeout(${o.connectTimeoutMs},()=>fin({err:'timeout'}));s.on('data',(d)=>{buf+=d;if(buf.includes('\\n'))fin({node:buf.trim()});});s.on('error',(e)=>fin({err:e.code||e.message}));s.on('end',()=>fin(buf?{node:buf.trim()}:{err:'eof'}));}
once();`;
  const proc = client.spawn(process.execPath, ['-e', code]);
  return { results: jsonLines<ClientResult>(proc), stop: () => proc.kill('SIGKILL') };
}

export const HTTP_PROBE = fileURLToPath(new URL('../lab/probe.ts', import.meta.url));

export interface ProbeResult extends ClientResult {
  url: string;
}

/** The HTTP probe's arguments: GETs to `urls`, each on a new connection. */
export function probeArgs(urls: readonly string[], o: { count: number; intervalMs: number; timeoutMs: number; maxMs: number }): string[] {
  return [HTTP_PROBE, ...urls.flatMap((u) => ['--url', u]), '--count', String(o.count), '--interval', String(o.intervalMs), '--timeout', String(o.timeoutMs), '--max-ms', String(o.maxMs)];
}

/** The HTTP probe running in the background: a request every intervalMs until stopped or maxMs. */
export function httpProbe(client: Netns, url: string, o: { intervalMs: number; timeoutMs: number; maxMs: number }): RunningClient<ProbeResult> {
  const proc = client.spawn(process.execPath, probeArgs([url], { count: 1_000_000, ...o }), { stdio: ['ignore', 'pipe', 'ignore'] });
  return { results: jsonLines<ProbeResult>(proc), stop: () => proc.kill('SIGKILL') };
}
