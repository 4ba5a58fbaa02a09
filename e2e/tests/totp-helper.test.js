// The test helper that computes TOTP codes must itself be right, or the 2FA flow test proves
// nothing: check it against RFC 6238 appendix B (SHA-1) and RFC 4648 base32.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base32Decode, totp, totpStep } from '../lib/app.js';

// "12345678901234567890" in base32, as an authenticator app would show it, in groups.
const RFC_SECRET = 'GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ';

test('base32 decodes the RFC 6238 seed, with spaces and in lower case', () => {
  assert.equal(base32Decode(RFC_SECRET).toString('ascii'), '12345678901234567890');
  assert.equal(base32Decode(RFC_SECRET.toLowerCase()).toString('ascii'), '12345678901234567890');
  assert.throws(() => base32Decode('ABC1'), /not base32/);
});

test('codes match RFC 6238 appendix B (last 6 digits of the 8-digit values)', () => {
  const vectors = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];
  for (const [seconds, eight] of vectors) {
    assert.equal(totp(RFC_SECRET, totpStep(seconds * 1000)), eight.slice(2), `T=${seconds}`);
  }
});
