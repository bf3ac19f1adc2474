package flags

import (
	"math/rand/v2"

	"github.com/twmb/murmur3"
)

// variantSeed is the murmur3 seed Unleash uses to pick variants
// (VARIANT_NORMALIZATION_SEED).
const variantSeed = 86028157

// normalizedHash returns murmur3_32("<groupId>:<value>", seed) % modulus + 1,
// with prefix = "<groupId>:". The key is built on the stack unless it is
// longer than the buffer. modulus must be > 0.
func normalizedHash(prefix, value string, modulus, seed uint32) uint32 {
	var buf [256]byte
	b := append(append(buf[:0], prefix...), value...)
	return murmur3.SeedSum32(seed, b)%modulus + 1
}

// randomPercent returns a random number in [1, 100], the rollout hash of a
// context without a stickiness value.
func randomPercent() uint32 { return uint32(rand.IntN(100)) + 1 }
