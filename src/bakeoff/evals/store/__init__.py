"""The store: the records (pure data), the lean rows the graders read, and the SQLite file that keeps them."""
