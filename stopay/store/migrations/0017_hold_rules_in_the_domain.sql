-- The expiry-warning window is decided in the domain now (stopay/domain/holds.py warn_due and
-- HoldPolicy.warning); holds_due.sql takes the windows as parameters. Nothing calls the old
-- database copy of the rule.
DROP FUNCTION IF EXISTS hold_warn_due(text, timestamptz, timestamptz, int, int);
