/**
 * The access-log flush thread (Envoy's AccessLogFileImpl flush thread). It
 * owns no state but the shared counters: the main thread opens the files,
 * buffers lines and posts batches here; this thread appends each batch with
 * blocking writes, in order, so the event loop never waits on the disk.
 * After each message it publishes the message's sequence number, so the main
 * thread can wait for "everything written" with Atomics.wait at shutdown.
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import {
  CTRL_COMPLETED,
  CTRL_DONE,
  CTRL_FAILED,
  CTRL_READY,
  type FlushMessage,
  type FlushWorkerData,
} from './access_log_flush_protocol.js';

function writeAll(fd: number, data: string): void {
  const buf = Buffer.from(data, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

if (parentPort !== null) {
  const ctrl = new Int32Array((workerData as FlushWorkerData).ctrl);
  parentPort.on('message', (m: FlushMessage) => {
    try {
      writeAll(m.fd, m.data);
      Atomics.add(ctrl, CTRL_COMPLETED, 1);
    } catch {
      Atomics.add(ctrl, CTRL_FAILED, 1);
    }
    Atomics.store(ctrl, CTRL_DONE, m.seq);
    Atomics.notify(ctrl, CTRL_DONE);
  });
  Atomics.store(ctrl, CTRL_READY, 1);
  Atomics.notify(ctrl, CTRL_READY);
}
