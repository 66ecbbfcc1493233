/** kernel_info_request (shell and control): protocol 5.3, TypeScript language info, help links. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROTOCOL_VERSION } from '../wire/message.js';
import type { Handler } from '../dispatch.js';

function packageVersion(name: string, from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    const candidates = [join(dir, 'package.json'), join(dir, 'node_modules', name, 'package.json')];
    for (const file of candidates) {
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    }
  }
  return '0.0.0';
}

let content: Record<string, unknown> | undefined;

export function kernelInfoContent(): Record<string, unknown> {
  if (content) return content;
  const version = packageVersion('qlora-ts', __dirname);
  const ts = packageVersion('typescript', __dirname);
  content = {
    status: 'ok',
    protocol_version: PROTOCOL_VERSION,
    implementation: 'qlora-ts',
    implementation_version: version,
    language_info: {
      name: 'typescript',
      version: ts,
      mimetype: 'text/typescript',
      file_extension: '.ts',
      pygments_lexer: 'typescript',
      codemirror_mode: { name: 'javascript', typescript: true },
    },
    banner: `qlora-ts ${version}: TypeScript ${ts} on Node ${process.versions.node}`,
    debugger: false,
    help_links: [
      { text: 'TypeScript handbook', url: 'https://www.typescriptlang.org/docs/handbook/' },
      { text: 'Node.js API', url: `https://nodejs.org/docs/v${process.versions.node}/api/` },
      { text: 'TensorFlow.js API', url: 'https://js.tensorflow.org/api/latest/' },
    ],
  };
  return content;
}

export const kernelInfo: Handler = async () => ({ content: kernelInfoContent() });
