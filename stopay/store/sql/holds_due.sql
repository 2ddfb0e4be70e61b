-- What the sweeper has to do, by the hold lifecycle's clock (stopay_now()), up to $1 of each:
-- live holds past their expiry ('lapse'), live holds within their warning time not yet warned of
-- ('warn': $2 hours before an emergency stop ends, $3 days before a formal freeze ends), and
-- returns whose notice has ended ('pay'). Nothing is locked: each is done in its own transaction,
-- which checks again under its locks, so replicas may race for the same hold safely.
(SELECT 'lapse' AS action, case_id, bank_code, account_number FROM holds
 WHERE state IN ('stopped', 'frozen') AND expires_at <= stopay_now()
 ORDER BY expires_at LIMIT $1)
UNION ALL
(SELECT 'warn', case_id, bank_code, account_number FROM holds
 -- (the state named again here, so the planner sees the partial expiry index applies)
 WHERE state IN ('stopped', 'frozen') AND hold_warn_due(state, expires_at, warned_at, $2, $3)
 ORDER BY expires_at LIMIT $1)
UNION ALL
(SELECT 'pay', case_id, bank_code, account_number FROM holds
 WHERE state = 'returning' AND return_paid_at IS NULL AND return_due_at <= stopay_now()
 ORDER BY return_due_at LIMIT $1)
