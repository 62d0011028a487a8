/**
 * The one table of Skyline's names on the wire: its libp2p stream protocols and its gossip topics (after
 * Lodestar's typed topics). Every protocol and topic is versioned in its name; topic payloads are
 * protobuf messages with a per-topic maximum size. Specification: docs/protocols/README.md.
 *
 * @example
 * ```ts
 * stringifyTopic('announce') // '/skyline/2/announce'
 * parseTopic('/skyline/2/consensus') // 'consensus'
 * ```
 */
/**
 * Skyline's own stream protocols. A node also speaks libp2p's identify (`/ipfs/id/1.0.0`,
 * `/ipfs/id/push/1.0.0`) and ping (`/ipfs/ping/1.0.0`) under their standard IDs.
 */
export const PROTOCOLS = {
  /** Kademlia, Skyline's own DHT (separate from the public IPFS DHT): docs/protocols/assignment.md */
  dht: '/skyline/kad/1.0.0',
  /** content-addressed chunk transfer: docs/protocols/blob.md */
  blob: '/skyline/blob/1.0.0',
  /** late joiners and gap repair: docs/protocols/sync.md */
  sync: '/skyline/sync/1.0.0',
  /** registered by nodes that can build; answers one JSON line: docs/protocols/assignment.md */
  builder: '/skyline/builder/1.0.0',
  /** which blob holds a buildroot package, by content sha256: docs/protocols/buildroot.md */
  buildrootPackage: '/skyline/buildroot-package/1.0.0'
} as const

/**
 * The gossip topics' version, in every topic's name. 2: messages carry no gossipsub author, sequence
 * number, signature or key (`StrictNoSign`; every payload is signed by its author at the application
 * layer) and a node refuses those that do. Version 1 nodes (`StrictSign`) and version 2 nodes refuse each
 * other's messages, so the version keeps them on topics of their own (docs/protocols/gossip.md).
 */
export const TOPIC_VERSION = 2

export const TOPICS = {
  /** signed announcements of SRPMs to build */
  announce: { maxBytes: 4 * 1024 },
  /** signed build attestations and equivocation proofs */
  consensus: { maxBytes: 64 * 1024 },
  /** signed halt and resume messages */
  control: { maxBytes: 2 * 1024 }
} as const

export type TopicName = keyof typeof TOPICS

export const TOPIC_NAMES = Object.keys(TOPICS) as TopicName[]

export function stringifyTopic (name: TopicName): string {
  return `/skyline/${TOPIC_VERSION}/${name}`
}

/** Returns the topic's name, or undefined for a topic that is not Skyline's (or of another version) */
export function parseTopic (topic: string): TopicName | undefined {
  return TOPIC_BY_STRING.get(topic)
}
/** every message's topic is parsed on arrival: a lookup, not a regular expression */
const TOPIC_BY_STRING = new Map(TOPIC_NAMES.map(name => [stringifyTopic(name), name]))
