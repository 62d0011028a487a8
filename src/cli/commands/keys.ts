/** `skyline keys generate --out F`: a new announcer key; F gets the private key (0600), F.pub the public line. */
import { existsSync, writeFileSync } from 'node:fs'
import { parse } from '../args.ts'
import { UsageError, InputError } from '../errors.ts'
import { generateAnnouncerKey } from '../../protocols/signing.ts'

const HELP = `usage: skyline keys generate --out F [--comment TEXT] [--force]
Writes a new Ed25519 announcer key: the private key to F (mode 0600), the public key to F.pub, and
prints the public key line to list under "announcers" in trusted nodes' configs.`

export async function run (argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === '--help' || sub === '-h') { process.stdout.write(HELP + '\n'); return 0 }
  if (sub !== 'generate') throw new UsageError(sub === undefined ? 'missing subcommand (keys generate --out F)' : `unknown subcommand '${sub}' (keys generate --out F)`)
  const { values } = parse(rest, { out: { type: 'string' }, comment: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } })
  if (values.help === true) { process.stdout.write(HELP + '\n'); return 0 }
  if (values.out === undefined) throw new UsageError('--out F is required')
  const out = values.out
  if (values.force !== true && (existsSync(out) || existsSync(`${out}.pub`))) throw new UsageError(`${out} or ${out}.pub exists; pass --force to overwrite`)
  const key = generateAnnouncerKey()
  const line = key.publicLine(values.comment)
  try {
    writeFileSync(out, key.privatePem, { mode: 0o600, flag: values.force === true ? 'w' : 'wx' })
    writeFileSync(`${out}.pub`, line, { mode: 0o644 })
  } catch (err: any) {
    throw new InputError(`cannot write ${out}: ${err.code ?? err.message}`)
  }
  process.stdout.write(line)
  return 0
}
