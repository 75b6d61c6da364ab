// Unit tests for web/src/share.js: code survives the trip through a URL fragment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeCode, encodeCode, readFragment, shareUrl } from "../../web/src/share.js";

test("code round-trips through the fragment, unicode and all", async () => {
  const code = "from pyfrag import scenarios\nshow(scenarios.swiss_cheese())  # ünïcödé ✓\n".repeat(50);
  const token = await encodeCode(code);
  assert.match(token, /^[A-Za-z0-9_-]+$/, "base64url, no padding");
  assert.ok(token.length < code.length / 4, "compressed");
  assert.equal(await decodeCode(token), code);
  assert.deepEqual(await readFragment(`#code=${token}`), { code });
});

test("fragments name an example, or nothing, or carry damaged code", async () => {
  assert.deepEqual(await readFragment("#example=image-task"), { example: "image-task" });
  assert.deepEqual(await readFragment(""), {});
  assert.match((await readFragment("#code=AAAA")).error, /damaged/);
});

test("a link carries the real module and the view shown beside the code", async () => {
  const url = await shareUrl("show(1)\n", "http://127.0.0.1:8000/index.html", { module: "as-tlsf", view: 1 });
  const fragment = await readFragment(new URL(url).hash);
  assert.deepEqual(fragment, { code: "show(1)\n", module: "as-tlsf", view: 1 });
  const plain = await readFragment(new URL(await shareUrl("x", "http://127.0.0.1:8000/")).hash);
  assert.deepEqual(plain, { code: "x" });
});
