/**
 * `skyline watch --bootstrap MA [--announcer F]... [--json]`: joins the mesh as a tally node, and prints
 * announcements, attestations and verdicts as they arrive (and what it syncs of the recent past), until
 * SIGINT. `--json`: one object per line with `type` announcement, attestation or verdict.
 */
import { parse } from '../args.ts'
import { UsageError } from '../errors.ts'
import { startClientNode } from '../client-node.ts'
import { loadConfig } from '../../node/index.ts'
import { defaultConfigFile } from './node.ts'
import type { CheckedAnnouncement } from '../../protocols/announce.ts'
import type { CheckedAttestation } from '../../protocols/attestation.ts'
import type { VerdictEvent } from '../../services/verdicts.ts'

const HELP = `usage: skyline watch --bootstrap MA... [--announcer F]... [--config F] [--json]
Joins the mesh without building and prints announcements, attestations and verdicts as they arrive.
Announcements are checked against the trusted announcers (--announcer, or the config file's).`

export async function run (argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    bootstrap: { type: 'string', multiple: true },
    announcer: { type: 'string', multiple: true },
    config: { type: 'string' },
    json: { type: 'boolean' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { process.stdout.write(HELP + '\n'); return 0 }
  const configFile = values.config ?? defaultConfigFile()
  const fromConfig = configFile !== undefined ? loadConfig({ configFile }) : undefined
  const bootstrap = values.bootstrap ?? fromConfig?.bootstrap.map(String)
  if (bootstrap === undefined || bootstrap.length === 0) throw new UsageError('--bootstrap MA is required (a node of the mesh)')
  const announcers = values.announcer ?? fromConfig?.announcers ?? []
  if (announcers.length === 0) throw new UsageError('no trusted announcer: pass --announcer F (or a config file that lists them)')

  const node = await startClientNode({ name: 'watch', bootstrap, announcers, dataDir: values['data-dir'] })
  const json = values.json === true
  const nevras = new Map<string, string>()
  const out = (obj: Record<string, unknown>, human: string): void => {
    process.stdout.write(json ? JSON.stringify(obj) + '\n' : `${new Date().toISOString().slice(11, 19)} ${human}\n`)
  }
  const short = (id: string): string => id.slice(-8)
  node.addEventListener('announcement', (e: CustomEvent<CheckedAnnouncement>) => {
    const a = e.detail.announcement
    nevras.set(e.detail.job, a.nevra)
    out({ type: 'announcement', job: e.detail.job, nevra: a.nevra, target: a.target, replicas: a.replicas, quorum: a.quorum, srpmSha256: Buffer.from(a.srpmSha256).toString('hex'), announcer: e.detail.announcer },
      `announce   ${a.nevra} job ${e.detail.job.slice(0, 12)} r=${a.replicas} q=${a.quorum}`)
  })
  node.verdicts.addEventListener('attestation', (e: CustomEvent<CheckedAttestation>) => {
    const a = e.detail
    out({ type: 'attestation', job: a.job, nevra: nevras.get(a.job) ?? null, builder: a.builder, status: a.status, hash: a.buildHash ?? null, files: a.files.map(f => ({ name: f.name, size: Number(f.size), sha256: f.sha256 })), time: a.time },
      `attest     ${nevras.get(a.job) ?? a.job.slice(0, 12)} by ${short(a.builder)}: ${a.status === 'ok' ? a.buildHash?.slice(0, 16) : 'build failed'}`)
  })
  node.verdicts.addEventListener('verdict', (e: CustomEvent<VerdictEvent>) => {
    const v = e.detail
    out({ type: 'verdict', job: v.job, nevra: v.nevra, verdict: v.verdict, hash: v.hash ?? null, final: v.final, agreeing: v.agreeing, dissenters: v.dissenters, failed: v.failedBuilders, equivocators: v.equivocators },
      `verdict    ${v.nevra}: ${v.verdict}${v.hash !== undefined ? `(${v.hash.slice(0, 16)})` : ''}${v.final ? '' : ' (so far)'}${v.dissenters.length > 0 ? `, dissenters ${v.dissenters.map(short).join(' ')}` : ''}`)
  })
  if (!json) process.stderr.write(`watching the mesh as ${node.peerId} (Ctrl-C to stop)\n`)
  await new Promise<void>(resolve => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  await node.stop()
  return 0
}
