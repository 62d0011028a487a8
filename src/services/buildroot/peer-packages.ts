/**
 * Buildroot packages from peers (docs/protocols/buildroot.md, "The package protocol"): a node asks the peers
 * it is connected to which blob holds the package with a given content sha256 (a signed and an unsigned copy
 * share it, their files do not), fetches that blob over the blob protocol, and hands it to the cache, which
 * checks it against the manifest before anything uses it. A node answers for the packages its cache holds.
 */
import type { Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { copyFile } from 'node:fs/promises'
import type { BlobService } from '../blob/index.ts'
import type { BlobRef, Manifest } from '../blob/manifest.ts'
import { PROTOCOLS } from '../../protocols/ids.ts'
import { packageNevra, SIGNATURE_ALLOWANCE, type BuildrootPackage } from '../../rules/buildroot.ts'

/** status byte of an answer */
export const PACKAGE_HELD = 0
export const PACKAGE_NOT_HELD = 1
/** request: the 32-byte content sha256; answer: status, then (held) blob sha256, u64 size, u32 chunk size, chunk root */
export const PACKAGE_ANSWER_BYTES = 1 + 32 + 8 + 4 + 32
/** @default 8 peers asked at once for one package */
export const PEERS_ASKED = 8
/** @default 5 s for one peer's answer */
export const ASK_TIMEOUT_MS = 5_000

export interface PeerPackagesComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers'>
  blobs: Pick<BlobService, 'add' | 'fetch'>
  log: Logger
}

/** The answer of one peer: the blob that holds the package, as that peer names it */
export function encodeAnswer (ref: BlobRef | undefined): Uint8Array {
  if (ref === undefined) return Uint8Array.of(PACKAGE_NOT_HELD)
  const out = Buffer.alloc(PACKAGE_ANSWER_BYTES)
  out[0] = PACKAGE_HELD
  Buffer.from(ref.sha256, 'hex').copy(out, 1)
  out.writeBigUInt64BE(BigInt(ref.size), 33)
  out.writeUInt32BE(ref.chunkSize, 41)
  Buffer.from(ref.root, 'hex').copy(out, 45)
  return out
}

/** Decodes an answer; throws on any other length or status */
export function decodeAnswer (bytes: Uint8Array): BlobRef | undefined {
  const b = Buffer.from(bytes)
  if (b.length === 1 && b[0] === PACKAGE_NOT_HELD) return undefined
  if (b.length !== PACKAGE_ANSWER_BYTES || b[0] !== PACKAGE_HELD) throw new Error(`bad package answer (${b.length} bytes, status ${b[0]})`)
  return { sha256: b.subarray(1, 33).toString('hex'), size: Number(b.readBigUInt64BE(33)), chunkSize: b.readUInt32BE(41), root: b.subarray(45, 77).toString('hex') }
}

export class PeerPackages {
  private readonly c: PeerPackagesComponents
  /** what this node answers with: content sha256 → the cached file's path */
  private held: (sha256: string) => string | undefined = () => undefined
  /** blobs made of cached files, by content sha256 (a file is hashed into the blob store once) */
  private readonly blobs = new Map<string, Promise<Manifest>>()
  /** bytes fetched from peers */
  downloaded = 0

  constructor (components: PeerPackagesComponents) {
    this.c = components
  }

  /** The cache tells which packages it holds (the files it serves) */
  serve (held: (sha256: string) => string | undefined): void {
    this.held = held
  }

  async start (): Promise<void> {
    await this.c.libp2p.handle(PROTOCOLS.buildrootPackage, async stream => { await this.answer(stream) }, { maxInboundStreams: 16, maxOutboundStreams: PEERS_ASKED })
  }

  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(PROTOCOLS.buildrootPackage)
  }

  private async answer (stream: Stream): Promise<void> {
    const signal = AbortSignal.timeout(ASK_TIMEOUT_MS * 2)
    try {
      const lp = lpStream(stream, { maxDataLength: PACKAGE_ANSWER_BYTES })
      const req = await lp.read({ signal })
      if (req.byteLength !== 32) throw new Error('a package request is 32 bytes')
      const sha256 = Buffer.from(req.subarray()).toString('hex')
      const path = this.held(sha256)
      let ref: Manifest | undefined
      if (path !== undefined) {
        let m = this.blobs.get(sha256)
        if (m === undefined) {
          m = this.c.blobs.add(path, { provide: false })
          this.blobs.set(sha256, m)
          m.catch(() => this.blobs.delete(sha256))
        }
        ref = await m
      }
      await lp.write(encodeAnswer(ref), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
    }
  }

  /** Asks one peer for the blob that holds the package `sha256` */
  private async ask (peer: PeerId, sha256: string, signal: AbortSignal): Promise<BlobRef | undefined> {
    const s = AbortSignal.any([signal, AbortSignal.timeout(ASK_TIMEOUT_MS)])
    const stream = await this.c.libp2p.dialProtocol(peer, PROTOCOLS.buildrootPackage, { signal: s })
    try {
      const lp = lpStream(stream, { maxDataLength: PACKAGE_ANSWER_BYTES })
      await lp.write(Buffer.from(sha256, 'hex'), { signal: s })
      const ref = decodeAnswer((await lp.read({ signal: s })).subarray())
      await stream.close({ signal: s })
      return ref
    } catch (err: any) {
      stream.abort(err)
      throw err
    }
  }

  /**
   * Fetches the package from the first connected peer that says it holds it, into `dest`; false when no
   * peer has it. The bytes are checked against the blob reference the peer gave (the blob protocol does
   * that), never yet against the manifest: the caller does.
   */
  async download (p: BuildrootPackage, dest: string, signal?: AbortSignal, exclude: ReadonlySet<string> = new Set()): Promise<PeerId | undefined> {
    const peers = this.c.libp2p.getPeers().filter(id => !exclude.has(id.toString())).slice(0, PEERS_ASKED)
    const s = signal ?? new AbortController().signal
    const answers = await Promise.all(peers.map(async peer => ({ peer, ref: await this.ask(peer, p.sha256, s).catch(() => undefined) })))
    for (const { peer, ref } of answers) {
      if (ref === undefined) continue
      if (ref.size > p.size + SIGNATURE_ALLOWANCE) {
        this.c.log('%p offers %s as %d bytes, more than it may have', peer, packageNevra(p), ref.size)
        continue
      }
      try {
        const path = await this.c.blobs.fetch(ref, { providers: [peer], rootSignedBy: [peer], signal })
        await copyFile(path, dest)
        this.downloaded += ref.size
        return peer
      } catch (err: any) {
        signal?.throwIfAborted()
        this.c.log('%s from %p: %s', packageNevra(p), peer, err.message)
      }
    }
    return undefined
  }
}
