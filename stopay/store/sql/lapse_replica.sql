-- The replica :owner stops: it serves no bank from now on (its row stays, lapsed, so that the banks it
-- served wait for the delivery deadline rather than being given up at once; see
-- give_up_unserved.sql).
UPDATE dispatch_replicas SET alive_until = least(alive_until, stopay_now()) WHERE owner = :owner
