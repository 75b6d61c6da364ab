// Unit tests for web/src/format.js compact(): it writes what Intl's compact notation writes, which the page
// no longer builds (a formatter costs each page 15-30 ms).
import { test } from "node:test";
import assert from "node:assert/strict";
import { compact } from "../../web/src/format.js";

test("compact() writes axis ticks as Intl's compact notation does", () => {
  const intl = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
  const values = [0, 1, 9, 10, 99.5, 500, 999, 999.4, 999.96, 1000, 1049, 1050, 1234, 1500, 9999, 12345, 99_949,
    99_950, 200_000, 999_949, 999_950, 1_000_000, 2_500_000, 123_456_789, 4_294_967_296, 1.5e12, -1500, -999_999];
  for (let i = 0; i < 2000; i++) values.push(Math.round(10 ** (Math.random() * 13)));
  for (const v of values) assert.equal(compact(v), intl.format(v), `compact(${v})`);
  assert.equal(compact(null), "–");
});
