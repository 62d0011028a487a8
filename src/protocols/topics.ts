/**
 * The one table of Skyline's gossip topics (after Lodestar's typed topics). Every topic is versioned in
 * its name; payloads are protobuf messages with a per-topic maximum size.
 *
 * @example
 * ```ts
 * stringifyTopic('announce') // '/skyline/1/announce'
 * parseTopic('/skyline/1/consensus') // 'consensus'
 * ```
 */
export const TOPIC_VERSION = 1

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
  const m = /^\/skyline\/(\d+)\/([a-z]+)$/.exec(topic)
  if (m === null || Number(m[1]) !== TOPIC_VERSION) return undefined
  return (m[2] in TOPICS) ? m[2] as TopicName : undefined
}
