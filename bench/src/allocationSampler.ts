import { Session } from 'node:inspector/promises';

/** Bytes allocated while the sampler ran, per function that allocated them (its own allocations only). */
export interface AllocationSample {
  totalBytes: number;
  byFrame: Array<{ functionName: string; url: string; bytes: number }>;
}

interface SamplingNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: SamplingNode[];
}

/**
 * V8's sampling heap profiler, in this process, keeping the samples of objects that the garbage collector
 * has already freed too: what a request allocates, not what it keeps, since allocation is what feeds the
 * collector. One sample per `intervalBytes` on average, each weighted by that interval.
 */
export class AllocationSampler {
  #session: Session | undefined;

  async start(intervalBytes = 1024): Promise<void> {
    const session = new Session();
    session.connect();
    await session.post('HeapProfiler.enable');
    // The two include flags keep freed objects (Chrome DevTools Protocol; V8 11 and later).
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    } as { samplingInterval: number });
    this.#session = session;
  }

  async stop(): Promise<AllocationSample> {
    const session = this.#session;
    if (!session) throw new Error('the allocation sampler is not running');
    this.#session = undefined;
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: SamplingNode } };
    session.disconnect();
    const bytes = new Map<string, { functionName: string; url: string; bytes: number }>();
    let totalBytes = 0;
    const visit = (node: SamplingNode) => {
      if (node.selfSize > 0) {
        const { functionName, url } = node.callFrame;
        const key = `${functionName}\n${url}`;
        const entry = bytes.get(key) ?? { functionName, url, bytes: 0 };
        entry.bytes += node.selfSize;
        bytes.set(key, entry);
        totalBytes += node.selfSize;
      }
      for (const child of node.children) visit(child);
    };
    visit(profile.head);
    return { totalBytes, byFrame: [...bytes.values()] };
  }
}
