/** `skyline control halt|resume --key F --bootstrap MA [--reason TEXT]`: stops or restarts the whole mesh taking new jobs. */
import { parse } from '../args.ts'
import { UsageError } from '../errors.ts'
import { loadAnnouncerKey } from '../../protocols/signing.ts'
import { createControl, MAX_REASON } from '../../protocols/control.ts'
import { stringifyTopic } from '../../protocols/ids.ts'
import { startClientNode, waitForTopicPeers } from '../client-node.ts'

const HELP = `usage: skyline control halt|resume --key F --bootstrap MA... [--reason TEXT]
Signs a halt (no node takes new jobs: fall back to Koji) or a resume with the announcer key F and
gossips it to the mesh. Nodes obey only announcer keys they trust; the latest message wins.`

export async function run (argv: string[]): Promise<number> {
  const [action, ...rest] = argv
  if (action === '--help' || action === '-h') { process.stdout.write(HELP + '\n'); return 0 }
  if (action !== 'halt' && action !== 'resume') throw new UsageError(`expected 'halt' or 'resume' (got '${action ?? ''}')`)
  const { values } = parse(rest, {
    key: { type: 'string' },
    bootstrap: { type: 'string', multiple: true },
    reason: { type: 'string' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { process.stdout.write(HELP + '\n'); return 0 }
  if (values.key === undefined) throw new UsageError('--key F (the announcer key) is required')
  if (values.bootstrap === undefined) throw new UsageError('--bootstrap MA is required (a node of the mesh)')
  if ((values.reason ?? '').length > MAX_REASON) throw new UsageError(`--reason is at most ${MAX_REASON} characters (got ${(values.reason ?? '').length})`)
  const key = loadAnnouncerKey(values.key)
  const envelope = createControl({ action, reason: values.reason ?? '' }, key)
  const node = await startClientNode({ name: 'control', bootstrap: values.bootstrap, dataDir: values['data-dir'] })
  try {
    node.trusted.add(key.publicKey)
    await waitForTopicPeers(node, 'control', 30_000)
    const c = await node.control(envelope)
    // let gossip carry it before this node leaves
    await new Promise(resolve => setTimeout(resolve, 1500))
    process.stdout.write(`${c.action} sent to the mesh (${node.libp2p.services.pubsub.getSubscribers(stringifyTopic('control')).length} peers)${c.reason !== '' ? `: ${c.reason}` : ''}\n`)
    return 0
  } finally {
    await node.stop()
  }
}
