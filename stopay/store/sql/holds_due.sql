-- What the sweeper has to do, by the hold lifecycle's clock (stopay_now()), up to :batch of each:
-- live holds past their expiry ('lapse'); live holds within their warning time not yet warned of
-- ('warn': the domain's windows, :warn_states[i] warned of :warn_windows[i] before it ends, from
-- domain.holds.HoldPolicy.warnings); and returns whose notice has ended ('pay'). Nothing is locked:
-- each is done in its own transaction, which asks the domain again under its locks (warn_due,
-- notice_ended, lapse), so replicas may race for the same hold safely. The live states are named
-- here so the planner sees the partial expiry index applies; a test checks them against the domain.
(SELECT 'lapse' AS action, case_id, bank_code, account_number FROM holds
 WHERE state IN ('stopped', 'frozen') AND expires_at <= stopay_now()
 ORDER BY expires_at LIMIT :batch)
UNION ALL
(SELECT 'warn', h.case_id, h.bank_code, h.account_number FROM holds h
 JOIN unnest(:warn_states::text[], :warn_windows::interval[]) AS w(state, warn_window) ON w.state = h.state
 WHERE h.state IN ('stopped', 'frozen') AND h.warned_at IS NULL
   AND h.expires_at > stopay_now() AND h.expires_at <= stopay_now() + w.warn_window
 ORDER BY h.expires_at LIMIT :batch)
UNION ALL
(SELECT 'pay', case_id, bank_code, account_number FROM holds
 WHERE state = 'returning' AND return_paid_at IS NULL AND return_due_at <= stopay_now()
 ORDER BY return_due_at LIMIT :batch)
