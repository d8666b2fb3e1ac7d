// What the CPU offers, which kernel path runs, and how many threads the kernels use.
import { native } from './native';

export type Isa = 'scalar' | 'avx2' | 'avx512' | 'neon';

export interface Capabilities {
  /** The path kernels run on now. */
  isa: Isa;
  /** The widest path this CPU and binary support (the default unless EMBEDKIT_ISA is set). */
  best: Isa;
  /** Every path that can run here. */
  available: Isa[];
  /** CPU feature flags as read from cpuid and XCR0 (x86-64), or the architecture (arm64). */
  features: Record<string, boolean>;
  /** Threads a kernel may use, the caller included. */
  threads: number;
  /** Kernel calls made on each path since load: shows which path really ran. */
  kernelCalls: Record<Isa, number>;
}

export function capabilities(): Capabilities {
  return native().capabilities() as Capabilities;
}

/**
 * Forces a kernel path for the whole process (for tests and benchmarks that compare paths;
 * the environment variable EMBEDKIT_ISA does the same at load). A path the CPU cannot run is
 * a RangeError. Returns the path now in use.
 */
export function setIsa(isa: Isa): Isa {
  return native().setIsa(isa) as Isa;
}

/**
 * Sets how many threads kernels may use (1 to 1024), the calling thread included. Defaults
 * to EMBEDKIT_THREADS or the CPUs this process may run on. Results do not depend on it.
 */
export function setThreads(threads: number): number {
  return native().setThreads(threads);
}

export function getThreads(): number {
  return native().getThreads();
}
