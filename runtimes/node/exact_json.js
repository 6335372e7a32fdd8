'use strict';
// JSON with each BigInt as the exact integer it is (JSON.stringify refuses BigInt, and a
// Number would round it): BigInts go out as marked strings, whose quotes are then dropped.
// Shared by the one-shot driver and the session interpreter.

function toJson(value) {
  const mark = `bigint-${Math.random().toString(36).slice(2)}-${Date.now()}:`;
  let found = false;
  const json = JSON.stringify(value, (_key, v) => {
    if (typeof v !== 'bigint') return v;
    found = true;
    return mark + v.toString();
  });
  if (!found || json === undefined) return json;
  return json.replace(new RegExp(`"${mark}(-?[0-9]+)"`, 'g'), '$1');
}

module.exports = { toJson };
