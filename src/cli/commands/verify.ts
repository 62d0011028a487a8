/**
 * `skyline verify --keyring PATH [--json] FILE...`: checks RPM signatures and digests (src/rpm).
 * One line per file; exit 0 when every file is accepted, 1 when any is rejected, 2 when an input
 * could not be read (a missing file, an unreadable keyring, bad usage).
 */
import { parse } from '../args.ts'
import { EXIT_OK, EXIT_REJECTED, EXIT_USAGE, InputError, UsageError } from '../errors.ts'
import { KeyringError } from '../../rpm/errors.ts'
import { Keyring } from '../../rpm/keyring.ts'
import { verifyRpmFile, type VerifyResult } from '../../rpm/verify.ts'

export const HELP = `usage: skyline verify --keyring PATH [--json] FILE.rpm...

Checks each package's header signature against the keyring and every digest it carries.
A package is accepted only if a header signature verifies against a trusted key and all its
digests match; unsigned packages are rejected.

options:
  --keyring PATH   an OpenPGP key file, or a folder of RPM-GPG-KEY-*, *.asc, *.pub, *.pgp files
  --json           one JSON object per line: {file, verdict, nevra, keyId, reason, digests, ...}
  -h, --help       this text

output:  FILE: accepted (NEVRA, signed by KEYID)   or   FILE: rejected: REASON
exit:    0 all accepted, 1 any rejected, 2 unreadable input or bad usage`

const OPTIONS = {
  keyring: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false }
} as const

function oneLine (s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}

function jsonLine (file: string, r: VerifyResult): Record<string, unknown> {
  return {
    file,
    verdict: r.verdict,
    ...(r.nevra === undefined ? {} : { nevra: r.nevra, source: r.isSource }),
    ...(r.keyId === undefined ? {} : { keyId: r.keyId, fingerprint: r.fingerprint }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    signatures: r.signatures.map(s => ({
      tag: s.tag,
      index: s.index,
      range: s.range,
      description: s.description,
      keyId: s.keyId,
      status: s.status,
      ...(s.signer === undefined ? {} : { signer: s.signer }),
      ...(s.message === undefined ? {} : { message: s.message })
    })),
    digests: r.digests.map(d => ({
      name: d.name,
      tag: d.tag,
      status: d.status,
      expected: d.expected,
      ...(d.actual === undefined ? {} : { actual: d.actual }),
      ...(d.message === undefined ? {} : { message: d.message })
    }))
  }
}

export async function run (argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, true)
  if (values.help === true) {
    process.stdout.write(HELP + '\n')
    return EXIT_OK
  }
  if (values.keyring === undefined || values.keyring === '') throw new UsageError('--keyring PATH is required')
  if (positionals.length === 0) throw new UsageError('no package files given')

  let keyring: Keyring
  try {
    keyring = await Keyring.load(values.keyring)
  } catch (err) {
    if (err instanceof KeyringError) throw new InputError(err.message)
    throw err
  }
  for (const p of keyring.problems) process.stderr.write(`skyline verify: warning: ${oneLine(p.message)}\n`)

  let exit = EXIT_OK
  for (const file of positionals) {
    let result: VerifyResult
    try {
      result = await verifyRpmFile(file, keyring)
    } catch (err: any) {
      const message = err?.code === 'ENOENT' ? 'no such file' : err?.code === 'EISDIR' ? 'is a directory' : oneLine(err?.message ?? String(err))
      process.stdout.write(values.json === true
        ? JSON.stringify({ file, verdict: 'unreadable', reason: message }) + '\n'
        : `${file}: unreadable: ${message}\n`)
      exit = Math.max(exit, EXIT_USAGE)
      continue
    }
    if (values.json === true) {
      process.stdout.write(JSON.stringify(jsonLine(file, result)) + '\n')
    } else if (result.verdict === 'accepted') {
      process.stdout.write(`${file}: accepted (${result.nevra ?? '?'}, signed by ${result.keyId ?? '?'})\n`)
    } else {
      process.stdout.write(`${file}: rejected: ${oneLine(result.reason ?? 'unknown reason')}\n`)
    }
    if (result.verdict !== 'accepted') exit = Math.max(exit, EXIT_REJECTED)
  }
  return exit
}
