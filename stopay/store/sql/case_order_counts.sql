-- The freeze orders each case in :cases (uuid[]) has opened so far (level 1 included), for the bound on
-- orders per case (stopay.domain.trail.Limits.max_orders). Read after the cases' chain heads are
-- locked: every writer of a case's orders writes its events too, so the count stands until commit.
SELECT o.case_id, count(*)::int AS orders
FROM freeze_orders o
WHERE o.case_id = ANY(:cases::uuid[]) AND o.kind = 'freeze'
GROUP BY o.case_id
