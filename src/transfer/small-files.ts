// Many small files in one stream: a tar archive into a staging directory beside the target
// (tar-stream.ts), then each file verified there and renamed into its final place
// (staged-publish.ts). Hosts without a shell or tar answer with a failed command, and their
// files go over SFTP as usual.

import type { PlannedFile } from '../local/plan.js'
import { publishSmallFiles, type PublishJob } from './staged-publish.js'
import { streamSmallFiles, type StreamJob } from './tar-stream.js'

export type SmallFilesJob = StreamJob & PublishJob

/**
 * Sends `job.files` as one tar stream and publishes them. Returns the files it could not handle
 * because the host cannot extract a tar stream (no shell, no tar): those go over SFTP.
 */
export async function sendSmallFiles(job: SmallFilesJob): Promise<readonly PlannedFile[]> {
  const streamed = await streamSmallFiles(job)
  if (!streamed.staged) return job.files
  await publishSmallFiles(job, streamed.digests)
  return []
}
