/**
 * A small comm registry. Code in cells registers targets and opens comms through
 * `globalThis[Symbol.for('Jupyter.comms')]`; a comm_open for a target nobody registered is
 * answered with comm_close on iopub.
 */
export type CommData = Record<string, unknown>;

export interface Comm {
  readonly commId: string;
  readonly targetName: string;
  send(data: CommData): void;
  close(data?: CommData): void;
  onMsg?: (data: CommData) => void;
  onClose?: (data: CommData) => void;
}

export type CommTarget = (comm: Comm, data: CommData) => void;

/** What the kernel does on iopub for a comm (wired to the current parent message). */
export interface CommWire {
  publish(msgType: 'comm_open' | 'comm_msg' | 'comm_close', content: Record<string, unknown>): void;
}

export class CommRegistry {
  private readonly targets = new Map<string, CommTarget>();
  private readonly comms = new Map<string, Comm>();

  constructor(private readonly wire: CommWire) {}

  registerTarget(name: string, target: CommTarget): void {
    this.targets.set(name, target);
  }

  unregisterTarget(name: string): void {
    this.targets.delete(name);
  }

  /** A comm the kernel opens towards the frontend. */
  open(targetName: string, data: CommData = {}, commId: string = crypto.randomUUID()): Comm {
    const comm = this.make(commId, targetName);
    this.wire.publish('comm_open', { comm_id: commId, target_name: targetName, data });
    return comm;
  }

  /** comm_open from the frontend: false when the target is unknown (the caller closes it). */
  opened(commId: string, targetName: string, data: CommData): boolean {
    const target = this.targets.get(targetName);
    if (!target) return false;
    target(this.make(commId, targetName), data);
    return true;
  }

  message(commId: string, data: CommData): void {
    this.comms.get(commId)?.onMsg?.(data);
  }

  closed(commId: string, data: CommData): void {
    const comm = this.comms.get(commId);
    this.comms.delete(commId);
    comm?.onClose?.(data);
  }

  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const c of this.comms.values()) {
      if (!targetName || c.targetName === targetName) out[c.commId] = { target_name: c.targetName };
    }
    return out;
  }

  private make(commId: string, targetName: string): Comm {
    const comms = this.comms;
    const wire = this.wire;
    const comm: Comm = {
      commId,
      targetName,
      send: (data) => wire.publish('comm_msg', { comm_id: commId, data }),
      close: (data = {}) => {
        if (!comms.delete(commId)) return;
        wire.publish('comm_close', { comm_id: commId, data });
      },
    };
    comms.set(commId, comm);
    return comm;
  }
}
