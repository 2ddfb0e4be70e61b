-- Cases whose number of orders is not the $1 their network gives each (a freeze order and its stop
-- per account of the victim's tree), and orders by kind.
SELECT (SELECT count(*) FROM (
            SELECT c.case_id FROM cases c LEFT JOIN freeze_orders o USING (case_id)
            GROUP BY c.case_id HAVING count(o.order_id) <> $1
        ) off) AS off_shape,
       (SELECT coalesce(jsonb_object_agg(kind, n), '{}'::jsonb)::text FROM (
            SELECT kind, count(*) AS n FROM freeze_orders GROUP BY kind
        ) k) AS by_kind
