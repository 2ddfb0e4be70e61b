"""Bank answers, applied to the trail: shared by the dispatcher (answers to its requests) and the
bank gateway (answers that banks call back with)."""
