"""A least-recently-used cache."""

from collections import OrderedDict


class LRUCache:
    """Holds at most `capacity` entries, evicting the least recently used one to make room."""

    def __init__(self, capacity, on_evict=None):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.on_evict = on_evict
        self._entries = OrderedDict()

    def get(self, key, default=None):
        if key not in self._entries:
            return default
        self._entries.move_to_end(key)
        return self._entries[key]

    def put(self, key, value):
        if key in self._entries:
            self._entries.move_to_end(key)
        elif len(self._entries) >= self.capacity:
            old_key, old_value = self._entries.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(old_key, old_value)
        self._entries[key] = value

    def keys(self):
        return list(self._entries)

    def __len__(self):
        return len(self._entries)

    def __contains__(self, key):
        return key in self._entries
