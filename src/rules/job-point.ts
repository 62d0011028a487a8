/** The point in the Kademlia key space a job lives at: sha256(jobKey), where kad-dht's getClosestPeers(jobKey) walks */
import { bufferKadId } from './distance.ts'

export function jobKadId (jobKey: Uint8Array): Uint8Array {
  return bufferKadId(jobKey)
}
