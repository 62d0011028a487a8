/**
 * Trusted OpenPGP keys (the `RPM-GPG-KEY-*` files), loaded with OpenPGP.js from one file or from every
 * key file in a folder. A file may be armored or binary and may hold several keys; secret keys are
 * reduced to their public halves. One thing is decided here, as rpm 4.18 decides it on import: a key
 * with a subkey whose binding signature does not verify (the CVE-2021-3521 kind) is refused whole.
 * Which (sub)key may sign, and whether it is revoked or expired, is checked at verification time
 * (verify.ts).
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import * as openpgp from 'openpgp'
import { KeyringError } from './errors.ts'

/** Names that a keyring folder's key files have. */
export const KEY_FILE_PATTERN = /^RPM-GPG-KEY-|\.(asc|pub|pgp|gpg|key)$/

/** A key file of a folder that did not load, and why. */
export interface KeyringProblem {
  readonly file: string
  readonly message: string
}

const ARMOR_BLOCK = /-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP \1 KEY BLOCK-----/g

/**
 * Parses every key in `data` (armored blocks, possibly several, or binary packets). Throws KeyringError
 * when there is none.
 */
export async function parseKeys (data: Uint8Array, name = 'key data'): Promise<openpgp.PublicKey[]> {
  const text = new TextDecoder('latin1').decode(data)
  const keys: openpgp.Key[] = []
  try {
    if (text.includes('-----BEGIN PGP ')) {
      const blocks = text.match(ARMOR_BLOCK) ?? []
      if (blocks.length === 0) throw new Error('no complete armored key block')
      for (const block of blocks) keys.push(...await openpgp.readKeys({ armoredKeys: block }))
    } else {
      keys.push(...await openpgp.readKeys({ binaryKeys: data }))
    }
  } catch (err: any) {
    const message = String(err?.message ?? err)
    throw new KeyringError(/No key packet found/.test(message)
      ? `${name}: no key OpenPGP.js can read (unsupported algorithm?)`
      : `${name}: not an OpenPGP key: ${message}`)
  }
  if (keys.length === 0) throw new KeyringError(`${name}: no usable OpenPGP key (unsupported algorithm?)`)
  return keys.map(k => k.isPrivate() ? k.toPublic() : k as openpgp.PublicKey)
}

/** The keys of a file that may be used, and why the others may not or are noted */
export interface CheckedKeys {
  readonly usable: openpgp.PublicKey[]
  readonly problems: KeyringProblem[]
}

/**
 * Refuses keys rpm 4.18 refuses to import for a bad binding: a key with a subkey whose binding signature
 * does not verify (tampered with, missing, or of the wrong type: CVE-2021-3521, `type-confusion.asc`)
 * is dropped whole, primary key included, since its holder published something that is not a sound
 * key. A primary key OpenPGP.js refuses is noted (verification refuses it anyway).
 */
export async function checkKeys (keys: readonly openpgp.PublicKey[], file: string): Promise<CheckedKeys> {
  const usable: openpgp.PublicKey[] = []
  const problems: KeyringProblem[] = []
  for (const key of keys) {
    const id = key.getFingerprint()
    try {
      await key.verifyPrimaryKey()
    } catch (err: any) {
      problems.push({ file, message: `${file}: key ${id}: ${err?.message ?? err}` })
    }
    const unbound = await badlyBoundSubkey(key)
    if (unbound === undefined) usable.push(key)
    else problems.push({ file, message: `${file}: key ${id} refused (as rpm refuses it): subkey ${unbound.id}: ${unbound.message}` })
  }
  return { usable, problems }
}

/** The first subkey whose binding signature does not verify, and why */
async function badlyBoundSubkey (key: openpgp.PublicKey): Promise<{ id: string, message: string } | undefined> {
  for (const sub of key.subkeys) {
    try {
      await sub.verify()
    } catch (err: any) {
      const message = String(err?.message ?? err)
      if (/binding/i.test(message)) return { id: sub.getKeyID().toHex(), message }
    }
  }
  return undefined
}

