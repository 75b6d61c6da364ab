// Unit tests for web/src/share.js: code survives the trip through a URL fragment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeCode, encodeCode, readFragment } from "../../web/src/share.js";

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
