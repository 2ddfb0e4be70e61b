-- The role this connection acts as.
SELECT current_user
