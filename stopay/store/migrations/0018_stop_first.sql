-- stopay schema, version 18: stop first, inquire after (docs/tracing.md, "Stop first").
--
-- A freeze order asks for its account's statement, then freezes what the statement shows of the
-- victim's money. Beside it now goes a stop order (kind 'stop'): it asks the bank at once to
-- freeze the money the order follows in (the reported amount at level 1, what the followed
-- transfer carried deeper), and what turns out not to be the victim's is released afterwards. A
-- stop is sized when it is made: its freeze_minor is its requested_minor from the start, and it
-- never asks for a statement, so it never passes through 'freezing'.
ALTER TABLE freeze_orders
    DROP CONSTRAINT freeze_orders_kind_check,
    ADD CONSTRAINT freeze_orders_kind_check CHECK (kind IN ('freeze', 'stop', 'release', 'extend', 'return')),
    ADD CONSTRAINT freeze_orders_stop_sized CHECK (kind <> 'stop' OR freeze_minor = requested_minor),
    DROP CONSTRAINT freeze_orders_kind_status_check,
    ADD CONSTRAINT freeze_orders_kind_status_check CHECK (CASE kind
        WHEN 'release' THEN status IN ('queued', 'released', 'rejected', 'undeliverable')
        WHEN 'extend' THEN status IN ('queued', 'extended', 'rejected', 'undeliverable')
        WHEN 'return' THEN status IN ('queued', 'returned', 'rejected', 'undeliverable')
        WHEN 'stop' THEN status NOT IN ('freezing', 'released', 'extended', 'returned')
        ELSE status NOT IN ('released', 'extended', 'returned') END);

-- A stop holds before the statement is in; so no excess is given back while a statement of the
-- account is due (a freeze order of the case there still queued). The answers' lock reads that
-- count through this index, which holds only open orders.
CREATE INDEX freeze_orders_open_at_account ON freeze_orders (case_id, bank_code, account_number)
    WHERE freeze_order_open(status);

-- A stop of one case may hold another victim's money (or the holder's) until its statement shows
-- it is not this case's; the release that gives it back sets it free, and every case short of its
-- victim's money on that account asks again, once per release: the answers count the answered
-- releases on the account through this index, and trail_accounts.asked_releases keeps that count
-- as it was when the case last asked there.
CREATE INDEX freeze_orders_releases_at_account ON freeze_orders (bank_code, account_number)
    WHERE kind = 'release' AND status = 'released' AND released_minor > 0;

ALTER TABLE trail_accounts ADD COLUMN asked_releases integer NOT NULL DEFAULT 0
    CHECK (asked_releases >= 0);
