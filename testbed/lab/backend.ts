// The lab's hostname backend (the classic demo): an HTTP server on every address of its node that
// answers each request with the node's name. Connection: close, so each request is a new
// connection and the router's ECMP hash can spread them.
// Usage: node testbed/lab/backend.ts --lab-dir DIR --name NODE --port PORT [--port PORT...]
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { 'lab-dir': { type: 'string' }, name: { type: 'string' }, port: { type: 'string', multiple: true, default: ['80'] } } });
const name = values.name;
if (!name) throw new Error('backend: --name is required');
for (const port of values.port ?? []) {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end(`${name}\n`);
  });
  // '::' with ipv6Only false accepts IPv4 too: one socket for both families.
  server.listen({ port: Number(port), host: '::', ipv6Only: false });
}
process.once('SIGTERM', () => process.exit(0));
