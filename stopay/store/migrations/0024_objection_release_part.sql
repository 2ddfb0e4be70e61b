-- stopay schema, version 24: an objection partly upheld (docs/holds.md, Objections; docs/rules.md,
-- Objections).
--
-- An officer or supervisor may decide an objection 'release_part': the hold gives back the amount the
-- decision names (its release order goes to the bank for that amount, in the same transaction) and
-- keeps the rest. The objection records what its decision gave back (released_minor: the whole hold
-- for 'release', the part for 'release_part', none for 'keep').
--
-- What a partial release left held is the most the case may hold on the account from then on
-- (holds.limit_minor): a later statement of the account or a top-up never freezes the part given back
-- again. It only ever goes down; null: no such limit.
ALTER TABLE objections DROP CONSTRAINT objections_decision_check;
ALTER TABLE objections ADD CONSTRAINT objections_decision_check
    CHECK (decision IN ('release', 'release_part', 'keep'));
ALTER TABLE objections ADD COLUMN released_minor bigint CHECK (released_minor >= 0);
ALTER TABLE objections ADD CONSTRAINT objections_released_when_decided
    CHECK (state = 'decided' OR released_minor IS NULL);
ALTER TABLE objections ADD CONSTRAINT objections_release_part_amount
    CHECK (decision IS DISTINCT FROM 'release_part' OR released_minor > 0);

ALTER TABLE holds ADD COLUMN limit_minor bigint CHECK (limit_minor > 0);
