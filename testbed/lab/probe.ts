// A client probe, run inside a client namespace: HTTP GETs to one or more URLs, each on a new
// connection, printing one JSON line per request: {t, url, node} or {t, url, err}. Bounded in count
// and in time. Usage: node testbed/lab/probe.ts --url URL [--url URL] --count N --interval MS --timeout MS --max-ms MS
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', multiple: true },
    count: { type: 'string', default: '10' },
    interval: { type: 'string', default: '0' },
    timeout: { type: 'string', default: '1000' },
    'max-ms': { type: 'string', default: '60000' },
  },
});
const urls = values.url ?? [];
if (!urls.length) throw new Error('probe: at least one --url is required');
const count = Number(values.count);
const interval = Number(values.interval);
const timeout = Number(values.timeout);
const end = Date.now() + Number(values['max-ms']);

function get(url: string): Promise<{ node?: string; err?: string }> {
  return new Promise((resolve) => {
    let done = false;
    const fin = (r: { node?: string; err?: string }): void => {
      if (done) return;
      done = true;
      req.destroy();
      resolve(r);
    };
    const req = http.get(url, { agent: false, timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => fin(res.statusCode === 200 ? { node: body.trim() } : { err: `HTTP ${res.statusCode}` }));
      res.on('error', (e) => fin({ err: e.message }));
    });
    req.on('timeout', () => fin({ err: 'timeout' }));
    req.on('error', (e: NodeJS.ErrnoException) => fin({ err: e.code ?? e.message }));
  });
}

for (let i = 0; i < count && Date.now() < end; i++) {
  for (const url of urls) {
    const t = Date.now();
    const r = await get(url);
    process.stdout.write(`${JSON.stringify({ t, url, ...r })}\n`);
  }
  if (interval > 0) await new Promise((r) => setTimeout(r, interval));
}