export class Keyring {
  readonly keys: readonly openpgp.PublicKey[]
  /** Key files of a folder that could not be loaded, and keys only partly usable; for warnings. */
  readonly problems: readonly KeyringProblem[]
  readonly #byKeyId: Map<string, openpgp.PublicKey[]>

  constructor (keys: openpgp.PublicKey[], problems: KeyringProblem[] = []) {
    this.keys = keys
    this.problems = problems
    this.#byKeyId = new Map()
    for (const key of keys) {
      for (const k of key.getKeys()) {
        const id = k.getKeyID().toHex()
        const list = this.#byKeyId.get(id) ?? []
        if (!list.includes(key)) list.push(key)
        this.#byKeyId.set(id, list)
      }
    }
  }

  get size (): number {
    return this.keys.length
  }

  /**
   * Every key whose primary key or a subkey has this 16-hex-digit key ID. More than one when key IDs
   * collide; the caller tries each.
   */
  lookup (keyId: string): openpgp.PublicKey[] {
    return this.#byKeyId.get(keyId.toLowerCase()) ?? []
  }

  /** Key IDs (16 hex digits) of every primary key, for messages. */
  keyIds (): string[] {
    return this.keys.map(k => k.getKeyID().toHex())
  }

  /** The keys of one key file's bytes; throws KeyringError when none is usable */
  static async fromBytes (data: Uint8Array, name = 'key data'): Promise<Keyring> {
    const { usable, problems } = await checkKeys(await parseKeys(data, name), name)
    if (usable.length === 0) throw new KeyringError(problems.map(p => p.message).join('; '))
    return new Keyring(usable, problems)
  }

  /**
   * Loads a key file, or every key file (`RPM-GPG-KEY-*`, `*.asc`, `*.pub`, `*.pgp`, `*.gpg`, `*.key`)
   * in a folder. In a folder, files that hold no usable key are listed in `problems` (so are keys refused
   * for a subkey without a valid binding); the keyring is refused only when no key at all could be loaded.
   * Throws KeyringError.
   */
  static async load (path: string): Promise<Keyring> {
    let info
    try {
      info = await stat(path)
    } catch (err: any) {
      throw new KeyringError(`keyring ${path}: ${err.code === 'ENOENT' ? 'no such file or folder' : err.message}`)
    }
    const readKeyFile = async (file: string): Promise<Uint8Array> => {
      try {
        return new Uint8Array(await readFile(file))
      } catch (err: any) {
        throw new KeyringError(`${file}: ${err.message}`)
      }
    }
    if (!info.isDirectory()) return Keyring.fromBytes(await readKeyFile(path), path)
    let names: string[]
    try {
      names = (await readdir(path)).filter(n => KEY_FILE_PATTERN.test(n)).sort()
    } catch (err: any) {
      throw new KeyringError(`keyring ${path}: ${err.message}`)
    }
    const keys: openpgp.PublicKey[] = []
    const problems: KeyringProblem[] = []
    for (const name of names) {
      const file = join(path, name)
      try {
        if (!(await stat(file)).isFile()) continue
        const checked = await checkKeys(await parseKeys(await readKeyFile(file), file), file)
        keys.push(...checked.usable)
        problems.push(...checked.problems)
      } catch (err: any) {
        problems.push({ file, message: `${err instanceof KeyringError ? err.message : `${file}: ${err.message}`} (file skipped)` })
      }
    }
    if (keys.length === 0) {
      throw new KeyringError(`keyring ${path}: no usable key in ${names.length} key file(s)${problems.length > 0 ? ` (${problems.map(p => basename(p.file)).join(', ')} failed)` : ''}`)
    }
    return new Keyring(keys, problems)
  }
}

/** Loads a keyring file or folder (Keyring.load). */
export async function loadKeyring (path: string): Promise<Keyring> {
  return Keyring.load(path)
}
