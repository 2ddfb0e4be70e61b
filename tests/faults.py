"""Faults put into the real database for tests: it refuses a value as it refuses a NUL."""

from __future__ import annotations

import asyncpg

UNSTORABLE = "unstorable"


async def refuse_bank_reference(pool: asyncpg.Pool) -> None:
    """From now on, the database refuses to store a bank answer whose bank_reference is
    :data:`UNSTORABLE`, with the SQLSTATE (22P05) it gives for a NUL character."""
    await pool.execute("""
        CREATE FUNCTION refuse_reference() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.bank_reference = 'unstorable' THEN
                RAISE EXCEPTION 'unsupported Unicode escape sequence' USING ERRCODE = '22P05';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_reference BEFORE INSERT ON bank_answers
            FOR EACH ROW EXECUTE FUNCTION refuse_reference();
    """)
