// What one host's release is, kept across its attempts and into the switch.

import type { SftpSession, SshConnection } from '../../ssh/types.js'
import type { HostReleases } from './layout.js'

export interface ReleaseProgress {
  /** The deploy root (`target`), absolute. */
  readonly root: string
  /** The release `current` is to point to: this run's new one, or for a rollback the one before. */
  readonly name: string
  /** The release `current` pointed to before this run; undefined where there was none. */
  readonly previous: string | undefined
  /** This run made `releases/<name>`: removed again where the host does not switch to it. */
  made: boolean
  /** `current` points to `name`. */
  switched: boolean
  /** What the host had when the release was begun. */
  readonly host: HostReleases
  /** A rollback: nothing made, `current` goes back. */
  readonly rollback: boolean
  /** The connection the release was made over, kept open for the switch. */
  kept?: { readonly connection: SshConnection; readonly sftp: SftpSession }
}
