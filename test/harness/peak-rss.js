// Preloaded (node --import) into the action's process by runAction's measurePeakRss: on exit,
// writes the process's peak resident set size in KiB to the file SFD_TEST_PEAK_RSS_FILE names.
import { writeFileSync } from 'node:fs'
import process from 'node:process'

const out = process.env.SFD_TEST_PEAK_RSS_FILE
if (out !== undefined && out !== '')
  process.on('exit', () => writeFileSync(out, String(process.resourceUsage().maxRSS)))
