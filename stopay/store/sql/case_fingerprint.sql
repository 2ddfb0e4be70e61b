-- The payload digest of an accepted case, to tell a retry from a conflicting reuse of entry_id.
SELECT payload_sha256 FROM cases WHERE case_id = :case_id
