-- stopay schema, version 20: what a case knows of an account is found by its whole key, whichever
-- index the planner takes.
--
-- trail_accounts_by_account (migration 0007) indexed (bank_code, account_number) only, for the
-- look-ups of one account across cases. The claim, the rows a batch of answers locks and the rows
-- it writes all join trail_accounts on (case_id, bank_code, account_number). When the planner took
-- this index for such a join, as it does on young tables whose statistics make the two indexes look
-- alike, every row of that account in every other case was read and thrown away: for a hub account
-- that many cases reach, hundreds of rows per order (a drain of 1,000 cases through one seed
-- network's accounts spent two thirds of each claim there). With case_id last, the index answers
-- the whole key too, and still the look-ups of one account across cases.
DROP INDEX trail_accounts_by_account;
CREATE INDEX trail_accounts_by_account ON trail_accounts (bank_code, account_number, case_id);
