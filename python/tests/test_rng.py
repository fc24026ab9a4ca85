from pipe_torch.rng import SeededRandom, spread


def test_splitmix64_reference_values():
    random = SeededRandom(0)
    assert [random.next() for _ in range(3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_next_below_stays_in_range_and_shuffle_permutes():
    random = SeededRandom(7)
    assert all(0 <= random.next_below(n) < n for n in range(1, 200))
    items = list(range(50))
    random.shuffle(items)
    assert sorted(items) == list(range(50)) and items != list(range(50))


def test_spread_draws_a_fixed_sorted_subset():
    items = list(range(100, 140))
    chosen = spread(items, 10)
    assert len(chosen) == 10 and chosen == sorted(chosen) and set(chosen) <= set(items)
    assert spread(items, 10) == chosen
    assert spread(items, 0) == items and spread(items, 40) == items
