// Bring your own: a .wasm module or a trace file, by file picker or drag and drop. Sorts a file into
// {kind:"module", bytes} or {kind:"trace", bytes}, or throws an Error whose message the page shows as is.

const MAX_BYTES = 64 << 20;   // a bigger trace would take longer to replay than anyone waits for here

export async function readUpload(file) {
  if (file.size === 0) throw new Error(`${file.name} is empty`);
  if (file.size > MAX_BYTES) throw new Error(`${file.name} is ${file.size} bytes; the limit is ${MAX_BYTES} bytes`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  const wasmMagic = bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
  if (wasmMagic) return { kind: "module", name: file.name, bytes };
  if (/\.wasm$/i.test(file.name)) {
    throw new Error(`${file.name} is not a WebAssembly module: it does not start with the bytes \\0asm`);
  }
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${file.name} is neither a WebAssembly module nor a text trace (it is not UTF-8 text)`);
  }
  return { kind: "trace", name: file.name, bytes };
}

// Calls onFile(file) for a file dropped anywhere on the page; `overlay` shows while dragging.
export function acceptDrops(target, overlay, onFile) {
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes("Files");
  target.addEventListener("dragenter", (e) => { if (hasFiles(e)) { depth++; overlay.hidden = false; } });
  target.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; overlay.hidden = true; } });
  target.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
  target.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    const file = e.dataTransfer?.files?.[0];
    if (file) onFile(file);
  });
}
