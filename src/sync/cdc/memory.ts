import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * A drained batch (up to CDC_BATCH_ROWS collapsed rows) lives long enough to reach V8's old
 * generation; once it is applied it is garbage, but V8 lets the old generation grow well
 * past it before collecting, so a backlog of many batches would raise the peak RSS batch
 * after batch. A full collection after each applied batch keeps the process at about one
 * batch's worth (BENCHMARKS.md, section 5). Costs tens of milliseconds per batch.
 */
let gc: (() => void) | null | undefined;

export function releaseBatchMemory(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}
