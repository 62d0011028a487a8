/**
 * The node's identity: an Ed25519 libp2p key created on first start and kept in the data directory
 * (mode 0600), so the peer ID survives restarts.
 */
import { mkdirSync, readFileSync, statSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { IDENTITY_FILE } from './constants.ts'
import { IdentityError } from './errors.ts'
import { writeFileAtomic } from '../store/fs.ts'

export async function loadOrCreateIdentity (dataDir: string): Promise<{ privateKey: PrivateKey, created: boolean }> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, IDENTITY_FILE)
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw new IdentityError(`cannot read identity ${path}: ${err.code ?? err.message}`)
    const privateKey = await generateKeyPair('Ed25519')
    writeFileAtomic(path, privateKeyToProtobuf(privateKey), 0o600)
    return { privateKey, created: true }
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
  try {
    return { privateKey: privateKeyFromProtobuf(bytes), created: false }
  } catch (err: any) {
    throw new IdentityError(`identity ${path} is not a libp2p private key: ${err.message}`)
  }
}
