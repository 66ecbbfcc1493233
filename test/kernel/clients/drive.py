"""Drives the qlora-ts kernel with Debian's jupyter_client BlockingKernelClient: execute, complete,
interrupt (interrupt_mode "message" from kernel.json) and state after it. Prints one JSON line."""
import json, os, sys, time
from jupyter_client import KernelManager

name, flag = sys.argv[1], sys.argv[2]
km = KernelManager(kernel_name=name)
km.start_kernel(cwd=os.getcwd())
kc = km.client()
kc.start_channels()
out = {}
try:
    kc.wait_for_ready(timeout=120)
    streams = []
    hook = lambda m: streams.append(m['content'].get('text', '')) if m['msg_type'] == 'stream' else None
    reply = kc.execute_interactive("const answer: number = 41;\nconsole.log('hello from TS');\nanswer + 1", output_hook=hook, timeout=120)
    out['execute'] = {'status': reply['content']['status'], 'stdout': ''.join(streams)}
    reply = kc.complete('answ', 4, reply=True, timeout=60)
    out['complete'] = reply['content']['matches']
    kc.execute("require('node:fs').writeFileSync(%s, '1');\nwhile (true) {}" % json.dumps(flag))
    while not os.path.exists(flag):
        time.sleep(0.01)
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=60)
    out['interrupted'] = {'status': reply['content']['status'], 'ename': reply['content'].get('ename')}
    results = []
    hook = lambda m: results.append(m['content']['data']) if m['msg_type'] == 'execute_result' else None
    reply = kc.execute_interactive('answer', output_hook=hook, timeout=60)
    out['after'] = {'status': reply['content']['status'], 'data': results}
    out['interrupt_mode'] = km.kernel_spec.interrupt_mode
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=False)
print(json.dumps(out))
