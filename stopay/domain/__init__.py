"""Pure domain code: money, accounts, entries and the order state machine. No I/O lives here."""
