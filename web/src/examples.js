// The examples menu: the article's cases as Python files in web/examples/ (served from dist/ under a
// name of their content), fetched when chosen so the page bundle stays small and the files stay plain
// Python a person can read and run elsewhere.

import { ASSETS } from "./assets.js";

// The first is the default: the image task is the one that dies of fragmentation on real allocators
// (the article's swiss-cheese loop does not; its file says why).
export const EXAMPLES = [
  { id: "image-task", title: "512 MiB image task" },
  { id: "swiss-cheese", title: "Swiss cheese (produce_fragmentation)" },
  { id: "shoot-out", title: "Allocator shoot-out" },
  { id: "arena", title: "Arena vs global heap" },
  { id: "object-pool", title: "Object pool" },
  { id: "hot-cold", title: "Hot/cold split" },
  { id: "periodic-reset", title: "Periodic reset" },
  { id: "wee-leak", title: "wee_alloc's slow leak (real module)" },
];

export const DEFAULT_EXAMPLE = EXAMPLES[0].id;

export async function loadExample(id) {
  if (!EXAMPLES.some((e) => e.id === id)) {
    throw new Error(`unknown example ${JSON.stringify(id)}; known: ${EXAMPLES.map((e) => e.id).join(", ")}`);
  }
  const response = await fetch(`dist/${ASSETS.examples}/${id}.py`);
  if (!response.ok) throw new Error(`cannot load example ${id}: HTTP ${response.status}`);
  return response.text();
}
