"""The store: the records (pure data), the lean rows the graders read, the SQLite file that
keeps them with its numbered migrations, the files a trial changed (for `bakeoff apply`) and
the log of single agent runs (`bakeoff logs`)."""
