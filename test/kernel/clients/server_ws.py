"""Executes one cell on a kernel that a Jupyter Server started, over the server's websocket
(/api/kernels/<id>/channels, JSON messages with a `channel` key), with tornado's websocket client
(Debian python3-tornado). Prints one JSON line: the execute_reply status, the stream text, the
execute_result, and the msg_types seen on iopub for the request, in order."""
import json, sys, uuid
from datetime import datetime, timezone
from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

base, token, kernel_id, code = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


def message(msg_type, content, session):
    header = {'msg_id': uuid.uuid4().hex, 'msg_type': msg_type, 'session': session, 'username': 'test',
              'date': datetime.now(timezone.utc).isoformat(), 'version': '5.3'}
    return {'header': header, 'parent_header': {}, 'metadata': {}, 'content': content, 'channel': 'shell', 'buffers': []}


async def main():
    session = uuid.uuid4().hex
    url = f"{base.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels?session_id={session}&token={token}"
    ws = await websocket_connect(url)
    request = message('execute_request', {'code': code, 'silent': False, 'store_history': True,
                                           'user_expressions': {}, 'allow_stdin': False, 'stop_on_error': True}, session)
    await ws.write_message(json.dumps(request))
    out = {'iopub': [], 'stdout': '', 'result': None, 'status': None}
    idle = False
    while not (idle and out['status']):
        raw = await ws.read_message()
        if raw is None:
            raise SystemExit('the server closed the websocket')
        msg = json.loads(raw)
        if msg.get('parent_header', {}).get('msg_id') != request['header']['msg_id']:
            continue
        kind = msg['header']['msg_type']
        if msg['channel'] == 'shell' and kind == 'execute_reply':
            out['status'] = msg['content']['status']
        elif msg['channel'] == 'iopub':
            out['iopub'].append(kind)
            if kind == 'stream' and msg['content']['name'] == 'stdout':
                out['stdout'] += msg['content']['text']
            elif kind == 'execute_result':
                out['result'] = msg['content']['data']
            elif kind == 'status' and msg['content']['execution_state'] == 'idle':
                idle = True
    ws.close()
    print(json.dumps(out))


IOLoop.current().run_sync(main, timeout=120)
