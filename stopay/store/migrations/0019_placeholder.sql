-- stopay schema, version 19: reserved for another branch of issue 12 (a cheaper hash-chain
-- trigger). This file only keeps the versions without a gap until that migration takes its place;
-- it changes nothing.
SELECT 1;
