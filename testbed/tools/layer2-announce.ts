// `node testbed/tools/layer2-announce.ts IP... [-i IFACE]`: answers ARP/NDP for the addresses until
// interrupted, through the speaker's own Announcer. A test-bench and debugging tool (the speaker
// drives the Announcer itself); events as JSON lines on stdout.
import { Command } from 'commander';
import { Announcer, DEFAULT_GRATUITOUS_COUNT } from '../../src/layer2/announcer.ts';
import { collect, selection, type SelectionFlags } from '../../src/cli/layer2.ts';

const program = new Command('layer2-announce')
  .description('answer ARP/NDP for the given addresses until interrupted (prints acquired/released/interfaces events as JSON lines)')
  .argument('<ip...>', 'addresses to announce')
  .option('-i, --interface <name-or-glob>', 'use only these interfaces (repeatable)', collect)
  .option('-x, --exclude <glob>', 'exclusion pattern (repeatable; "" for none)', collect)
  .option('--refresh <ms>', 'periodic gratuitous refresh interval (0 = off)', '0')
  .option('--gratuitous-count <n>', `gratuitous ARPs / unsolicited NAs per address on acquiring (RFC 4861 7.2.6 allows at most ${DEFAULT_GRATUITOUS_COUNT} NAs)`, String(DEFAULT_GRATUITOUS_COUNT))
  .action((ips: string[], o: SelectionFlags & { refresh: string; gratuitousCount: string }) => {
    const count = Number(o.gratuitousCount);
    if (!Number.isInteger(count) || count < 1 || count > 100) throw new Error(`--gratuitous-count must be an integer from 1 to 100, got "${o.gratuitousCount}"`);
    const a = new Announcer({ ...selection(o), refreshIntervalMs: Number(o.refresh), gratuitousCount: count });
    const line = (o2: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o2)}\n`);
    a.on('acquired', (e) => line({ event: 'acquired', ...e }));
    a.on('released', (e) => line({ event: 'released', ...e }));
    a.on('interfaces', (e) => {
      line({ event: 'interfaces', ...e, eligible: a.interfaces() });
      if (a.interfaces().length === 0) line({ event: 'waiting', message: 'no eligible interface (down, or none selected): nothing is answered until one comes up; still running' });
    });
    a.on('error', (e) => line({ event: 'error', message: e.message }));
    a.setAddresses(new Map(ips.map((ip) => [ip, {}])));
    if (a.interfaces().length === 0) line({ event: 'waiting', message: 'no eligible interface (down, or none selected): nothing is answered until one comes up; still running' });
    // Runs until a signal, also while every interface is down and no socket is open: without
    // this the process ended with status 0 and no word when its only interface went down.
    const keepAlive = setInterval(() => {}, 1 << 30);
    const stop = (): void => {
      clearInterval(keepAlive);
      a.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

await program.parseAsync(process.argv);
