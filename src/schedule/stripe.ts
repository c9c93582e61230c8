/**
 * Striping: attempt i goes to stripe i mod N. Workers use it to share one process's schedule,
 * and shards use the same rule to share one global schedule, so N stripes always add up to
 * exactly the attempts of the whole schedule.
 */
export interface Stripe {
  index: number;
  count: number;
}

/** Global attempt indices owned by a stripe, in schedule order. */
export function stripeIndices(total: number, stripe: Stripe): Uint32Array {
  const { index, count } = stripe;
  if (!Number.isInteger(count) || count < 1) throw new Error(`stripe count must be a positive integer, got ${count}`);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new Error(`stripe index must be in 0..${count - 1}, got ${index}`);
  const n = total > index ? Math.ceil((total - index) / count) : 0;
  const out = new Uint32Array(n);
  for (let j = 0; j < n; j++) out[j] = index + j * count;
  return out;
}

/** How many of `total` things stripe `index` of `count` gets (used to split caps fairly). */
export function stripeShare(total: number, stripe: Stripe): number {
  return Math.floor(total / stripe.count) + (stripe.index < total % stripe.count ? 1 : 0);
}
