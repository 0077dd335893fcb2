// CPU time used by the benchmark's own process tree: this process, every descendant still running (the API
// server, etcd, kube-controller-manager, kwok, kustomize-controller) and every child already reaped (the bot's
// process with its kustomize children, kubectl). Other load on the machine is not counted, so a scenario's
// CPU-seconds say how much work it cost whatever else runs; divided by the cores, they are the shortest wall
// time any overlap of that work could reach. Linux only (/proc); elsewhere it reports undefined.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { childrenOf } from "../../src/util/child-process.js";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux architecture we run on). */
const TICKS_PER_SECOND = 100;

/** utime + stime (+ cutime + cstime: children it waited for) of one process, in ticks. */
function processTicks(pid: number | "self"): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "pid (comm) ": state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
  } catch {
    return 0; // exited in between: its time is in its parent's cutime once reaped
  }
}

/** CPU-seconds the benchmark's process tree has used so far, or undefined without /proc. */
export function treeCpuSeconds(): number | undefined {
  try {
    readFileSync("/proc/self/stat");
  } catch {
    return undefined;
  }
  let ticks = processTicks("self");
  const queue = childrenOf(process.pid);
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += processTicks(pid);
    queue.push(...childrenOf(pid));
  }
  return ticks / TICKS_PER_SECOND;
}

export interface CpuMeasured<T> {
  value: T;
  /** CPU-seconds of the process tree while `work` ran. */
  cpuSeconds?: number;
}

/** Runs `work` and says how many CPU-seconds the benchmark's process tree spent meanwhile. */
export async function withTreeCpu<T>(work: () => Promise<T>): Promise<CpuMeasured<T>> {
  const before = treeCpuSeconds();
  const value = await work();
  const after = treeCpuSeconds();
  return before === undefined || after === undefined ? { value } : { value, cpuSeconds: after - before };
}

export const cores = availableParallelism();

export interface CpuSample {
  /** performance.now() of the sample. */
  t: number;
  /** treeCpuSeconds() then. */
  cpu: number;
}

/** Samples treeCpuSeconds every `intervalMs` until `stop` (which returns the samples, the last one taken then). */
export function sampleTreeCpu(intervalMs = 100): { stop(): CpuSample[] } {
  const samples: CpuSample[] = [];
  const take = () => {
    const cpu = treeCpuSeconds();
    if (cpu !== undefined) samples.push({ t: performance.now(), cpu });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** Share of all cores the process tree kept busy between two performance.now() times (from the samples). */
export function busyShare(samples: CpuSample[], from: number, to: number): number | undefined {
  const at = (t: number): number | undefined => {
    const after = samples.findIndex((s) => s.t >= t);
    if (after <= 0) return after === 0 ? samples[0]?.cpu : undefined;
    const a = samples[after - 1] as CpuSample;
    const b = samples[after] as CpuSample;
    return a.cpu + ((b.cpu - a.cpu) * (t - a.t)) / Math.max(1e-9, b.t - a.t);
  };
  const start = at(from);
  const end = at(to);
  if (start === undefined || end === undefined || to <= from) return undefined;
  return (end - start) / (((to - from) / 1000) * cores);
}
