INSERT INTO ceiling_entries (entry_id, body) VALUES ($1, $2)
