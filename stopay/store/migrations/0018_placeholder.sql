-- stopay schema, version 18: reserved for the stop-first orders of issue 12 (another branch). This
-- file only keeps the versions without a gap until that migration takes its place; it changes
-- nothing.
SELECT 1;
