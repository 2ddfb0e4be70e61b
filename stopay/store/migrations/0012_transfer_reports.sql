-- stopay schema, version 12: what the first report said of a transfer.
-- A later report of the same transfer (same payer, payee and txn_id) is linked to the first case
-- only when it agrees with it on what the bank checks before holding: the amount, the payee's
-- name and the time (within the window `serve --same-transfer-window` sets). When they differ, one of the two reports is wrong; if it is the first, the bank refuses
-- the first case's freeze, so the later case traces the transfer as well (docs/tracing.md). The
-- first report's figures are kept with the owner, so a report racing it is compared too.
ALTER TABLE transfer_owners ADD COLUMN amount_minor bigint, ADD COLUMN payee_holder text,
    ADD COLUMN transferred_at timestamptz;

ALTER TABLE transfer_owners DISABLE TRIGGER transfer_owners_guard;
UPDATE transfer_owners w
SET amount_minor = t.amount_minor, payee_holder = t.payee_holder, transferred_at = t.transferred_at
FROM entry_transfers t
WHERE t.case_id = w.case_id AND t.txn_id = w.txn_id AND t.payer_bank = w.payer_bank
  AND t.payer_number = w.payer_number AND t.payee_bank = w.payee_bank AND t.payee_number = w.payee_number;
ALTER TABLE transfer_owners ENABLE TRIGGER transfer_owners_guard;
