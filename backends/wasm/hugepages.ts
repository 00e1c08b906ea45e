// Transparent huge pages for the linear memory, where the OS offers them (Linux with THP in
// `madvise` mode, as on this machine): the advice the native backend gives its own regions.
// Decode streams every weight from DRAM once per token, and with 4 KiB pages TLB misses eat
// into the bandwidth (measured on SmolLM-135M: docs/wasm.md). JavaScript cannot call
// madvise, so this goes through koffi to libc, loaded on demand: on another OS, or in a
// runtime without koffi, it does nothing. It must run before the memory is first touched.

type Madvise = (addr: bigint, len: bigint, advice: number) => number;

const MADV_HUGEPAGE = 14;
const HUGE = 2n << 20n;

let loaded: Promise<{ madvise: Madvise; address: (view: Uint8Array) => bigint } | null>;

async function libc() {
  if (process.platform !== 'linux') return null;
  try {
    const koffi = (await import('koffi')).default;
    const madvise = koffi.load('libc.so.6')
      .func('int madvise(uintptr_t addr, size_t len, int advice)') as Madvise;
    return { madvise, address: (view: Uint8Array) => koffi.address(view) };
  } catch {
    return null;
  }
}

/** Advises huge pages for the 2 MiB-aligned interior of `memory`. Best effort. */
export async function adviseHugePages(memory: WebAssembly.Memory): Promise<void> {
  const c = await (loaded ??= libc());
  if (!c) return;
  try {
    const start = c.address(new Uint8Array(memory.buffer, 0, 1));
    const end = start + BigInt(memory.buffer.byteLength);
    const from = (start + HUGE - 1n) / HUGE * HUGE;
    if (end - from >= HUGE) c.madvise(from, (end - from) / HUGE * HUGE, MADV_HUGEPAGE);
  } catch {
    // advice only: the memory works the same without it
  }
}
