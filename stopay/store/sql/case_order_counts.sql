-- For each case in :cases (uuid[]): the freeze orders it has opened so far (level 1 included), for
-- the bound on orders per case (stopay.domain.trail.Limits.max_orders); and its review of large
-- freezes (stopay.domain.review): the review's state, and, while none was asked for, its reach: the
-- accounts it has asked to freeze at ([[bank_code, number], ...]) and the money it holds or has in
-- flight now. Read after the cases' chain heads are locked: every writer of a case's orders, trail
-- rows and review writes its events too, so all of it stands until commit.
SELECT c.case_id,
       (SELECT count(*) FROM freeze_orders o WHERE o.case_id = c.case_id AND o.kind = 'freeze')::int AS orders,
       v.state AS review_state,
       CASE WHEN v.state IS NULL THEN
           (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_array(o.bank_code, o.account_number)), '[]'::jsonb)
            FROM freeze_orders o
            WHERE o.case_id = c.case_id AND o.kind IN ('freeze', 'stop') AND o.freeze_minor > 0)
       END AS frozen_accounts,
       CASE WHEN v.state IS NULL THEN
           (SELECT coalesce(sum(t.held_minor + t.in_flight_minor), 0) FROM trail_accounts t
            WHERE t.case_id = c.case_id)
       END::bigint AS frozen_minor
FROM unnest(:cases::uuid[]) AS c(case_id)
LEFT JOIN case_reviews v ON v.case_id = c.case_id
