/**
 * Earliest Deadline First scheduler, after Envoy's `source/common/upstream/edf_scheduler.h`.
 *
 * Each entry is scheduled at `now + 1/weight`; `pick()` removes and returns the
 * entry with the earliest deadline (ties broken by insertion order) and moves
 * `now` to that deadline. A caller re-adds the picked entry (possibly with a
 * new weight) to keep it in rotation. Over time an entry of weight w is picked
 * in proportion w / sum(weights), smoothly interleaved (no bursts).
 */
interface Entry<T> {
  deadline: number;
  order: number;
  item: T;
}

export class EdfScheduler<T> {
  private readonly heap: Entry<T>[] = [];
  private now = 0;
  private order = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `item` with `weight` (> 0; non-positive weights are treated as a tiny positive weight). */
  add(weight: number, item: T): void {
    const w = weight > 0 ? weight : 1e-9;
    this.push({ deadline: this.now + 1 / w, order: this.order++, item });
  }

  /** Removes and returns the earliest-deadline item, or undefined when empty. */
  pick(): T | undefined {
    const top = this.pop();
    if (top === undefined) return undefined;
    this.now = top.deadline;
    return top.item;
  }

  /** The item `pick()` would return, without removing it. */
  peek(): T | undefined {
    return this.heap[0]?.item;
  }

  private less(a: Entry<T>, b: Entry<T>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  private push(e: Entry<T>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Entry<T> | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop() as Entry<T>;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
