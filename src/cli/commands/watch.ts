/**
 * `skyline watch --bootstrap MA [--announcer F]... [--json] [--data-dir D]`: joins the mesh as a tally
 * node, and prints announcements, attestations and verdicts as they arrive (and what it syncs of the
 * recent past), until SIGINT. `--json`: one object per line, the schema of docs/protocols/watch-json.md.
 * Without --data-dir each watch has a new identity and a temporary store, removed when it stops, so any
 * number of watches can run at once and each prints everything it learns.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from '../args.ts'
import { UsageError } from '../errors.ts'
import { startClientNode } from '../client-node.ts'
import { loadConfig } from '../../node/index.ts'
import { defaultConfigFile } from './node.ts'
import type { CheckedAnnouncement } from '../../protocols/announce.ts'
import type { CheckedAttestation } from '../../protocols/attestation.ts'
import type { VerdictEvent } from '../../services/verdicts.ts'
import { officialPhrase } from '../../rules/official.ts'

const HELP = `usage: skyline watch --bootstrap MA... [--announcer F]... [--config F] [--json] [--data-dir D]
Joins the mesh without building and prints announcements, attestations and verdicts as they arrive.
Announcements are checked against the trusted announcers (--announcer, or the config file's).
  --json        one JSON object per line (docs/protocols/watch-json.md)
  --data-dir D  keep the identity and the store in D (one watch per directory); by default a new
                identity and a temporary directory, removed at exit`

/** One line of `skyline watch --json` (docs/protocols/watch-json.md) */
type WatchLine = Record<string, unknown> & { type: 'announcement' | 'attestation' | 'verdict' }

/** An announcement line: the signed fields a watcher needs, the candidates and the builders without bans */
function announcementLine (c: CheckedAnnouncement): WatchLine {
  const a = c.announcement
  return {
    type: 'announcement',
    job: c.job,
    nevra: a.nevra,
    target: a.target,
    replicas: a.replicas,
    quorum: a.quorum,
    srpmSha256: Buffer.from(a.srpmSha256).toString('hex'),
    srpmSize: Number(a.srpmSize),
    announcer: c.announcer,
    issuedAt: Number(a.issuedAt),
    expiresAt: Number(a.expiresAt),
    candidates: c.candidates.map(String),
    builders: c.builders.map(String),
    ...(c.retry !== undefined ? { retryOf: c.retry.of, attempt: c.retry.attempt } : {})
  }
}

/** An attestation line; `hash` only for an ok build, `nevra` only when the announcement is known */
export function attestationLine (a: CheckedAttestation, nevra: string | undefined): WatchLine {
  return {
    type: 'attestation',
    job: a.job,
    ...(nevra !== undefined ? { nevra } : {}),
    id: a.id,
    builder: a.builder,
    status: a.status,
    ...(a.buildHash !== undefined ? { hash: a.buildHash } : {}),
    files: a.files.map(f => ({ name: f.name, size: Number(f.size), sha256: f.sha256 })),
    time: a.time,
    contributor: a.contributor,
    durationMs: a.durationMs,
    ...(a.official !== undefined ? { official: a.official } : {})
  }
}

/** A verdict line: the tally as /status lists it under `verdicts`, with the job's r and q */
export function verdictLine (v: VerdictEvent): WatchLine {
  return {
    type: 'verdict',
    job: v.job,
    nevra: v.nevra,
    replicas: v.replicas,
    quorum: v.quorum,
    verdict: v.verdict,
    ...(v.hash !== undefined ? { hash: v.hash } : {}),
    agreeing: v.agreeing,
    dissenters: v.dissenters,
    failedBuilders: v.failedBuilders,
    equivocators: v.equivocators,
    missing: v.missing,
    counts: v.counts,
    final: v.final,
    ...(v.official !== undefined ? { official: v.official } : {}),
    ...(v.retryOf !== undefined ? { retryOf: v.retryOf, attempt: v.attempt } : {})
  }
}

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

  const temporary = values['data-dir'] === undefined ? mkdtempSync(join(tmpdir(), 'skyline-watch-')) : undefined
  try {
    const node = await startClientNode({ name: 'watch', bootstrap, announcers, dataDir: values['data-dir'] ?? temporary })
    print(node, values.json === true)
    await new Promise<void>(resolve => {
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
    })
    await node.stop()
  } finally {
    if (temporary !== undefined) rmSync(temporary, { recursive: true, force: true })
  }
  return 0
}

/** Prints every announcement, attestation and verdict the node accepts, as JSON lines or for people */
function print (node: Awaited<ReturnType<typeof startClientNode>>, json: boolean): void {
  const nevras = new Map<string, string>()
  const out = (line: WatchLine, human: string): void => {
    process.stdout.write(json ? JSON.stringify(line) + '\n' : `${new Date().toISOString().slice(11, 19)} ${human}\n`)
  }
  const short = (id: string): string => id.slice(-8)
  node.addEventListener('announcement', (e: CustomEvent<CheckedAnnouncement>) => {
    const a = e.detail.announcement
    nevras.set(e.detail.job, a.nevra)
    const retry = e.detail.retry !== undefined ? `, attempt ${e.detail.retry.attempt}: retries blocked job ${e.detail.retry.of.slice(0, 12)}` : ''
    out(announcementLine(e.detail), `announce   ${a.nevra} job ${e.detail.job.slice(0, 12)} r=${a.replicas} q=${a.quorum}${retry}`)
  })
  node.verdicts.addEventListener('attestation', (e: CustomEvent<CheckedAttestation>) => {
    const a = e.detail
    const nevra = nevras.get(a.job) ?? node.announcements.get(a.job)?.announcement.nevra
    out(attestationLine(a, nevra),
      `attest     ${nevra ?? a.job.slice(0, 12)} by ${short(a.builder)}: ${a.status === 'ok' ? a.buildHash?.slice(0, 16) : 'build failed'}`)
  })
  node.verdicts.addEventListener('verdict', (e: CustomEvent<VerdictEvent>) => {
    const v = e.detail
    out(verdictLine(v),
      `verdict    ${v.nevra}: ${v.verdict}${v.hash !== undefined ? `(${v.hash.slice(0, 16)})` : ''}${v.final ? '' : ' (so far)'}${v.dissenters.length > 0 ? `, dissenters ${v.dissenters.map(short).join(' ')}` : ''}${officialPhrase(v)}${v.retryOf !== undefined ? ` (attempt ${v.attempt}, retries ${v.retryOf.slice(0, 12)})` : ''}`)
  })
  if (!json) process.stderr.write(`watching the mesh as ${node.peerId} (Ctrl-C to stop)\n`)
}
