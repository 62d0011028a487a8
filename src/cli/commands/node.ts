/** `skyline node`: runs a mesh node until SIGINT/SIGTERM, then stops cleanly and exits 0. */
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parse } from '../args.ts'
import { loadConfig, SkylineNode } from '../../node/index.ts'
import { UsageError } from '../errors.ts'
import { attachServiceLog, type LogFormat, type ServiceLog } from '../node-log.ts'

const HELP = `usage: skyline node [--config F] [--data-dir D] [--listen MA]... [--bootstrap MA]...
                    [--http HOST:PORT|off] [--builder rpmbuild|mock|none|auto] [--keyring PATH] [--announcer PUBKEY_FILE]...
                    [--contributor NAME] [--max-upload RATE] [--max-download RATE]
                    [--metered auto|ignore|pause]
                    [--log-format text|json]

Runs a Skyline mesh node until SIGINT or SIGTERM.
  --config F        JSON config file (docs/config.md); default $SKYLINE_CONFIG or ~/.config/skyline/config.json if present
  --data-dir D      state directory (identity key, store, blobs); default $XDG_DATA_HOME/skyline, /var/lib/skyline as a service
  --listen MA       multiaddr to listen on (repeatable); default /ip4/0.0.0.0/tcp/7770
  --bootstrap MA    a peer to join through, with /p2p/<id> (repeatable)
  --http HOST:PORT  local status/metrics server; default 127.0.0.1:7771; 'off' disables it
  --builder KIND    rpmbuild, mock, none (relay and tally only) or auto
  --keyring PATH    Fedora OpenPGP keys (a file or a folder of RPM-GPG-KEY-* files)
  --announcer F     a trusted announcer public key file (repeatable)
  --contributor N   your name on the stats tracker's leaderboard, signed into this node's attestations
  --max-upload R    cap on the blob bytes this node serves per second (e.g. 500K, 2M; default: none)
  --max-download R  cap on the blob bytes this node fetches per second (default: none)
  --metered M       auto (default): pause blob transfer and job taking while NetworkManager reports a
                    metered link; ignore: never pause; pause: stay paused (docs/config.md)
  --log-format F    text (default) or json: one line per job, verdict, alert, halt (JSON lines for journald)`

/** @default 8 s for a clean stop before the process exits regardless */
const STOP_DEADLINE_MS = 8_000

export function defaultConfigFile (env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SKYLINE_CONFIG != null && env.SKYLINE_CONFIG !== '') return env.SKYLINE_CONFIG
  const xdg = env.XDG_CONFIG_HOME != null && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config')
  const path = join(xdg, 'skyline', 'config.json')
  return existsSync(path) ? path : undefined
}

export async function run (argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    config: { type: 'string' },
    'data-dir': { type: 'string' },
    listen: { type: 'string', multiple: true },
    bootstrap: { type: 'string', multiple: true },
    http: { type: 'string' },
    builder: { type: 'string' },
    keyring: { type: 'string' },
    announcer: { type: 'string', multiple: true },
    contributor: { type: 'string' },
    'max-upload': { type: 'string' },
    'max-download': { type: 'string' },
    metered: { type: 'string' },
    'log-format': { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  const format = values['log-format'] ?? 'text'
  if (format !== 'text' && format !== 'json') throw new UsageError(`--log-format must be text or json (got '${format}')`)
  const config = loadConfig({
    configFile: values.config ?? defaultConfigFile(),
    dataDir: values['data-dir'],
    listen: values.listen,
    bootstrap: values.bootstrap,
    http: values.http,
    builder: values.builder,
    keyring: values.keyring,
    announcers: values.announcer,
    contributor: values.contributor,
    maxUpload: values['max-upload'],
    maxDownload: values['max-download'],
    metered: values.metered
  })
  const node = new SkylineNode(config)
  await node.start()
  const out = process.stdout
  // attached once the node runs; the signal handlers below are installed before that
  const serviceLog: { current?: ServiceLog } = {}
  // signal handlers first: whoever reads the lines below may signal the node at once
  const stopped = new Promise<void>(resolve => {
    const stop = (signal: string): void => {
      process.removeAllListeners('SIGINT')
      process.removeAllListeners('SIGTERM')
      // a second signal while stopping forces the exit
      process.once('SIGINT', () => process.exit(130))
      process.once('SIGTERM', () => process.exit(143))
      serviceLog.current?.detach()
      out.write(`${signal}: stopping\n`)
      resolve()
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  out.write(`skyline node ${node.peerId}${node.identityCreated ? ' (new identity)' : ''}\n`)
  for (const ma of node.libp2p.getMultiaddrs()) out.write(`  listening on ${ma.toString()}\n`)
  if (node.httpUrl != null) out.write(`  dashboard at ${node.httpUrl}/, status at ${node.httpUrl}/status, metrics at ${node.httpUrl}/metrics\n`)
  out.write(`  data in ${config.dataDir}\n`)
  if (node.builder !== undefined) {
    out.write(`  builder: ${node.builder.kind}\n`)
  } else {
    out.write(`  no builder (${node.builderNote ?? 'disabled'}): this node runs as a relay and tally node\n`)
  }
  for (const w of node.builderWarnings) out.write(`  warning: ${w}\n`)
  if (node.trusted.size === 0) out.write('  warning: no trusted announcers configured (--announcer): every announcement will be refused\n')
  if (node.builder !== undefined && node.keyring === undefined) out.write('  warning: no Fedora keyring (--keyring): assigned SRPMs cannot be verified and will not be built\n')
  serviceLog.current = attachServiceLog(node, format as LogFormat, out)
  await stopped

  // a clean stop takes about a second; should a part of the stack hang, the store is closed (nothing is
  // lost: every record is committed) and the process exits anyway, as a service manager would expect
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<'late'>(resolve => { timer = setTimeout(() => resolve('late'), STOP_DEADLINE_MS) })
  const outcome = await Promise.race([node.stop().then(() => 'stopped' as const), deadline])
  clearTimeout(timer)
  if (outcome === 'late') {
    node.store.close()
    out.write(`stopped (the network stack did not finish within ${STOP_DEADLINE_MS / 1000} s; the store is closed)\n`)
    process.exit(0)
  }
  out.write('stopped\n')
  return 0
}
