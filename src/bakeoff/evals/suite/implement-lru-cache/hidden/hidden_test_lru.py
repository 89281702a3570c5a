import pytest
from lru import LRUCache


def test_get_and_put():
    cache = LRUCache(2)
    cache.put("a", 1)
    assert cache.get("a") == 1
    assert cache.get("missing") is None
    assert cache.get("missing", 42) == 42


@pytest.mark.parametrize("capacity", [0, -3])
def test_capacity_must_be_positive(capacity):
    with pytest.raises(ValueError):
        LRUCache(capacity)


def test_evicts_least_recently_used():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert "b" not in cache
    assert cache.get("a") == 1
    assert cache.get("c") == 3
    assert len(cache) == 2


def test_put_existing_key_replaces_and_refreshes():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 10)
    cache.put("c", 3)
    assert cache.keys() == ["a", "c"]
    assert cache.get("a") == 10
    assert len(cache) == 2


def test_keys_order_least_to_most_recent():
    cache = LRUCache(3)
    for key in "abc":
        cache.put(key, key.upper())
    cache.get("a")
    assert cache.keys() == ["b", "c", "a"]


def test_contains_does_not_refresh():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert "a" in cache
    cache.put("c", 3)
    assert "a" not in cache
    assert cache.keys() == ["b", "c"]


def test_missing_get_does_not_change_order():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("zzz")
    assert cache.keys() == ["a", "b"]


def test_on_evict_called_with_evicted_entries():
    evicted = []
    cache = LRUCache(1, on_evict=lambda key, value: evicted.append((key, value)))
    cache.put("a", 1)
    cache.put("a", 2)
    cache.put("b", 3)
    cache.put("c", 4)
    assert evicted == [("a", 2), ("b", 3)]
    assert cache.keys() == ["c"]


def test_falsy_values_are_stored():
    cache = LRUCache(3)
    cache.put("zero", 0)
    cache.put("none", None)
    assert cache.get("zero", "default") == 0
    assert cache.get("none", "default") is None
    assert len(cache) == 2


def test_many_operations_stay_bounded():
    cache = LRUCache(100)
    for i in range(10_000):
        cache.put(i, i * i)
    assert len(cache) == 100
    assert cache.keys() == list(range(9_900, 10_000))
    assert cache.get(9_999) == 9_999 * 9_999
