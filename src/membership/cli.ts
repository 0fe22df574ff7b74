// `ironlb membership`: runs one stand-alone membership member (lab and debugging; the speaker
// embeds Membership itself).
import type { Command } from 'commander';
import { summary } from '../cli/commands.ts';
import { DEFAULT_PORT } from './membership.ts';

export function registerMembershipCommand(program: Command): void {
  program
    .command('membership')
    .description(summary('membership'))
    .requiredOption('--name <name>', 'this member\'s name (the Node name)')
    .requiredOption('--address <ip>', 'address to bind and to be reached at')
    .option('--port <port>', 'UDP port', String(DEFAULT_PORT))
    .option('--secret-file <path>', 'file with the shared secret bytes (else IRONLB_MEMBERSHIP_SECRET, base64); watched for changes')
    .option('--keys-file <path>', 'instead of --secret-file: one key per line, the first signs, all accepted (key rotation); watched for changes')
    .option('--peers <list>', 'members as name=address[:port],...', '')
    .action(async (o: { name: string; address: string; port: string; secretFile?: string; keysFile?: string; peers: string }) => {
      if (o.secretFile && o.keysFile) throw new Error('give --secret-file or --keys-file, not both');
      const { runAgent } = await import('./agent.ts');
      await runAgent({ name: o.name, address: o.address, port: Number(o.port), secretFile: o.secretFile, keysFile: o.keysFile, peers: o.peers });
    });
}
