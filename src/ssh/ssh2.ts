// The one import of ssh2. Under real Node ESM only its default export works
// (`import { Client } from 'ssh2'` fails), so the rest of ssh/ takes what it needs from here.

import ssh2 from 'ssh2'

export type { ClientChannel, ConnectConfig, ParsedKey, SFTPWrapper, Stats } from 'ssh2'

export const Client = ssh2.Client
export type Client = ssh2.Client

export const parseKey = ssh2.utils.parseKey
