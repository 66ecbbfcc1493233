"""
Execute round trip of one kernel as Python's jupyter_client sees it (the client Jupyter's own
tools use): 1,000 trivial cells (`1 + 1`) after 30 warm-up cells; request sent -> reply and
status idle received. The kernel's command line is the arguments, `{connection_file}` standing
for the file this script writes. Run with Debian's python3 (python3-jupyter-client):

  /usr/bin/python3 bench/kernel/jupyter_client_rt.py node dist/kernel/main.js '{connection_file}'
  /usr/bin/python3 bench/kernel/jupyter_client_rt.py node dist/bench/kernel/echo-kernel.js '{connection_file}'
  /usr/bin/python3 bench/kernel/jupyter_client_rt.py /usr/bin/python3 -m ipykernel_launcher -f '{connection_file}'
"""
import os
import subprocess
import sys
import tempfile
import time

from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

argv = sys.argv[1:]
fname, _ = write_connection_file(fname=os.path.join(tempfile.mkdtemp(), 'kernel.json'), ip='127.0.0.1',
                                 transport='tcp', key=b'secret-key-123')
p = subprocess.Popen([a.replace('{connection_file}', fname) for a in argv],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
kc = BlockingKernelClient(connection_file=fname)
kc.load_connection_file()
kc.start_channels()
kc.wait_for_ready(timeout=60)


def rt():
    t = time.perf_counter()
    mid = kc.execute('1 + 1')
    kc.get_shell_msg(timeout=10)
    while True:
        m = kc.get_iopub_msg(timeout=10)
        if (m['parent_header'].get('msg_id') == mid and m['msg_type'] == 'status'
                and m['content']['execution_state'] == 'idle'):
            break
    return (time.perf_counter() - t) * 1000


for _ in range(30):
    rt()
ts = sorted(rt() for _ in range(1000))
print(' '.join(argv), '| median %.2f ms | p90 %.2f | p99 %.2f |' % (ts[500], ts[900], ts[990]))
kc.stop_channels()
p.kill()
os.remove(fname)
os.rmdir(os.path.dirname(fname))
