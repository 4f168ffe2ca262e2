// Keeps V8's young generation at its starting size for the whole run. Left alone, V8 grows it up
// to 32 MiB per semi-space while ssh2 churns through a short-lived buffer per packet, and the
// process keeps that memory: sending 1 GiB to 8 hosts peaked at 255 MiB RSS with 11 MiB of live
// heap. At the starting size (1 MiB) the same run peaked at 176 MiB and was no slower: the
// scavenges are more frequent but each finds almost nothing alive. The runner starts
// `node dist/index.js` without flags, so the flag is set here, before anything else runs; V8
// reads this one each time the young generation would grow.
import { setFlagsFromString } from 'node:v8'

setFlagsFromString('--semi-space-growth-factor=1')
