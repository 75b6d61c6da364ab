// Record an Emscripten app with web/recorder.js through Emscripten's own loader, the way
// a page does: Module.instantiateWasm hands the recorder's imports to the instrumented
// module. Usage: node emscripten_record.mjs GLUE.js APP.recording.wasm OUT.trace ARGS...
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Recorder } from "../../web/recorder.js";

const [glue, wasm, out, ...args] = process.argv.slice(2);
const createApp = createRequire(import.meta.url)(glue);
const rec = new Recorder({ name: "lists-em" });
const app = await createApp({
  instantiateWasm(imports, done) {
    WebAssembly.instantiate(readFileSync(wasm), rec.imports(imports))
      .then(({ instance, module }) => { rec.attach(module); done(instance, module); });
    return {};
  },
});
app.callMain(args);
writeFileSync(out, rec.text());
