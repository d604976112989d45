import { readFileSync } from 'node:fs';
import { Command, CommandRunner, Option } from 'nest-commander';
import { createPublicClient, http, type Hex } from 'viem';
import { checkExport } from '../../audit/export-check';

interface Options {
  file?: string;
  rpc?: string;
}

/**
 * Checks an audit export offline (hashes, prevHash links, seq continuity, the anchored heads
 * of its chain) and, with --rpc, that every anchor's digest is the data of its transaction on
 * chain, sent by the anchor key to itself. The anchors travel in the export itself, as
 * `{"anchor": …}` lines after the events. Needs nothing but the file (and the RPC URL).
 */
@Command({
  name: 'audit:verify',
  description: 'Verify an audit export (GET /v1/audit-events/export) offline; with --rpc, its anchors on chain',
})
export class AuditVerifyCommand extends CommandRunner {
  @Option({ flags: '--file <export.ndjson>', description: 'the NDJSON export', required: true })
  parseFile(v: string): string {
    return v;
  }

  @Option({ flags: '--rpc <url>', description: 'JSON-RPC URL of the chain, to check the anchors' })
  parseRpc(v: string): string {
    if (!/^https?:\/\//.test(v)) throw new Error('--rpc must be an http(s) URL');
    return v;
  }

  async run(_args: string[], options: Options): Promise<void> {
    if (!options.file) throw new Error('audit:verify needs --file <export.ndjson>');
    const r = checkExport(readFileSync(options.file, 'utf8'));
    const problems = [...r.problems];
    if (options.rpc) {
      const client = createPublicClient({ transport: http(options.rpc, { timeout: 10_000, retryCount: 1 }) });
      for (const a of r.anchors) {
        const tx = await client.getTransaction({ hash: a.txHash as Hex }).catch(() => null);
        if (!tx || tx.blockNumber === null) problems.push(`anchor ${a.id}: transaction ${a.txHash} not found on chain`);
        else if (tx.input.toLowerCase() !== `0x${a.digest}`)
          problems.push(`anchor ${a.id}: the transaction's data is not the anchor's digest`);
        else if (tx.from.toLowerCase() !== a.from.toLowerCase() || tx.to?.toLowerCase() !== a.from.toLowerCase())
          problems.push(`anchor ${a.id}: the transaction is not from the anchor key ${a.from} to itself`);
        else if (tx.blockNumber !== BigInt(a.blockNumber))
          problems.push(`anchor ${a.id}: mined in block ${tx.blockNumber}, not ${a.blockNumber}`);
      }
    }
    const anchorNote = options.rpc ? 'checked on chain' : 'not checked on chain (no --rpc)';
    process.stdout.write(
      [
        `chain: ${r.chain ?? '-'}`,
        `events: ${r.events} (seq ${r.firstSeq ?? '-'}..${r.lastSeq ?? '-'})`,
        `head: ${r.headHash ?? '-'}`,
        `anchors: ${r.anchors.length}, ${anchorNote}${r.anchors.some((a) => !a.headsComplete) ? "; digests not recomputed where other chains' heads are withheld" : ''}`,
        problems.length ? `FAILED: ${problems.length} problem(s)` : 'OK',
        ...problems.map((p) => `  ${p}`),
      ].join('\n') + '\n',
    );
    if (problems.length) process.exitCode = 1;
  }
}
