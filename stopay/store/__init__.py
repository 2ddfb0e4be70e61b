"""PostgreSQL through asyncpg: migrations, the SQL files and the repositories that run them."""
