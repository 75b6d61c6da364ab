// Where the files the pages load live in dist/: each is named by its content (see web/build/prepare.py),
// so the names are compiled into the bundle (esbuild's define of PYFRAG_ASSETS) rather than fetched.
// Outside a bundle (the Node tests) there are no such files, and these are plain names.

export const ASSETS = typeof PYFRAG_ASSETS === "undefined"
  ? { workers: {}, modules: "modules", examples: "examples", views: null, stored: {} }
  : JSON.parse(PYFRAG_ASSETS);

// The URL of worker `name` (py-worker, real-worker), relative to the page.
export const workerUrl = (name) => new URL(`dist/${ASSETS.workers[`${name}.mjs`] ?? `${name}.mjs`}`, document.baseURI);
