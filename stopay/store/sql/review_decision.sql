-- What the decision on case :case_id's review did, as its event in the case's chain records it: the
-- freezes it sent or declined, and their money. No row: the review is not decided.
SELECT (e.detail ->> 'orders')::int AS orders, (e.detail ->> 'amount_minor')::bigint AS amount_minor
FROM case_events e
WHERE e.case_id = :case_id::uuid AND e.kind IN ('review.approved', 'review.declined')
ORDER BY e.seq DESC
LIMIT 1
