"""A least-recently-used cache."""


class LRUCache:
    """Holds at most `capacity` entries, evicting the least recently used one to make room."""

    def __init__(self, capacity, on_evict=None):
        raise NotImplementedError

    def get(self, key, default=None):
        raise NotImplementedError

    def put(self, key, value):
        raise NotImplementedError

    def keys(self):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    def __contains__(self, key):
        raise NotImplementedError
