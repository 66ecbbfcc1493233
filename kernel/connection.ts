/**
 * The connection file a Jupyter client writes before starting the kernel: transport, address,
 * one port per channel (or an ipc path prefix), the signing key and scheme.
 */
import { readFileSync } from 'node:fs';

export type Channel = 'shell' | 'control' | 'stdin' | 'iopub' | 'hb';

export interface ConnectionInfo {
  transport: 'tcp' | 'ipc';
  ip: string;
  shell_port: number;
  control_port: number;
  stdin_port: number;
  iopub_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export function readConnectionFile(path: string): ConnectionInfo {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`connection file ${path}: cannot read it as JSON (${(e as Error).message}). ` +
      'Hint: start the kernel through Jupyter, which writes this file: node dist/kernel/main.js <connection_file>');
  }
  const transport = raw.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'ipc') {
    throw new Error(`connection file ${path}: transport ${JSON.stringify(transport)} is not supported. Hint: use "tcp" or "ipc".`);
  }
  for (const f of ['shell_port', 'control_port', 'stdin_port', 'iopub_port', 'hb_port']) {
    if (typeof raw[f] !== 'number') {
      throw new Error(`connection file ${path}: field \`${f}\` is ${JSON.stringify(raw[f])}, not a port number.`);
    }
  }
  return {
    ...(raw as unknown as ConnectionInfo),
    transport,
    ip: typeof raw.ip === 'string' ? raw.ip : '127.0.0.1',
    key: typeof raw.key === 'string' ? raw.key : '',
    signature_scheme: typeof raw.signature_scheme === 'string' ? raw.signature_scheme : 'hmac-sha256',
  };
}

/** The ZeroMQ endpoint of a channel: `tcp://ip:port`, or `ipc://ip-port` as jupyter_client names it. */
export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info[`${channel}_port`];
  return info.transport === 'tcp' ? `tcp://${info.ip}:${port}` : `ipc://${info.ip}-${port}`;
}
