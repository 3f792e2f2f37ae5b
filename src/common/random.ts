/** Random numbers for load balancing, jitter and sampling (Envoy's Random::RandomGenerator). */

/** A source of uniformly distributed unsigned 32-bit integers. */
export interface RandomGenerator {
  random(): number;
}

export const defaultRandom: RandomGenerator = {
  random: () => Math.floor(Math.random() * 0x100000000),
};
