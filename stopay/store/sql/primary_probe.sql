-- Whether the server of this session takes writes (store/primary.py): a primary, neither a standby
-- in recovery nor set read-only. It is what target_session_attrs=read-write asks of each host.
SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'
