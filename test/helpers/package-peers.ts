/**
 * Volunteers that share buildroot packages peer to peer: each one a real libp2p node (createSkylineLibp2p, TCP
 * on 127.0.0.1, the blob protocol) with its own PackageCache and PeerPackages, all dialled to each other.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { createSkylineLibp2p } from '../../src/node/libp2p.ts'
import type { SkylineLibp2p } from '../../src/services/components.ts'
import { PackageCache } from '../../src/services/buildroot/package-cache.ts'
import { PeerPackages } from '../../src/services/buildroot/peer-packages.ts'

export interface Volunteer {
  libp2p: SkylineLibp2p
  peers: PeerPackages
  cache: PackageCache
  dir: string
}

/** Starts a volunteer whose cache fetches from peers, then from `mirrors` */
export async function startVolunteer (mirrors: string[], opts: { peers?: boolean } = {}): Promise<Volunteer> {
  const dir = await mkdtemp(join(tmpdir(), 'skyline-volunteer-'))
  const libp2p = await createSkylineLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: [multiaddr('/ip4/127.0.0.1/tcp/0')],
    maxConnections: 100,
    inboundConnectionThreshold: 100,
    blobDir: join(dir, 'blobs')
  })
  const peers = new PeerPackages({ libp2p, blobs: libp2p.services.blobs, log: logger('skyline:test:peers') })
  await peers.start()
  await libp2p.start()
  const cache = new PackageCache({ directory: join(dir, 'cache'), mirrors, peers: opts.peers === false ? undefined : peers, log: logger('skyline:test:packages') })
  return { libp2p, peers, cache, dir }
}

/** Dials every volunteer to every other */
export async function connectAll (vs: Volunteer[]): Promise<void> {
  for (let i = 0; i < vs.length; i++) {
    for (let j = i + 1; j < vs.length; j++) await vs[i].libp2p.dial(vs[j].libp2p.getMultiaddrs()[0])
  }
}

export async function stopVolunteers (vs: Volunteer[]): Promise<void> {
  for (const v of vs) {
    await v.peers.stop().catch(() => {})
    await v.libp2p.stop()
    await rm(v.dir, { recursive: true, force: true })
  }
}
