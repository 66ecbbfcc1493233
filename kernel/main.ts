#!/usr/bin/env node
/**
 * The qlora-ts Jupyter kernel: `node dist/kernel/main.js <connection_file>`. Jupyter starts it
 * through the kernelspec (kernelspec/install.ts).
 */
import { readConnectionFile } from './connection.js';
import { Dispatcher } from './dispatch.js';
import { Kernel } from './kernel.js';

async function main(argv: string[]): Promise<void> {
  const file = argv.find((a) => !a.startsWith('-'));
  if (!file) {
    process.stderr.write('usage: node dist/kernel/main.js <connection_file>\n' +
      'Jupyter runs this through the kernelspec; install it with: npm run kernel:install\n');
    process.exit(2);
  }
  const kernel = new Kernel(readConnectionFile(file));
  const dispatcher = new Dispatcher(kernel);
  // SIGINT from the client (or from the control process): a running vm script is broken by the
  // interrupt guard (kernel/exec/interrupt-guard.ts); a pending await through the cell's AbortSignal.
  process.on('SIGINT', () => kernel.sigint());
  process.on('SIGTERM', () => void kernel.shutdown());
  await kernel.server.start({
    shell: (msg) => dispatcher.shell(msg),
    stdin: (msg) => kernel.stdin.receive(msg),
    control: (msg, interrupted, at) => dispatcher.control(msg, interrupted, at),
  });
  await kernel.publish(undefined, 'status', { execution_state: 'starting' });
  watchParent(kernel);
}

/** Like ipykernel's parent poller: exit when the process that started us (JPY_PARENT_PID) is gone. */
function watchParent(kernel: Kernel): void {
  const pid = Number(process.env.JPY_PARENT_PID);
  if (!Number.isInteger(pid) || pid <= 1) return;
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch {
      clearInterval(timer);
      void kernel.shutdown();
    }
  }, 1000);
  timer.unref();
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`qlora-ts kernel: ${e.message}\n`);
  process.exit(1);
});
