/**
 * Philox-4x32-10 (Salmon, Moraes, Dror & Shaw 2011, "Parallel random numbers: as easy as 1, 2, 3"): a
 * counter-based generator, out = bijection_key(counter), so a random word is a pure function of (key, counter) with
 * no state. Constants and round structure as in Random123's philox.h: multipliers 0xD2511F53 / 0xCD9E8D57, Weyl key
 * increments 0x9E3779B9 / 0xBB67AE85, the key bumped between rounds. Checked against Random123's kat_vectors.
 *
 * This file holds the WGSL (WGSL has no 64-bit integers, so mulhi is done in 16-bit halves) and the CPU twin that
 * the tests compare bit for bit.
 */

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;

export const philoxWgsl = /* wgsl */ `
// High 32 bits of the 64-bit product a*b, from 16-bit halves (every partial sum fits in u32).
fn mulhi32(a: u32, b: u32) -> u32 {
  let aLo = a & 0xffffu; let aHi = a >> 16u;
  let bLo = b & 0xffffu; let bHi = b >> 16u;
  let lh = aLo * bHi;
  let hl = aHi * bLo;
  let middle = ((aLo * bLo) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return aHi * bHi + (lh >> 16u) + (hl >> 16u) + (middle >> 16u);
}

fn philox4x32_10(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    if (round > 0u) { k = k + vec2u(${PHILOX_W0}u, ${PHILOX_W1}u); }
    let hi0 = mulhi32(${PHILOX_M0}u, c.x);
    let lo0 = ${PHILOX_M0}u * c.x;
    let hi1 = mulhi32(${PHILOX_M1}u, c.z);
    let lo1 = ${PHILOX_M1}u * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}`;

function mulhilo(a: number, b: number): [number, number] {
  const product = BigInt(a) * BigInt(b);
  return [Number(product >> 32n), Number(product & 0xffffffffn)];
}

/** CPU Philox-4x32-10: four u32 words from a 4-word counter and a 2-word key (written from the paper, with BigInt). */
export function philox4x32(counter: readonly number[], key: readonly number[]): Uint32Array {
  let [c0, c1, c2, c3] = counter.map((x) => x >>> 0);
  let [k0, k1] = key.map((x) => x >>> 0);
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const [hi0, lo0] = mulhilo(PHILOX_M0, c0);
    const [hi1, lo1] = mulhilo(PHILOX_M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return Uint32Array.of(c0, c1, c2, c3);
}
