// The article's utilization audit: its JS snippet, and the two things it runs against (a real
// instance's exports, and a facade of the simulated heap shaped like them). Runs inside real-worker.mjs
// so a snippet that never returns can be stopped by ending the worker, not by freezing the page.

export const ARTICLE_SNIPPET = `const wasmMemory = instance.exports.memory;
const liveData = instance.exports.get_live_data_size();
const totalHeap = wasmMemory.buffer.byteLength;

console.log(\`Utilization: \${(liveData / totalHeap * 100).toFixed(2)}%\`);
console.log(\`Wasted (Fragmented): \${totalHeap - liveData} bytes\`);
`;

// The simulated heap at one moment, shaped like `instance.exports` of a module built with the
// article's TrackingAllocator.
export function simExports(heapBytes, liveBytes) {
  const live = () => liveBytes;
  return { memory: { buffer: { byteLength: heapBytes } }, get_live_data_size: live, live_bytes: live };
}

// Real exports as the snippet expects them: C and Zig modules name their tracking counter
// `live_bytes`, the article's Rust one `get_live_data_size`; each gets the other name as an alias.
// A wasm32 usize reaches JavaScript as a signed i32, so past 2 GiB live the literal call reads
// negative: the count is read unsigned, as the module means it (and as `pyfrag real` reads it).
export function realExports(exports) {
  const count = exports.get_live_data_size ?? exports.live_bytes;
  const live = count && (() => count() >>> 0);
  return live ? { ...exports, get_live_data_size: live, live_bytes: live } : { ...exports };
}

const show = (v) => (typeof v === "string" ? v : v instanceof Error ? `${v.name}: ${v.message}` : String(v));

// Runs `code` with `instance` = {exports} and a console whose output is collected.
export function runSnippet(code, exports) {
  const lines = [];
  const log = (...args) => lines.push(args.map(show).join(" "));
  const console = { log, info: log, warn: log, error: log, debug: log };
  try {
    new Function("instance", "console", code)({ exports }, console);
    return { text: lines.join("\n"), error: null };
  } catch (e) {
    return { text: lines.join("\n"), error: show(e) };
  }
}
