"""SplitMix64 and Swift's shuffle, bit for bit as pipe's Swift side draws them (PipeRandom).

Record selection (`limit`), misleading hints and shuffled options use these, so a `limit` picks the
same records and a probe the same wrong option on either backend.
"""

MASK = (1 << 64) - 1


class SeededRandom:
    """SplitMix64, the generator of `Sources/PipeRandom/SeededRandom.swift`."""

    def __init__(self, seed: int):
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next_below(self, bound: int) -> int:
        """Swift's `next(upperBound:)`: Lemire's multiply-shift with rejection."""
        random = self.next()
        product = random * bound
        if product & MASK < bound:
            threshold = ((1 << 64) - bound) % bound
            while product & MASK < threshold:
                random = self.next()
                product = random * bound
        return product >> 64

    def shuffle(self, items: list) -> None:
        """Swift's `MutableCollection.shuffle(using:)`, in place."""
        amount, current = len(items), 0
        while amount > 1:
            j = current + self.next_below(amount)
            amount -= 1
            items[current], items[j] = items[j], items[current]
            current += 1


def spread(items: list, limit: int) -> list:
    """`limit` items drawn with a fixed seed, kept in their order (`SFTTrainer.spread`); all when
    `limit` is 0 or not below the count."""
    if limit <= 0 or len(items) <= limit:
        return list(items)
    random = SeededRandom(0x5E1EC7 ^ len(items))
    indices = list(range(len(items)))
    for i in range(limit):
        j = i + random.next() % (len(items) - i)
        indices[i], indices[j] = indices[j], indices[i]
    return [items[k] for k in sorted(indices[:limit])]
