-- Records that the migration :version (:name, its file's SHA-256 :checksum) was applied.
INSERT INTO stopay_migrations (version, name, checksum) VALUES (:version, :name, :checksum)
