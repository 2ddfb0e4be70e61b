-- The state machines as the database keeps them: every row of the transitions tables that the guard
-- triggers read (freeze_orders_guard, holds_guard), each table with its two column names, the moves
-- sorted bytewise. No parameters. A migration that adds a transitions table adds it here
-- (tests/integration/test_schema.py checks that none is left out).
SELECT machine, columns, from_state, to_state
FROM (
    SELECT 'freeze_order_transitions' AS machine, 'from_status, to_status' AS columns,
           from_status AS from_state, to_status AS to_state
    FROM freeze_order_transitions
    UNION ALL
    SELECT 'hold_transitions', 'from_state, to_state', from_state, to_state
    FROM hold_transitions
) AS moves
ORDER BY machine COLLATE "C", from_state COLLATE "C", to_state COLLATE "C"
